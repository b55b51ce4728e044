"""Leaving a done purpose room never strands an open invitation (issue #17), against the
real Synapse: the bot stays while somebody is only invited, at most for the answer window,
and the invitation still works after it left."""

from __future__ import annotations

import time
from pathlib import Path

from nio import JoinResponse

from bot.devserver import LocalSynapse
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.db import Database
from tests.support.fixtures import MakeUser
from tests.support.matrix_user import unique_localpart
from tests.support.retirement_bot import DAY_S, KEY, RetirementBot, coffee_pair


async def test_the_bot_stays_while_an_invitation_is_open(
    synapse: LocalSynapse, make_user: MakeUser, db: Database, tmp_path: Path
) -> None:
    alice, bob = await make_user("alice"), await make_user("bob", accept_invites=False)
    window_s = 0.0
    bot = await RetirementBot.start(
        synapse, unique_localpart("flurfunk"), tmp_path, db, clock=lambda: time.time() + window_s
    )
    try:
        group_id = await coffee_pair(db, [alice.user_id, bob.user_id])
        await bot.messenger.open_room(
            KEY,
            name=Say("coffee.room.name", {"names": "Alice & Bob"}),
            invite=[alice.user_id, bob.user_id],
            intro=Say("kitchen.break.thanks"),
            effect_key=f"{KEY}:intro",
        )
        followups = FollowUps(db, bot.messenger)
        assert await followups.send_due() == 1
        await bot.settled()
        room_id = await bot.directory.purpose_room(KEY)
        assert room_id is not None
        await alice.wait_for_message(room_id, sender=bot.user.user_id, timeout=30)
        # Both answered (Bob by `!getroffen` in his DM): done, but Bob is only invited.
        await followups.on_reaction(alice.user_id, f"{KEY}:followup", "👍", False)
        await followups.answer_by_text(bob.user_id, "!his-dm:x", True)
        assert {m.met for m in await followups.store.members(group_id)} == {True}
        await bot.retirement.run()
        assert room_id in await bot.joined_rooms()

        window_s = bot.config.bot.purpose_room_answer_days * DAY_S
        await bot.retirement.run()
        assert room_id not in await bot.joined_rooms()
        assert isinstance(await bob.client.join(room_id), JoinResponse)
        assert await alice.joined_members(room_id) == {alice.user_id, bob.user_id}
    finally:
        await bot.stop()
