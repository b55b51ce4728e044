"""Numbered migrations, one transaction each, and refusal of a newer database."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from bot.store.db import Database, DatabaseTooNew, migrations
from tests.support.postgres import PostgresDatabases


async def test_fresh_database_gets_every_migration(tmp_path: Path) -> None:
    db = Database(tmp_path / "f.db")
    await db.open()
    try:
        assert await db.schema_version() == len(migrations())
        row = await db.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
        row = await db.fetchone("PRAGMA foreign_keys")
        assert row is not None and row[0] == 1
    finally:
        await db.close()


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    for _ in range(2):
        db = Database(path)
        await db.open()
        await db.close()
    with sqlite3.connect(path) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, len(migrations()) + 1))


async def test_database_from_a_newer_flurfunk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    db = Database(path)
    await db.open()
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999)")
    with pytest.raises(DatabaseTooNew, match="999"):
        await Database(path).open()


async def test_failed_migration_leaves_no_half_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = migrations()
    broken = [*good, (len(good) + 1, "9999_broken.sql", "CREATE TABLE half (x);\nNOT SQL;\n")]
    monkeypatch.setattr("bot.store.db.migrations", lambda *_: broken)
    path = tmp_path / "f.db"
    db = Database(path)
    with pytest.raises(sqlite3.OperationalError):
        await db.open()
    await db.close()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert "half" not in tables
    assert version == len(good)


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "f.db")
    await db.open()
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction(
                "test.migrations.test_transaction_rolls_back_on_error"
            ) as conn:
                await conn.execute("INSERT INTO bot_state VALUES ('k', 'v')")
                raise RuntimeError("boom")
        assert await db.fetchone("SELECT * FROM bot_state WHERE key = 'k'") is None
    finally:
        await db.close()


async def test_two_processes_starting_at_once_apply_each_migration_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The bot and `import-staff` (or a second replica) open an empty store at the same
    moment: both see schema 0, one applies the migrations, the other then finds them done
    instead of failing on tables that exist already."""
    async with contextlib.AsyncExitStack() as stack:
        target: Path | str = tmp_path / "f.db"
        if backend == "postgresql":
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            target = await stack.enter_async_context(databases.fresh())
        first, second = Database(target), Database(target)
        stack.push_async_callback(first.close)
        stack.push_async_callback(second.close)
        await asyncio.gather(first.open(), second.open())
        rows = await first.fetchall("SELECT version FROM schema_version ORDER BY version")
    assert [row["version"] for row in rows] == list(range(1, len(migrations()) + 1))
