"""The sync loop, the outbox sender and read-only mode when what is around them fails: a
store locked by another process, a homeserver that drops a connection, a back-fill that
reaches old commands, a restart during read-only mode, an upgraded crisis room (review
findings S-08, S-09, S-13, S-14, S-24).

The real `SyncLoop`, `OutboxSender` and `ReadOnlyMode` run against the dispatcher of the
security harness (real handlers, a temporary store) and a fake nio client that plays
scripted sync responses (tests/support/chat_fakes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio import Event, MatrixRoom

from bot.chat.health import Metrics
from bot.chat.readonly import ReadOnlyMode, pending_file
from bot.chat.roles import RoleResolver
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS
from bot.config import Config
from bot.domain.roles import Role
from bot.store.bot_state import BotState
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from bot.store.rooms import RoomDirectory
from tests.support.chat_fakes import (
    Homeserver,
    connect,
    dm_invite,
    fast_config,
    running,
    sender_for,
    sync_loop,
    sync_response,
)
from tests.support.harness import (
    CRISIS,
    CRISIS_ROOM,
    SERVER,
    SHARED_ROOM,
    STAFF,
    Harness,
    dm,
)

DAY_MS = 86_400_000
NEWBIE = f"@neu:{SERVER}"
NEW_DM = f"!dm-neu:{SERVER}"


def event(event_id: str, sender: str, ts: int, **content: Any) -> dict[str, Any]:
    if "membership" in content:
        return {
            "type": "m.room.member",
            "event_id": event_id,
            "sender": sender,
            "state_key": sender,
            "origin_server_ts": ts,
            "content": content,
        }
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": ts,
        "content": {"msgtype": "m.text", **content},
    }


def record_dispatched(bot: Harness) -> list[str]:
    """The IDs of the events the sync loop hands to the dispatcher."""
    seen: list[str] = []
    handle = bot.dispatcher.on_event

    async def recording(room: MatrixRoom, event: Event) -> None:
        seen.append(event.event_id)
        await handle(room, event)

    bot.dispatcher.on_event = recording  # type: ignore[method-assign]
    return seen


async def hold_lock(db: Database, seconds: float, taken: asyncio.Event) -> None:
    async with db.transaction("test") as conn:
        await conn.execute("INSERT INTO bot_state (key, value) VALUES ('held', '1')")
        taken.set()
        await asyncio.sleep(seconds)


async def impatient(db: Database) -> None:
    """The bot side gives up on a lock after 0.2 s (instead of 30)."""
    await db.conn.execute("PRAGMA busy_timeout = 50")
    db.busy_retry_s = 0.2


async def welcomed(bot: Harness, room_id: str) -> bool:
    row = await bot.db.fetchone(
        "SELECT 1 FROM processed_events WHERE event_id = ?", (f"joined:{room_id}",)
    )
    return row is not None


# -- S-08: a store locked by another process --------------------------------------------


async def test_the_sync_loop_outlives_a_locked_store(tmp_path: Path) -> None:
    """S-08: another process (an import) holds the write lock longer than the bot waits
    while the loop stores its sync position: the loop logs it, goes on, and stores the
    position with a later batch instead of ending the process."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        await impatient(bot.db)
        other = Database(bot.db.path)
        await other.open()
        taken = asyncio.Event()
        holders: list[asyncio.Task[None]] = []

        async def locked() -> dict[str, Any]:
            holders.append(asyncio.create_task(hold_lock(other, 1.0, taken)))
            await taken.wait()
            return sync_response("s2")

        async def unlocked() -> dict[str, Any]:
            await holders[0]
            return sync_response("s3")

        home.script = [sync_response("s1"), locked, unlocked]
        try:
            async with running(sync_loop(bot, home), home):
                assert home.since[-1] == "s3"
                assert await BotState(bot.db).get("next_batch") == "s3"
        finally:
            await other.close()


