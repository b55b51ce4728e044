"""Strangers on the own homeserver, and rooms the bot is alone in (review finding S-22).

`homeserver.denied_localparts` (regular expressions on the part between `@` and `:`) makes
bridge puppets and guests on an allowed homeserver strangers: no answer, no trace, their
invites refused. The bot leaves a room once the last other member has left (never a room
named in the config), forgets the room on the homeserver, and forgets a DM it leaves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nio import RoomForgetResponse, RoomLeaveResponse

from bot.chat.rooms import InviteGate
from bot.config import ConfigError
from tests.support.chat_fakes import Homeserver, running, sync_loop
from tests.support.chat_fakes import sync_response as sync_body
from tests.support.harness import (
    CRISIS,
    CRISIS_ROOM,
    SERVER,
    SHARED_ROOM,
    STAFF,
    Harness,
    dm,
    harness_config,
)

PUPPET = f"@whatsapp_4915112345:{SERVER}"
DENIED = ["^whatsapp_", "^guest-"]


def with_denied() -> Any:
    return harness_config(homeserver={"denied_localparts": DENIED})


@dataclass
class Leaving(Homeserver):
    """Records the rooms the bot leaves and forgets; no crypto store, like a fresh client."""

    left: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    olm: None = None
    store: None = None

    async def room_leave(self, room_id: str) -> RoomLeaveResponse:
        self.left.append(room_id)
        return RoomLeaveResponse()

    async def room_forget(self, room_id: str) -> RoomForgetResponse:
        self.forgotten.append(room_id)
        return RoomForgetResponse(room_id)


def leaving(bot: Harness) -> Leaving:
    home = Leaving(rooms=bot.client.rooms)
    bot.direct.client = home
    return home


def left(user: str, n: int) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "event_id": f"$leave{n}",
        "sender": user,
        "state_key": user,
        "origin_server_ts": int(time.time() * 1000),
        "content": {"membership": "leave"},
    }


async def test_a_bridge_puppet_is_a_stranger(tmp_path: Path) -> None:
    """S-22: a WhatsApp puppet on the own homeserver gets no answer in a shared room nor
    in a DM and leaves no trace; staff are answered as before."""
    async with Harness.open(tmp_path, with_denied()) as bot:
        await bot.add_person(PUPPET)
        assert await bot.say(PUPPET, SHARED_ROOM, "!hilfe") == []
        assert await bot.say(PUPPET, dm(PUPPET), "!profil") == []
        assert await bot.say(PUPPET, dm(PUPPET), "!sprache en") == []
        row = await bot.db.fetchone("SELECT COUNT(*) FROM language_choice")
        assert row is not None and row[0] == 0
        assert await bot.say(STAFF, SHARED_ROOM, "!hilfe") != []


def test_invites_from_denied_localparts_are_refused() -> None:
    """S-22: the invite gate refuses puppets and guests like other homeservers."""
    gate = InviteGate([SERVER], DENIED)
    assert not gate.decide(PUPPET).accept
    assert not gate.decide(f"@guest-17:{SERVER}").accept
    assert gate.decide(STAFF).accept
    assert gate.decide(f"@anna_whatsapp_fan:{SERVER}").accept  # only where the pattern says


def test_a_broken_pattern_is_a_config_error() -> None:
    """S-22: a pattern that is no regular expression stops the start with a clear error."""
    with pytest.raises(ConfigError, match=r"denied_localparts.*no regular expression"):
        harness_config(homeserver={"denied_localparts": ["whatsapp_("]})


async def test_the_bot_leaves_a_room_it_is_alone_in(tmp_path: Path) -> None:
    """S-22: the last person leaves a shared room and the person's DM: the bot leaves both
    and forgets both rooms and the DM record; the configured crisis room it stays in even
    when alone."""
    async with Harness.open(tmp_path) as bot:
        home = leaving(bot)
        home.add_room(SHARED_ROOM, STAFF)
        home.add_room(dm(STAFF), STAFF)
        home.add_room(CRISIS_ROOM, CRISIS)
        # What nio's room state shows after the sync: only the bot is left.
        for room_id, user in ((SHARED_ROOM, STAFF), (dm(STAFF), STAFF), (CRISIS_ROOM, CRISIS)):
            home.rooms[room_id].remove_member(user)  # type: ignore[attr-defined]
        timeline = {
            room_id: {"timeline": {"events": [left(user, n)], "limited": False}}
            for n, (room_id, user) in enumerate(
                ((SHARED_ROOM, STAFF), (dm(STAFF), STAFF), (CRISIS_ROOM, CRISIS))
            )
        }
        home.script = [sync_body("s0"), sync_body("s1", join=timeline)]
        async with running(sync_loop(bot, home), home):
            pass
        assert sorted(home.left) == sorted([SHARED_ROOM, dm(STAFF)])
        # Forgotten, the rooms no longer come with every sync of the bot's account.
        assert home.forgotten == home.left
        assert await bot.direct.directory.dm_room(STAFF) is None


async def test_the_bot_stays_while_somebody_is_invited(tmp_path: Path) -> None:
    """S-22: somebody left, but somebody else is still invited: the bot stays."""
    async with Harness.open(tmp_path) as bot:
        home = leaving(bot)
        room = home.add_room(SHARED_ROOM)
        room.add_member(CRISIS, None, None, invited=True)
        timeline = {SHARED_ROOM: {"timeline": {"events": [left(STAFF, 1)], "limited": False}}}
        home.script = [sync_body("s0"), sync_body("s1", join=timeline)]
        async with running(sync_loop(bot, home), home):
            pass
        assert home.left == []
