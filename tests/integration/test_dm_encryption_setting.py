"""`bot.encrypted_direct_chats` decides whether a DM the bot opens itself is encrypted,
against a real Synapse: a crisis request makes the bot open a DM with a bridge person who
never wrote to it, and the homeserver's record of that room says whether it is encrypted.
With `false` (for clients that cannot encrypt) the person's client must be able to read it.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.bot_process import dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.homeserver import Homeserver, until
from tests.support.live import quick_crisis
from tests.support.seed import seed_contacts

TIMEOUT = 30.0


@pytest.mark.parametrize("encrypted", [True, False])
async def test_a_dm_the_bot_opens_follows_the_setting(
    make_bot: MakeBot, make_user: MakeUser, homeserver: Homeserver, encrypted: bool
) -> None:
    chief = await make_user("chief")
    [bridge] = await asyncio.to_thread(homeserver.register_many, "bruecke", 1)
    bot = make_bot(
        config={
            "bot": {"encrypted_direct_chats": encrypted},
            "crisis": quick_crisis(staff=[chief.user_id]),
        }
    )
    await seed_contacts(bot.database, [(bridge, "Tafel Pirna", "Soziale Träger")])
    await bot.start_and_wait()
    chief_dm = await dm_with_bot(chief, bot)
    await chief.send_text(chief_dm, "!werkennt Wer kennt jemanden bei der Tafel? Brot")

    async def dm_opened() -> bool:
        return bridge in await homeserver.rooms_with_members(bot.user_id)

    await until(dm_opened, TIMEOUT, "the bot to open a DM with the bridge person")
    [room_id] = (await homeserver.rooms_with_members(bot.user_id))[bridge]
    state = await homeserver.state(room_id)
    assert any(e["type"] == "m.room.encryption" for e in state) is encrypted