async def test_the_sender_outlives_a_locked_store(tmp_path: Path) -> None:
    """S-08: the sender cannot mark a delivered message as sent while another process
    holds the lock: it keeps running and marks it once the lock is free (the repeated send
    carries the same transaction ID, which the homeserver de-duplicates)."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.add_room(SHARED_ROOM)
        await bot.outbox.enqueue(
            "test:notice", "message", "room", SHARED_ROOM, {"content": {"body": "Hallo"}}
        )
        await impatient(bot.db)
        other = Database(bot.db.path)
        await other.open()
        taken = asyncio.Event()
        holder = asyncio.create_task(hold_lock(other, 1.0, taken))
        await taken.wait()
        sender = sender_for(bot, home)
        task = asyncio.create_task(sender.run())
        try:
            deadline = time.monotonic() + 10
            while await bot.outbox.status("test:notice") != "sent":
                assert not task.done(), task.exception()
                assert time.monotonic() < deadline, "never marked sent"
                await asyncio.sleep(0.05)
            assert not task.done()
            assert home.sent and {tx for _, _, tx in home.sent} == {home.sent[0][2]}
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await holder
            await other.close()


# -- S-09: the back-fill after downtime ---------------------------------------------------


async def test_the_back_fill_stops_at_the_last_saved_sync(tmp_path: Path) -> None:
    """S-09, appendix H: the bot ran for long (`processed_events` pruned), stopped, and
    60 members joined the crisis room while it was down. The back-filled page also reaches
    a 40-day-old `!werkennt`: it is not handed to the dispatcher again (no new request)."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        now_ms = int(time.time() * 1000)
        state = BotState(bot.db)
        await state.set("first_start_ms", str(now_ms - 100 * DAY_MS))
        await state.set("next_batch", "s0")
        home = connect(bot)
        home.script = [sync_response("s1")]
        async with running(sync_loop(bot, home), home):
            pass  # ran and stored its position; then the bot is stopped

        fresh = int(time.time() * 1000)
        old_id = "$werkennt-40-tage"
        members = [
            event(f"$member{i}", f"@person{i}:{SERVER}", fresh - i, membership="join")
            for i in range(60)
        ]
        old = event(old_id, CRISIS, fresh - 40 * DAY_MS, body="!werkennt dringend Notstrom")
        home = connect(bot)
        home.add_room(CRISIS_ROOM, CRISIS)
        home.pages["gap"] = ([*members, old], "older")  # newest first, as the server sends
        timeline = {
            "events": [event("$now", STAFF, fresh + 1, body="Guten Morgen")],
            "limited": True,
            "prev_batch": "gap",
        }
        home.script = [sync_response("s2", join={CRISIS_ROOM: {"timeline": timeline}})]
        dispatched = record_dispatched(bot)
        async with running(sync_loop(bot, home), home):
            pass
        assert "$now" in dispatched and "$member0" in dispatched
        assert old_id not in dispatched
        assert await bot.db.fetchall("SELECT id FROM crisis_requests") == []


# -- S-13: network errors around invites and DMs ----------------------------------------


@pytest.mark.parametrize("failing", ["join", "m.direct PUT", "dm_joined hook"])
async def test_a_failed_dm_join_does_not_end_the_sync_loop(tmp_path: Path, failing: str) -> None:
    """S-13: a connection error while joining a DM, while writing `m.direct`, or an
    exception in a `dm_joined` hook is logged; the loop goes on, and the join is done on
    the next sync."""
    raised: list[str] = []

    async def hook_fails_once(ctx: CommandContext) -> None:
        if not raised:
            raised.append(ctx.room_id)
            raise RuntimeError("hook failed")

    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        if failing == "dm_joined hook":
            HOOKS.dm_joined.insert(0, hook_fails_once)
        else:
            home.fail[failing] = 1
        home.script = [
            sync_response("s1", invite={NEW_DM: dm_invite(NEWBIE)}),
            sync_response("s2"),
        ]
        try:
            async with running(sync_loop(bot, home), home):
                assert await bot.direct.directory.dm_room(NEWBIE) == NEW_DM
                assert home.direct[NEWBIE] == [NEW_DM]
                assert await welcomed(bot, NEW_DM)
                assert home.fail.get(failing, 0) == 0
        finally:
            if hook_fails_once in HOOKS.dm_joined:
                HOOKS.dm_joined.remove(hook_fails_once)
        if failing == "dm_joined hook":
            assert raised == [NEW_DM]


