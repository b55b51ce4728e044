"""The store and its write-ahead log are readable by the bot's user only: SQLite creates
`-wal` and `-shm` with the mode of the database file, and the WAL holds the latest personal
data for as long as the bot runs (found by the erasure test)."""

from __future__ import annotations

import os
from pathlib import Path

from bot.store.db import Database


def modes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in directory.iterdir()}


async def test_a_new_store_and_its_wal_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = Database(tmp_path / "flurfunk.db")
        await db.open()
        await db.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')", name="test.seed")
        files = modes(tmp_path)
        await db.close()
    finally:
        os.umask(old)
    assert set(files) >= {"flurfunk.db", "flurfunk.db-wal", "flurfunk.db-shm"}
    assert set(files.values()) == {0o600}, files


async def test_an_old_world_readable_store_is_made_private(tmp_path: Path) -> None:
    for name in ("flurfunk.db", "flurfunk.db-wal"):
        (tmp_path / name).touch(mode=0o644)
        (tmp_path / name).chmod(0o644)
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    try:
        assert set(modes(tmp_path).values()) == {0o600}
    finally:
        await db.close()
