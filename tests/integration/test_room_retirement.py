"""Leaving done purpose rooms (issue #17, "bounded growth over a year"), against the real
Synapse: the bot's chat side as the app wires it (tests/support/retirement_bot.py), with the
bot's account behind a real nio client. A "restart" closes that client and logs in again on
the same store, as a new process would.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from nio import RoomMessage

from bot.devserver import LocalSynapse
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.coffee import CoffeeStore
from bot.store.db import Database
from tests.support.bot_process import dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import ask
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.retirement_bot import DAY_S, KEY, RetirementBot, coffee_pair
from tests.support.seed import COLLEAGUES, seed_colleagues

WINDOW_S = 40.0


async def matched_and_asked(
    bot: RetirementBot, db: Database, alice: MatrixUser, bob: MatrixUser
) -> str:
    """The pair's room is made, both join, the real follow-up arrives; the room id."""
    await coffee_pair(db, [alice.user_id, bob.user_id])
    await bot.messenger.open_room(
        KEY,
        name=Say("coffee.room.name", {"names": "Alice & Bob"}),
        invite=[alice.user_id, bob.user_id],
        intro=Say(
            "kitchen.break.intro", {"first": alice.user_id, "second": bob.user_id, "minutes": 15}
        ),
        effect_key=f"{KEY}:intro",
    )
    assert await FollowUps(db, bot.messenger).send_due() == 1
    await bot.settled()
    room_id = await bot.directory.purpose_room(KEY)
    assert room_id is not None
    for person in (alice, bob):
        await person.wait_for_message(room_id, sender=bot.user.user_id, timeout=30)  # intro
        await person.wait_for_message(room_id, sender=bot.user.user_id, timeout=30)  # follow-up
    return room_id


def room_keys(bot: RetirementBot, room_id: str) -> list[str]:
    """The room's megolm sessions in the crypto store, as nio loads them at start."""
    store = bot.user.client.store
    assert store is not None
    return [s.id for s in store.load_inbound_group_sessions() if s.room_id == room_id]


async def bot_messages_after(person: MatrixUser, room_id: str, bot_id: str, wait_s: float) -> int:
    before = len(person.messages_from(bot_id, room_id))
    await asyncio.sleep(wait_s)
    return len(person.messages_from(bot_id, room_id)) - before


def notices(person: MatrixUser, room_id: str, bot_id: str) -> list[str]:
    return [e.body for e in person.messages_from(bot_id, room_id) if isinstance(e, RoomMessage)]


async def test_room_is_left_after_the_follow_up_is_answered(
    synapse: LocalSynapse, make_user: MakeUser, db: Database, tmp_path: Path
) -> None:
    """Both answer: the next run leaves and forgets the room; Alice and Bob are still in it,
    told nothing; what a service addresses to it afterwards fails instead of arriving."""
    alice, bob = await make_user("alice"), await make_user("bob")
    bot = await RetirementBot.start(synapse, unique_localpart("flurfunk"), tmp_path, db)
    try:
        room_id = await matched_and_asked(bot, db, alice, bob)
        followups = FollowUps(db, bot.messenger)
        await followups.on_reaction(alice.user_id, f"{KEY}:followup", "👍", False)
        await bot.retirement.run()
        assert room_id in await bot.joined_rooms()  # Bob has not answered yet
        await followups.on_reaction(bob.user_id, f"{KEY}:followup", "👍", False)
        assert room_keys(bot, room_id)  # its own session, to read its own messages
        await bot.retirement.run()

        assert room_id not in await bot.joined_rooms()
        assert room_id not in bot.user.client.rooms  # forgotten, also in nio's memory
        assert not room_keys(bot, room_id)  # nor loaded at the next start
        assert await alice.joined_members(room_id) == {alice.user_id, bob.user_id}
        assert len(notices(alice, room_id, bot.user.user_id)) == 2  # intro and follow-up only

        await bot.messenger.post_in_room(KEY, Say("kitchen.break.thanks"), effect_key="late")
        await bot.retirement.run()
        row = await db.fetchone("SELECT status, last_error FROM outbox WHERE key = 'late'")
        assert row is not None and tuple(row) == ("failed", "purpose room retired")
        assert await bot_messages_after(alice, room_id, bot.user.user_id, 3.0) == 0
        # The answers stay in the store for the network statistics.
        assert [m.met for m in await CoffeeStore(db).members(1)] == [True, True]
    finally:
        await bot.stop()


async def test_room_is_left_after_the_follow_up_expires_across_a_restart(
    synapse: LocalSynapse, make_user: MakeUser, db: Database, tmp_path: Path
) -> None:
    """Nobody answers; the bot restarts while the answer window runs and, once it has
    passed, the new process leaves the room. A restart after that brings it back neither
    in the bot's rooms nor in anything sent."""
    alice, bob = await make_user("alice"), await make_user("bob")
    localpart = unique_localpart("flurfunk")
    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        room_id = await matched_and_asked(bot, db, alice, bob)
        await bot.retirement.run()
        assert room_id in await bot.joined_rooms()  # the window is still open
    finally:
        await bot.stop()

    window_s = bot.config.bot.purpose_room_answer_days * DAY_S
    bot = await RetirementBot.start(
        synapse, localpart, tmp_path, db, clock=lambda: time.time() + window_s
    )
    try:
        assert room_id in bot.user.client.rooms
        await bot.retirement.run()
        assert room_id not in await bot.joined_rooms()
        assert await bob.joined_members(room_id) == {alice.user_id, bob.user_id}
    finally:
        await bot.stop()

    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        assert room_id not in bot.user.client.rooms
        assert await FollowUps(db, bot.messenger).send_due() == 0
        await bot.retirement.run()
        assert await bot_messages_after(bob, room_id, bot.user.user_id, 3.0) == 0
        assert len(notices(bob, room_id, bot.user.user_id)) == 2
    finally:
        await bot.stop()