# -- S-14: a restart during read-only mode ----------------------------------------------


def read_only_mode(bot: Harness, home: Homeserver) -> ReadOnlyMode:
    readonly = ReadOnlyMode(
        home,
        bot.config,
        bot.db,
        bot.direct,
        bot.messenger.language_of,
        Metrics(),
    )
    bot.dispatcher.readonly = readonly
    return readonly


@contextlib.asynccontextmanager
async def restarted(path: Path, cfg: Config) -> AsyncIterator[Harness]:
    """The bot after a restart: new objects on the same store, which takes writes again."""
    db = Database(path)
    await db.open()
    try:
        yield Harness(db, cfg)
    finally:
        await db.close()


async def test_a_command_refused_in_read_only_mode_is_not_run_after_a_restart(
    tmp_path: Path,
) -> None:
    """S-14: a command refused while the store could not be written ("nothing was
    carried out") is replayed after a restart from the older sync token: it must not be
    carried out then, although the store takes writes again."""
    cfg = fast_config()
    async with Harness.open(tmp_path, cfg) as bot:
        home = connect(bot)
        read_only_mode(bot, home)
        await bot.db.conn.execute("PRAGMA query_only = ON")  # SQLITE_READONLY on every write
        assert await bot.say(STAFF, dm(STAFF), "!profil abteilung Bauamt") == []
        [(_, notice, _)] = home.sent
        assert "Lesemodus" in notice["body"]
        side_file = pending_file(bot.db)
        assert side_file is not None and side_file.exists()
        path = bot.db.path
    assert isinstance(path, Path)

    async with restarted(path, cfg) as bot:
        home = connect(bot)
        readonly = read_only_mode(bot, home)
        await readonly.resume()
        replies = await bot.say(STAFF, dm(STAFF), "!profil abteilung Bauamt")  # the same $ev1
        assert replies == []
        assert await ProfileRepository(bot.db).get(STAFF) is None
        assert not side_file.exists()  # settled
        # A new command afterwards is carried out as usual.
        replies = await bot.say(STAFF, dm(STAFF), "!profil abteilung Bauamt")
        assert replies
        profile = await ProfileRepository(bot.db).get(STAFF)
        assert profile is not None and profile.department == "Bauamt"


async def test_a_dm_join_put_off_in_read_only_mode_is_done_after_a_restart(
    tmp_path: Path,
) -> None:
    """S-14: joining a DM while the store cannot be written is put off; a restart before
    the store recovers must not lose it (the DM would never be recorded)."""
    cfg = fast_config()
    async with Harness.open(tmp_path, cfg) as bot:
        home = connect(bot)
        readonly = read_only_mode(bot, home)
        await BotState(bot.db).set("first_start_ms", "1")  # the bot has run before
        await BotState(bot.db).set("next_batch", "s0")
        await bot.db.conn.execute("PRAGMA query_only = ON")
        home.script = [sync_response("s1", invite={NEW_DM: dm_invite(NEWBIE)})]
        async with running(sync_loop(bot, home, readonly=readonly), home):
            assert home.joined == [NEW_DM]
        path = bot.db.path
    assert isinstance(path, Path)

    async with restarted(path, cfg) as bot:
        home = connect(bot)
        readonly = read_only_mode(bot, home)
        sync_loop(bot, home, readonly=readonly)  # registers what read-only mode put off
        await readonly.resume()
        assert await bot.direct.directory.dm_room(NEWBIE) == NEW_DM
        assert await welcomed(bot, NEW_DM)
        side_file = pending_file(bot.db)
        assert side_file is not None and not side_file.exists()


