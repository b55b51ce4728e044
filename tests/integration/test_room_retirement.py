"""Leaving done purpose rooms (issue #17, "bounded growth over a year"), against the real
Synapse: the bot's store, outbox sender, follow-up service and `RoomRetirement` as the app
wires them, with the bot's account behind a real nio client. A "restart" closes that client
and logs in again on the same store, as a new process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nio import RoomMessage

from bot.chat.health import Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.room_retirement import RoomRetirement
from bot.chat.rooms import DirectRooms, InviteGate
from bot.chat.sender import OutboxSender
from bot.chat.sync import SyncLoop
from bot.config import Config, parse_config
from bot.devserver import LocalSynapse
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.bot_state import BotState
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import NewGroup, NewMember
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory
from tests.support.bot_process import dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import ask
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.seed import COLLEAGUES, seed_colleagues

DAY_S = 86_400.0
KEY = "coffee:2026-W01/0"
WINDOW_S = 40.0


def bot_config(synapse: LocalSynapse, user_id: str) -> Config:
    return parse_config(
        {
            "homeserver": {
                "url": synapse.url,
                "user_id": user_id,
                "password": "unused",
                "allowed_homeservers": [user_id.split(":", 1)[1]],
            },
            "bot": {"encrypted_direct_chats": False},
        },
        "room retirement test",
        environ={},
    )


@dataclass
class Bot:
    """One run of the bot's chat side on a store that outlives it."""

    user: MatrixUser
    config: Config
    outbox: Outbox
    directory: RoomDirectory
    messenger: ChatMessenger
    retirement: RoomRetirement
    sender_task: asyncio.Task[None]

    @classmethod
    async def start(
        cls,
        synapse: LocalSynapse,
        localpart: str,
        tmp_path: Path,
        db: Database,
        clock: Callable[[], float] = time.time,
    ) -> Bot:
        user = await MatrixUser.create(synapse, localpart, tmp_path, accept_invites=False)
        config = bot_config(synapse, user.user_id)
        client = user.client
        outbox, directory = Outbox(db), RoomDirectory(db)
        direct = DirectRooms(client, directory, encrypted=False)
        sender = OutboxSender(client, outbox, directory, direct, config.outbox, Metrics())

        async def german(_: str) -> Any:
            return None

        messenger = ChatMessenger(outbox, german, "de", sender.wake)
        sync = SyncLoop(
            client=client,
            config=config.sync,
            state=BotState(db),
            rooms=directory,
            direct=direct,
            dispatcher=SimpleNamespace(config=config),  # type: ignore[arg-type]
            invites=InviteGate(config.homeserver.allowed_homeservers, []),
            metrics=Metrics(),
            decrypt_wait_s=0.0,
        )
        retirement = RoomRetirement(
            client,
            directory,
            outbox,
            config,
            leave_if_alone=sync.actions.leave_if_alone,
            clock=clock,
        )
        task = asyncio.create_task(sender.run())
        return cls(user, config, outbox, directory, messenger, retirement, task)

    async def stop(self) -> None:
        self.sender_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sender_task
        await self.user.close()

    async def joined_rooms(self) -> set[str]:
        response = await self.user.client.joined_rooms()
        return set(response.rooms)

    async def settled(self, within_s: float = 30.0) -> None:
        """Until the outbox has nothing pending."""
        deadline = time.monotonic() + within_s
        while (await self.outbox.backlog())[0]:
            assert time.monotonic() < deadline, "outbox still pending"
            await asyncio.sleep(0.2)


async def coffee_pair(db: Database, people: list[str], due: float | None = None) -> int:
    """A stored coffee round with one pair whose follow-up is due then (default: now); the
    group's id."""
    store = CoffeeStore(db)
    round_row = await store.insert_round(
        "coffee",
        "coffee:2026-W01",
        trigger="schedule",
        started_at=time.time(),
        people=2,
        groups=1,
        unmatched=0,
    )
    assert round_row is not None
    members = tuple(NewMember(p, "Amt", "Stadt") for p in people)
    due = time.time() if due is None else due
    group = NewGroup(0, "pair", members, KEY, f"{KEY}:intro", f"{KEY}:followup", due)
    await store.insert_groups(round_row.id, [group], time.time())
    [row] = await store.groups_of_round(round_row.id)
    return row.id


async def matched_and_asked(bot: Bot, db: Database, alice: MatrixUser, bob: MatrixUser) -> str:
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


def room_keys(bot: Bot, room_id: str) -> list[str]:
    """The room's megolm sessions in the crypto store, as nio loads them at start."""
    store = bot.user.client.store
    assert store is not None
    return [s.id for s in store.load_inbound_group_sessions() if s.room_id == room_id]


async def members(person: MatrixUser, room_id: str) -> set[str]:
    response = await person.client.joined_members(room_id)
    return {m.user_id for m in response.members}


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
    bot = await Bot.start(synapse, unique_localpart("flurfunk"), tmp_path, db)
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
        assert await members(alice, room_id) == {alice.user_id, bob.user_id}
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
    bot = await Bot.start(synapse, localpart, tmp_path, db)
    try:
        room_id = await matched_and_asked(bot, db, alice, bob)
        await bot.retirement.run()
        assert room_id in await bot.joined_rooms()  # the window is still open
    finally:
        await bot.stop()

    window_s = bot.config.bot.purpose_room_answer_days * DAY_S
    bot = await Bot.start(synapse, localpart, tmp_path, db, clock=lambda: time.time() + window_s)
    try:
        assert room_id in bot.user.client.rooms
        await bot.retirement.run()
        assert room_id not in await bot.joined_rooms()
        assert await members(bob, room_id) == {alice.user_id, bob.user_id}
    finally:
        await bot.stop()

    bot = await Bot.start(synapse, localpart, tmp_path, db)
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
    bot = await Bot.start(synapse, localpart, tmp_path, db)
    try:
        room_id = await alice.open_dm(bot.user.user_id)
        assert (await bot.user.client.join(room_id)).room_id == room_id
        assert room_id in await bot.joined_rooms()
    finally:
        await bot.stop()
    await alice.client.room_leave(room_id)

    bot = await Bot.start(synapse, localpart, tmp_path, db)
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
    bot = await Bot.start(synapse, localpart, tmp_path, db)
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

    bot = await Bot.start(synapse, localpart, tmp_path, db)
    try:
        await bot.retirement.run()  # alone: left by the sync loop's rule
        assert room_id not in await bot.joined_rooms()
    finally:
        await bot.stop()

    later = time.time() + 2 * DAY_S
    bot = await Bot.start(synapse, localpart, tmp_path, db, clock=lambda: later)
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
    assert await members(first, rooms[answering[0]]) == {users[n].user_id for n in answering}

    bot.stop()
    await bot.start_and_wait()
    quiet = users[silent[0]]
    await quiet.wait_for_message(rooms[silent[0]], is_followup, timeout=60)
    assert bot.user_id in await members(quiet, rooms[silent[0]])  # the window is still open
    await until_left(quiet, rooms[silent[0]], bot.user_id, WINDOW_S + 60)
    assert await members(quiet, rooms[silent[0]]) == {users[n].user_id for n in silent}
    await asyncio.sleep(3)
    for name, user in users.items():
        assert len(user.messages_from(bot.user_id, rooms[name])) == 2, name  # intro, follow-up


async def until_left(person: MatrixUser, room_id: str, bot_id: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while bot_id in await members(person, room_id):
        assert time.monotonic() < deadline, f"the bot is still in {room_id}"
        await asyncio.sleep(0.5)
