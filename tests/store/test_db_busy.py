"""Another process holding the write lock (`flurfunk import-staff` while the bot runs) and
a migration that fails after SQLite rolled back by itself (review findings S-08, S-23).

Two `Database` objects on one file stand for two processes: each has its own connection
(and its own aiosqlite thread), so SQLite's file locking is exactly what it is between
processes. The bot side gets a short `busy_timeout`, so nothing here waits 5 s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.bot_state import BotState
from bot.store.db import Database, StoreBusy, StoreUnavailable, is_busy, migrations

BUSY_TIMEOUT_MS = 100


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """(bot, other process) on the same file; the bot waits at most 100 ms per attempt."""
    bot, other = Database(tmp_path / "flurfunk.db"), Database(tmp_path / "flurfunk.db")
    await bot.open()
    await other.open()
    await bot.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        yield bot, other
    finally:
        await bot.close()
        await other.close()


async def hold_lock(db: Database, seconds: float, taken: asyncio.Event) -> None:
    async with db.transaction("test") as conn:
        await conn.execute("INSERT INTO bot_state (key, value) VALUES ('held', '1')")
        taken.set()
        await asyncio.sleep(seconds)


async def test_a_write_waits_while_another_process_holds_the_lock(
    two: tuple[Database, Database],
) -> None:
    """S-08, appendix G: the other process holds a write transaction far longer than the
    bot's busy_timeout; the bot's `BotState.set("next_batch")` waits (retrying with
    backoff) instead of raising `database is locked`, and is stored once the lock is free."""
    bot, other = two
    taken = asyncio.Event()
    holder = asyncio.create_task(hold_lock(other, 1.5, taken))
    await taken.wait()
    started = time.monotonic()
    await BotState(bot).set("next_batch", "s1")
    waited = time.monotonic() - started
    await holder
    assert waited > 1.0, waited  # it really waited for the other transaction
    assert await BotState(bot).get("next_batch") == "s1"
    assert bot.writable  # busy is not "disk full": no read-only mode


async def test_a_lock_held_too_long_is_store_busy_and_the_store_stays_writable(
    two: tuple[Database, Database],
) -> None:
    """S-08: the retrying is bounded (`busy_retry_s`); then `StoreBusy`, which is no reason
    for read-only mode, and the connection is not left inside a transaction."""
    bot, other = two
    bot.busy_retry_s = 0.3
    unavailable: list[StoreUnavailable] = []
    bot.on_unavailable.append(unavailable.append)
    taken = asyncio.Event()
    holder = asyncio.create_task(hold_lock(other, 1.5, taken))
    await taken.wait()
    started = time.monotonic()
    with pytest.raises(StoreBusy):
        await BotState(bot).set("next_batch", "s1")
    assert 0.3 <= time.monotonic() - started < 1.2
    assert bot.writable and not unavailable and not bot.conn.in_transaction
    await holder
    await BotState(bot).set("next_batch", "s2")
    assert await BotState(bot).get("next_batch") == "s2"


def test_busy_is_recognised_by_error_code_not_by_text() -> None:
    """S-08: classification uses `sqlite_errorcode` (extended codes included)."""

    def error(message: str, code: int | None) -> sqlite3.OperationalError:
        exc = sqlite3.OperationalError(message)
        if code is not None:
            exc.sqlite_errorcode = code
        return exc

    assert is_busy(error("anything", sqlite3.SQLITE_BUSY))
    assert is_busy(error("anything", sqlite3.SQLITE_LOCKED))
    assert is_busy(error("anything", sqlite3.SQLITE_BUSY | (2 << 8)))  # SQLITE_BUSY_SNAPSHOT
    assert not is_busy(error("database is locked", None))
    assert not is_busy(error("database is locked", sqlite3.SQLITE_FULL))


async def test_a_failing_migration_shows_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S-23: SQLITE_FULL rolls the migration's transaction back by itself; the rollback
    after it must not replace the real error with "no transaction is active"."""
    good = migrations()
    full = (
        "PRAGMA max_page_count = 1;\n"  # at most the pages the file has now: a full disk
        "INSERT INTO bot_state (key, value) VALUES ('big', zeroblob(1000000));\n"
    )
    broken = [*good, (len(good) + 1, f"{len(good) + 1:04d}_full.sql", full)]
    db = Database(tmp_path / "f.db")
    await db.open()
    await db.close()
    monkeypatch.setattr("bot.store.db.migrations", lambda *_: broken)
    db = Database(tmp_path / "f.db")
    try:
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await db.open()
        assert not db.conn.in_transaction
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "f.db") as conn:
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == len(good)