# -- S-24: configured rooms follow an upgrade --------------------------------------------


async def test_the_crisis_room_follows_its_upgrade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S-24: the configured crisis room is upgraded (tombstone): the crisis role then
    comes from the new room's members, posts to the crisis room go to the new room, this
    survives a restart, and the log tells the operator to update `crisis.room`."""
    new_room = f"!krisenstab-neu:{SERVER}"
    joined_new = f"@neu-im-stab:{SERVER}"
    stayed_behind = f"@alt-im-stab:{SERVER}"
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.add_room(CRISIS_ROOM, CRISIS, stayed_behind)
        home.add_room(new_room, joined_new)
        rooms = RoomDirectory(bot.db)
        roles = RoleResolver(home, [], [], CRISIS_ROOM, rooms.upgrades)
        for room_id in (CRISIS_ROOM, new_room):  # both closed (S-03)
            roles.observe(room_id, "m.room.join_rules", {"join_rule": "invite"})
            roles.observe(room_id, "m.room.power_levels", {"invite": 50})
        assert Role.CRISIS in roles.roles_of(stayed_behind)
        tombstone = {
            "type": "m.room.tombstone",
            "state_key": "",
            "sender": CRISIS,
            "event_id": "$tombstone",
            "origin_server_ts": int(time.time() * 1000),
            "content": {"body": "upgraded", "replacement_room": new_room},
        }
        home.script = [sync_response("s1", join={CRISIS_ROOM: {"state": {"events": [tombstone]}}})]
        loop = sync_loop(bot, home, rooms=rooms)
        with caplog.at_level(logging.WARNING, logger="bot.chat.sync"):
            async with running(loop, home):
                pass
        assert home.joined == [new_room]
        assert Role.CRISIS in roles.roles_of(joined_new)
        assert Role.CRISIS not in roles.roles_of(stayed_behind)
        assert roles.crisis_room == new_room
        assert any(
            "crisis.room" in r.getMessage() and new_room in r.getMessage() for r in caplog.records
        )

        await bot.outbox.enqueue(
            "test:status", "message", "room", CRISIS_ROOM, {"content": {"body": "Lage"}}
        )
        sender = sender_for(bot, home, rooms)
        [item] = await bot.outbox.due()
        await sender._try(item)
        assert [room for room, _, _ in home.sent] == [new_room]

        restarted_rooms = RoomDirectory(bot.db)
        await restarted_rooms.load_upgrades()
        roles = RoleResolver(
            home,
            [],
            [],
            CRISIS_ROOM,
            restarted_rooms.upgrades,
        )
        roles.observe(new_room, "m.room.join_rules", {"join_rule": "invite"})
        roles.observe(new_room, "m.room.power_levels", {"invite": 50})
        assert Role.CRISIS in roles.roles_of(joined_new)


async def test_the_sync_position_is_stored_at_most_once_a_second_and_at_the_stop(
    tmp_path: Path,
) -> None:
    """A fan-out makes a sync for every echo of the bot's own messages: the position is not
    written for each of them (a restart from a slightly older one only replays handled
    events), and the newest is stored when the bot stops."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        state = BotState(bot.db)
        home = connect(bot)
        home.script = [sync_response(f"s{i}") for i in range(1, 31)]
        loop = sync_loop(bot, home)
        writes: list[str] = []
        save = loop.state.save_sync_position

        async def counted(token: str, at_ms: int) -> None:
            writes.append(token)
            await save(token, at_ms)

        loop.state.save_sync_position = counted  # type: ignore[method-assign]
        started = time.monotonic()
        async with running(loop, home):
            pass
        elapsed = time.monotonic() - started
        assert writes[0] == "s1"  # the first batch is stored at once
        assert len(writes) <= 2 + elapsed, (writes, elapsed)
        await loop.save_position()
        assert (await state.sync_position())[0] == "s30"
