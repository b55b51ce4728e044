"""Rooms named in the config that were upgraded: the bot follows them (`RoomUpgrades`) and
tells the operator to put the new room into the config (review finding S-24)."""

from __future__ import annotations

import logging

from bot.config import Config
from bot.store.rooms import RoomUpgrades

log = logging.getLogger(__name__)


def configured_rooms(config: Config) -> dict[str, list[str]]:
    """Room ID -> the settings that name it (to tell the operator when it was upgraded)."""
    named: dict[str, list[str]] = {}
    settings: list[tuple[str, list[str | None]]] = [
        ("crisis.room", [config.crisis.room]),
        ("bot.admin_room", [config.bot.admin_room]),
        ("hospitation.announcement_rooms", list(config.hospitation.announcement_rooms)),
        ("kitchen.rooms", list(config.kitchen.rooms)),
    ]
    for setting, room_ids in settings:
        for room_id in room_ids:
            if room_id and setting not in named.get(room_id, []):
                named.setdefault(room_id, []).append(setting)
    return named


def warn_about_upgraded_config(configured: dict[str, list[str]], upgrades: RoomUpgrades) -> None:
    """Log, per configured room that was upgraded, that the bot uses the new room and the
    config should name it."""
    for room_id, settings in configured.items():
        current = upgrades.current(room_id)
        if current != room_id:
            log.warning(
                "%s names room %s, which was upgraded to %s: Flurfunk uses the new room; "
                "please put %s into the config",
                " and ".join(settings),
                room_id,
                current,
                current,
            )
