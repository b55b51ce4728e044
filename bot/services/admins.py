"""Notices for the administrators, in `bot.admin_room`: a suggestion to review, what retention
did or held back. Without an admin room configured there is nobody to tell, and the notice is
dropped; the action it reports happens either way."""

from __future__ import annotations

from bot.config import Config
from bot.services.ports import Messenger, Say


async def post_to_admins(
    messenger: Messenger, config: Config, message: Say, *, effect_key: str
) -> None:
    room = config.bot.admin_room
    if room is not None:
        await messenger.post(room, message, effect_key=effect_key)