async def test_rooms_where_the_bot_was_left_alone_while_down_are_left_at_start(
    synapse: LocalSynapse, make_user: MakeUser, db: Database, tmp_path: Path
) -> None:
    """Alice leaves a room with the bot while the bot is down: the first run after the
    start hands it to the sync loop's leave-if-alone rule, and the bot is out of it."""
    alice = await make_user("alice")
    localpart = unique_localpart("flurfunk")
    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        room_id = await alice.open_dm(bot.user.user_id)
        assert (await bot.user.client.join(room_id)).room_id == room_id
        assert room_id in await bot.joined_rooms()
    finally:
        await bot.stop()
    await alice.client.room_leave(room_id)

    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        assert room_id in bot.user.client.rooms  # still joined after the first sync
        await bot.retirement.run()
        assert room_id not in await bot.joined_rooms()
    finally:
        await bot.stop()


async def test_nothing_is_asked_in_a_room_everybody_left(
    synapse: LocalSynapse, make_user: MakeUser, db: Database, tmp_path: Path
) -> None:
    """Alice and Bob leave their room before the follow-up is due, while the bot is down:
    at start the bot leaves it too (alone), after the next restart it knows it is out of the
    room, the follow-up is not asked, and a late post fails instead of waiting forever."""
    alice, bob = await make_user("alice"), await make_user("bob")
    localpart = unique_localpart("flurfunk")
    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        await coffee_pair(db, [alice.user_id, bob.user_id], due=time.time() + DAY_S)
        await bot.messenger.open_room(
            KEY,
            name=Say("coffee.room.name", {"names": "Alice & Bob"}),
            invite=[alice.user_id, bob.user_id],
            intro=Say("kitchen.break.thanks"),
            effect_key=f"{KEY}:intro",
        )
        await bot.settled()
        room_id = await bot.directory.purpose_room(KEY)
        assert room_id is not None
        await alice.wait_for_message(room_id, sender=bot.user.user_id, timeout=30)
    finally:
        await bot.stop()
    for person in (alice, bob):
        await person.client.room_leave(room_id)

    bot = await RetirementBot.start(synapse, localpart, tmp_path, db)
    try:
        await bot.retirement.run()  # alone: left by the sync loop's rule
        assert room_id not in await bot.joined_rooms()
    finally:
        await bot.stop()

    later = time.time() + 2 * DAY_S
    bot = await RetirementBot.start(synapse, localpart, tmp_path, db, clock=lambda: later)
    try:
        await bot.retirement.run()
        assert await FollowUps(db, bot.messenger, clock=lambda: later).send_due() == 0
        assert await bot.outbox.status(f"{KEY}:followup") is None
        await bot.messenger.post_in_room(KEY, Say("kitchen.break.thanks"), effect_key="late")
        await bot.retirement.run()
        assert await bot.outbox.status("late") == "failed"
    finally:
        await bot.stop()


async def test_the_running_bot_leaves_a_rounds_rooms_answered_and_expired(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    """End to end with the bot as a process: `!admin runde` makes two pairs; one pair answers
    the follow-up with 👍 and the bot leaves their room; the bot restarts; the other pair
    never answers and the bot leaves once the answer window ran out. Both pairs keep their
    rooms and get nothing but introduction and follow-up."""
    users = {name: await make_user(name) for name in list(COLLEAGUES)[:4]}
    admin = await make_user("admin")
    bot = make_bot(
        config={
            "bot": {
                "admins": [admin.user_id],
                "purpose_room_answer_days": WINDOW_S / DAY_S,
                "purpose_room_check_s": 1,
            },
            "coffee": {"enabled": False, "check_interval_s": 1, "followup_after_days": 8 / DAY_S},
        }
    )
    await seed_colleagues(bot.database, {n: users[n].user_id for n in users})
    await bot.start_and_wait()
    admin_dm = await dm_with_bot(admin, bot)
    await ask(admin, bot, admin_dm, "!admin runde", "läuft")
    rooms = {name: await user.wait_for_invite(timeout=60) for name, user in users.items()}
    pairs = [[n for n in users if rooms[n] == room] for room in dict.fromkeys(rooms.values())]
    assert sorted(len(p) for p in pairs) == [2, 2]
    answering, silent = pairs

    def is_followup(message: RoomMessage) -> bool:
        return "Haben Sie sich getroffen" in message.body

    for name in answering:
        room = rooms[name]
        question = await users[name].wait_for_message(room, is_followup, timeout=60)
        await users[name].react(room, question.event_id, "👍")
    first = users[answering[0]]
    await until_left(first, rooms[answering[0]], bot.user_id, 60)
    assert await first.joined_members(rooms[answering[0]]) == {users[n].user_id for n in answering}

    bot.stop()
    await bot.start_and_wait()
    quiet = users[silent[0]]
    await quiet.wait_for_message(rooms[silent[0]], is_followup, timeout=60)
    assert bot.user_id in await quiet.joined_members(rooms[silent[0]])  # the window is still open
    await until_left(quiet, rooms[silent[0]], bot.user_id, WINDOW_S + 60)
    assert await quiet.joined_members(rooms[silent[0]]) == {users[n].user_id for n in silent}
    await asyncio.sleep(3)
    for name, user in users.items():
        assert len(user.messages_from(bot.user_id, rooms[name])) == 2, name  # intro, follow-up


async def until_left(person: MatrixUser, room_id: str, bot_id: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while bot_id in await person.joined_members(room_id):
        assert time.monotonic() < deadline, f"the bot is still in {room_id}"
        await asyncio.sleep(0.5)
