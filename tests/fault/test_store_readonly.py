"""A store that cannot be written (disk full, read-only file system, I/O error).

Unit level: SQLite's own "read-only" and "disk full" errors become `StoreUnavailable`, the
connection is never left inside a transaction, and a probe notices when writes work again.

Against a real Synapse: the fault `Faults(store_readonly=marker)` of the test kit (while its
marker file exists every write transaction fails as if the disk were full; `chmod` does not
stop root, which CI runs as) puts the running bot into read-only mode. The admin room hears it,
a command is answered with a clear notice and not carried out, nothing stored before is
lost, a restart during the fault repeats nothing, and when writes work again the bot says
so in the admin room, delivers what was waiting, and takes commands again.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest

from bot.store.db import Database, StoreUnavailable
from bot.store.sqlite_backend import SqliteBackend
from tests.support.faults import Faults, failing_begin
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, q, until
from tests.support.seed import query

# -- unit level: classification and the probe -------------------------------------------


async def test_read_only_database_is_store_unavailable(db: Database) -> None:
    seen: list[StoreUnavailable] = []
    db.on_unavailable.append(seen.append)
    await db.execute("INSERT INTO bot_state (key, value) VALUES ('kept', 'yes')", name="test.seed")
    await db.conn.execute("PRAGMA query_only = ON")  # SQLITE_READONLY on every write
    with pytest.raises(StoreUnavailable):
        async with db.transaction(
            "test.store_readonly.test_read_only_database_is_store_unavailable"
        ) as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('lost', 'no')")
    assert not db.writable and len(seen) == 1
    assert not db.conn.in_transaction
    assert await db.probe() is False
    await db.conn.execute("PRAGMA query_only = OFF")
    assert await db.probe() is True and db.writable
    rows = await db.fetchall("SELECT key FROM bot_state WHERE key IN ('kept', 'lost')")
    assert [r[0] for r in rows] == ["kept"]


async def test_disk_full_is_store_unavailable(db: Database) -> None:
    # A database limited to the pages it has now behaves like a full disk (SQLITE_FULL).
    row = await db.fetchone("PRAGMA page_count")
    assert row is not None
    await db.conn.execute(f"PRAGMA max_page_count = {row[0]}")
    big = "x" * 200_000
    with pytest.raises(StoreUnavailable):
        async with db.transaction(
            "test.store_readonly.test_disk_full_is_store_unavailable"
        ) as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('big', ?)", (big,))
    assert not db.conn.in_transaction
    # Reads still work; small writes that fit still work.
    assert await db.fetchone("SELECT COUNT(*) FROM bot_state") is not None


async def test_fault_marker_fails_every_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "readonly"
    monkeypatch.setattr(Database, "_begin", failing_begin(marker, Database._begin))
    database = Database(tmp_path / "flurfunk.db")
    await database.open()
    try:
        await database.execute(
            "INSERT INTO bot_state (key, value) VALUES ('a', '1')", name="test.write"
        )
        marker.touch()
        with pytest.raises(StoreUnavailable):
            await database.execute(
                "INSERT INTO bot_state (key, value) VALUES ('b', '2')", name="test.write"
            )
        assert await database.probe() is False
        marker.unlink()
        assert await database.probe() is True
    finally:
        await database.close()


def test_a_chmodded_file_is_refused_for_non_root(tmp_path: Path) -> None:
    """What an operator sees with a read-only file: SQLite's own error, classified."""
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files anyway (CI): covered by the fault marker")
    path = tmp_path / "ro.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    path.chmod(0o444)

    async def attempt() -> None:
        database = Database(path)
        # SQLite falls back to opening the file read-only; the first write fails.
        assert isinstance(database._backend, SqliteBackend)
        database._backend._conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            async with database.transaction("test") as conn:
                await conn.execute("INSERT INTO t VALUES (1)")
        finally:
            await database.close()

    with pytest.raises(StoreUnavailable):
        asyncio.run(attempt())


# -- the running bot ---------------------------------------------------------------------

READONLY_REPLY = "nur im Lesemodus"


async def test_bot_in_read_only_mode_refuses_keeps_and_recovers(
    make_bot: MakeBot, homeserver: Homeserver, tmp_path: Path
) -> None:
    marker = tmp_path / "store-readonly"
    admin = homeserver.admin
    room = await homeserver.call(
        "POST",
        "/_matrix/client/v3/createRoom",
        {"name": "Flurfunk-Admin", "preset": "private_chat"},
    )
    admin_room = room["room_id"]
    bot = make_bot(
        config={"bot": {"admin_room": admin_room}},
        faults=Faults(store_readonly=marker),
    )
    await homeserver.call(
        "POST", f"/_matrix/client/v3/rooms/{q(admin_room)}/invite", {"user_id": bot.user_id}
    )
    await bot.start_and_wait()

    async def bot_joined() -> bool:
        state = await homeserver.state(admin_room)
        return any(
            e["type"] == "m.room.member"
            and e["state_key"] == bot.user_id
            and e["content"]["membership"] == "join"
            for e in state
        )

    await until(bot_joined, 30, "the bot in the admin room")
    [user_id] = await asyncio.to_thread(homeserver.register_many, "sachbearbeitung", 1)
    user = await homeserver.puppet(user_id)
    dm = await homeserver.open_dm(user, bot.user_id)
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Flurfunk" in b)
    await homeserver.send_text(user, dm, "!profil abteilung Bauamt")
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Gespeichert" in b)

    def profile() -> list[tuple[object, ...]]:
        return query(
            bot.database,
            "SELECT department, municipality FROM profiles WHERE user_id = ?",
            (user_id,),
        )

    assert profile() == [("Bauamt", None)]
    # A message already queued for later (like a reminder) that comes due during the fault.
    with sqlite3.connect(bot.database, timeout=10) as conn:
        content = {"msgtype": "m.notice", "body": "Erinnerung aus der Warteschlange"}
        conn.execute(
            "INSERT INTO outbox (key, action, target_kind, target, payload, next_attempt_at, "
            "created_at) VALUES ('test:queued', 'message', 'room', ?, ?, ?, ?)",
            (dm, json.dumps({"content": content}), time.time() + 6, time.time()),
        )

    marker.touch()
    refused = await homeserver.send_text(user, dm, "!profil kommune Musterstadt")
    [reply] = await homeserver.wait_for_body(
        user, dm, bot.user_id, lambda b: READONLY_REPLY in b, timeout=30
    )
    assert "nicht" in reply and "gespeichert" in reply
    alert = await homeserver.wait_for_body(
        admin, admin_room, bot.user_id, lambda b: "nicht mehr in seine Datenbank" in b, timeout=30
    )
    assert str(bot.database) in alert[0]
    assert bot.metrics()["flurfunk_store_writable"] == 0

    # A restart while the store is still read-only replays the refused command: answered
    # again with the same transaction ID, so nobody sees a second notice.
    bot.kill()
    bot.start()
    await bot.wait_healthy(timeout=60)
    await asyncio.sleep(8)  # the queued message is due now, and must wait
    bodies = await homeserver.bodies_from(user, dm, bot.user_id)
    assert sum(READONLY_REPLY in b for b in bodies) == 1, bodies
    assert not any("Warteschlange" in b for b in bodies)

    marker.unlink()
    await homeserver.wait_for_body(
        admin, admin_room, bot.user_id, lambda b: "wieder speichern" in b, timeout=30
    )
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Warteschlange" in b)
    assert profile() == [("Bauamt", None)], "the refused command was carried out"
    assert query(bot.database, "SELECT 1 FROM processed_events WHERE event_id = ?", (refused,))
    assert bot.metrics()["flurfunk_store_writable"] == 1

    await homeserver.send_text(user, dm, "!profil kommune Musterstadt")
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Musterstadt" in b)
    assert profile() == [("Bauamt", "Musterstadt")]
    # And a restart now repeats nothing of the fault.
    await asyncio.sleep(6)  # one more sync, so its token is stored
    bot.kill()
    await bot.start_and_wait()
    await asyncio.sleep(4)
    bodies = await homeserver.bodies_from(user, dm, bot.user_id)
    assert sum(READONLY_REPLY in b for b in bodies) == 1, bodies
    assert sum("Musterstadt" in b for b in bodies) == 1, bodies
    assert sum("Warteschlange" in b for b in bodies) == 1, bodies
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == [(0,)]
