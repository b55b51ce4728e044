"""The PostgreSQL backend behind `Database`: one writer at a time across processes, the
store's SQL through the adapter, errors classified as on SQLite, migrations per dialect."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.__main__ import check_store
from bot.devpostgres import LocalPostgres
from bot.store import postgres_erasure
from bot.store.db import (
    Database,
    DatabaseTooNew,
    IntegrityError,
    StoreBusy,
    StoreUnavailable,
    migrations,
)
from bot.store.postgres_backend import read_schema_version, redacted
from tests.support.postgres import PostgresDatabases, throwaway_cluster

pytestmark = pytest.mark.postgresql
_names = itertools.count(1)


@pytest.fixture
async def url(postgres_databases: PostgresDatabases) -> AsyncIterator[str]:
    """A fresh, migrated database."""
    async with postgres_databases.fresh() as fresh:
        yield fresh


@pytest.fixture
def empty_url(postgres: LocalPostgres) -> Iterator[str]:
    """A database without any table."""
    name = f"p1_empty_{next(_names)}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@contextlib.asynccontextmanager
async def opened(target: str | Path, busy_retry_s: float = 30.0) -> AsyncIterator[Database]:
    database = Database(target, busy_retry_s=busy_retry_s)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def counter(db: Database) -> int:
    row = await db.fetchone("SELECT value FROM bot_state WHERE key = 'counter'")
    return int(row["value"]) if row else 0


async def test_two_processes_incrementing_at_once_lose_no_update(url: str) -> None:
    """Two `Database`s stand for two bot processes: only the advisory lock orders them."""
    async with opened(url) as first, opened(url) as second:
        await first.execute(
            "INSERT INTO bot_state (key, value) VALUES ('counter', '0')", name="test.seed"
        )

        async def increment(db: Database) -> None:
            async with db.transaction("test.increment") as conn:
                async with conn.execute("SELECT value FROM bot_state WHERE key = 'counter'") as cur:
                    row = await cur.fetchone()
                assert row is not None
                await asyncio.sleep(0.001)  # the other process gets every chance to interleave
                await conn.execute(
                    "UPDATE bot_state SET value = ? WHERE key = 'counter'",
                    (str(int(row["value"]) + 1),),
                )

        await asyncio.gather(*(increment(db) for _ in range(25) for db in (first, second)))
        assert await counter(first) == 50


async def test_a_nested_transaction_joins_and_a_failure_rolls_back_both(url: str) -> None:
    async with opened(url) as db:
        held: list[tuple[str, float]] = []
        db.on_lock_released.append(lambda name, seconds: held.append((name, seconds)))
        with pytest.raises(RuntimeError, match="undo"):
            async with db.transaction("outer") as conn:
                await conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', '1')")
                async with db.transaction("inner") as inner:
                    await inner.execute("INSERT INTO bot_state (key, value) VALUES ('b', '2')")
                # A read inside the transaction sees its own uncommitted writes.
                assert len(await db.fetchall("SELECT key FROM bot_state")) == 2
                raise RuntimeError("undo")
        assert await db.fetchall("SELECT key FROM bot_state") == []
        # The inner transaction counts for the outer; the read after it waits its turn.
        assert [name for name, _ in held] == ["outer", "read"]


async def test_the_store_sql_runs_unchanged_through_the_adapter(url: str) -> None:
    async with opened(url) as db:
        async with db.transaction("test.sql") as conn:
            cur = await conn.executemany(
                "INSERT INTO bot_state (key, value) VALUES (?, ?)",
                [("why?", "50%"), ("flag", True), ("n", 7)],
            )
            assert cur.rowcount == 3
            cur = await conn.execute(
                "UPDATE bot_state SET value = value || '!' WHERE key LIKE 'why%' OR key = ?",
                ("flag",),
            )
            assert cur.rowcount == 2
        rows = await db.fetchall(
            "SELECT key, value FROM bot_state WHERE value LIKE '%!' ORDER BY key"
        )
        assert [tuple(row) for row in rows] == [("flag", "1!"), ("why?", "50%!")]
        total = await db.fetchone(
            "SELECT SUM(CAST(value AS INTEGER)) AS total, COUNT(*) AS Many "
            "FROM bot_state WHERE key = ?",
            ("n",),
        )
        assert total is not None
        # SUM of integers is `numeric` in PostgreSQL: it arrives as int, as from SQLite.
        assert (total["total"], type(total["total"]), total["Many"]) == (7, int, 1)


async def test_a_text_with_a_nul_character_is_stored_without_it(url: str) -> None:
    """PostgreSQL cannot keep NUL in text; a message someone sent with one (a paste from a
    broken document) is still stored, as on SQLite, minus the invisible character."""
    async with opened(url) as db:
        await db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?)",
            ("k", "Kita-\x00Plätze"),
            name="test.nul",
        )
        async with db.transaction("test.nul_many") as conn:
            await conn.executemany(
                "INSERT INTO bot_state (key, value) VALUES (?, ?)", [("m\x00", "a\x00b")]
            )
        rows = await db.fetchall("SELECT key, value FROM bot_state WHERE key IN ('k', 'm')")
    assert sorted((row["key"], row["value"]) for row in rows) == [
        ("k", "Kita-Plätze"),
        ("m", "ab"),
    ]


async def test_a_unique_violation_is_an_integrity_error_and_changes_nothing(url: str) -> None:
    async with opened(url) as db:
        await db.execute(
            "INSERT INTO bot_state (key, value) VALUES ('k', 'first')", name="test.seed"
        )
        with pytest.raises(IntegrityError):
            async with db.transaction("test.duplicate") as conn:
                await conn.execute("UPDATE bot_state SET value = 'changed' WHERE key = 'k'")
                await conn.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'again')")
        row = await db.fetchone("SELECT value FROM bot_state WHERE key = 'k'")
        assert row is not None and row["value"] == "first"
        assert db.writable


async def test_a_writer_lock_held_too_long_is_store_busy_not_unavailable(url: str) -> None:
    async with opened(url) as holder, opened(url, busy_retry_s=0.3) as waiter:
        taken, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with holder.transaction("test.hold"):
                taken.set()
                await release.wait()

        task = asyncio.create_task(hold())
        await taken.wait()
        with pytest.raises(StoreBusy):
            await waiter.execute(
                "INSERT INTO bot_state (key, value) VALUES ('w', '1')", name="test.write"
            )
        # Reads need no lock.
        assert await waiter.fetchall("SELECT key FROM bot_state") == []
        release.set()
        await task
        assert waiter.writable
        written = await waiter.execute(
            "INSERT INTO bot_state (key, value) VALUES ('w', '1')", name="test.write"
        )
        assert written == 1


async def test_a_read_only_server_turns_read_only_mode_on(
    url: str, postgres: LocalPostgres
) -> None:
    """What a standby after a failover answers (SQLSTATE 25006)."""
    name = url.split("/")[3].split("?")[0]
    async with await psycopg.AsyncConnection.connect(postgres.url(), autocommit=True) as admin:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    async with opened(url) as db:
        seen: list[StoreUnavailable] = []
        db.on_unavailable.append(seen.append)
        with pytest.raises(StoreUnavailable):
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES ('x', '1')", name="test.write"
            )
        assert not db.writable and len(seen) == 1
        assert await db.probe() is False


async def test_a_lost_server_is_unavailable_and_probe_reconnects_after_its_restart() -> None:
    """Its own cluster: the session's server must not go away under other tests."""
    for server in throwaway_cluster():
        async with opened(server.create_database("lost")) as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES ('before', '1')", name="test.write"
            )
            server.stop()
            with pytest.raises(StoreUnavailable):
                await db.execute(
                    "INSERT INTO bot_state (key, value) VALUES ('during', '1')", name="test.write"
                )
            assert not db.writable
            with pytest.raises(StoreUnavailable):
                await db.fetchall("SELECT key FROM bot_state")
            assert await db.probe() is False
            server.start()
            # Every pooled connection died with the server; the probe gets a fresh one.
            assert await db.probe() is True
            assert db.writable
            rows = await db.fetchall("SELECT key FROM bot_state WHERE key <> 'store_probe'")
            assert [row["key"] for row in rows] == ["before"]


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (tmp_path / name).write_text(sql, encoding="utf-8")
    return tmp_path


async def test_migrations_run_from_the_postgresql_files_and_a_newer_schema_is_refused(
    tmp_path: Path, empty_url: str
) -> None:
    folder = _folder(
        tmp_path,
        {
            "0001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT);",
            # A dollar-quoted body with semicolons and `?`: the file runs untranslated.
            "0001_a.postgresql.sql": (
                "CREATE TABLE a (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                "note TEXT DEFAULT 'why? 100%');\n"
                "CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT AS $$ SELECT x * 2; $$ "
                "LANGUAGE SQL;\n"
            ),
        },
    )
    assert await read_schema_version(empty_url) is None
    database = Database(empty_url, migrations_folder=folder)
    await database.open()
    try:
        assert await database.schema_version() == 1
        await database.execute("INSERT INTO a DEFAULT VALUES", name="test.insert")
        row = await database.fetchone("SELECT twice(21) AS answer, note FROM a")
        assert row is not None and (row["answer"], row["note"]) == (42, "why? 100%")
    finally:
        await database.close()
    assert await read_schema_version(empty_url) == 1
    (tmp_path / "older").mkdir()
    older = Database(empty_url, migrations_folder=tmp_path / "older")
    with pytest.raises(DatabaseTooNew, match="schema version 1"):
        await older.open()
    await older.close()


async def test_check_config_reports_the_schema_or_why_it_cannot_connect(
    url: str, empty_url: str, postgres: LocalPostgres
) -> None:
    newest = migrations("postgresql")[-1][0]
    assert await check_store(url) == (f"store {redacted(url)}: schema {newest} of {newest}", True)
    message, fine = await check_store(empty_url)
    assert fine and "will be created at first start" in message

    stranger = url.replace("flurfunk@", "intruder:s3cret@")
    message, fine = await check_store(stranger)
    assert not fine
    assert "cannot connect to postgresql://intruder@" in message and "intruder" in message
    assert "s3cret" not in message
    refused = "postgresql://flurfunk:s3cret@127.0.0.1:9/flurfunk"
    message, fine = await check_store(refused)
    assert not fine and "127.0.0.1" in message and "9" in message and "s3cret" not in message

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("INSERT INTO schema_version VALUES (%s)", (newest + 1,))
    message, fine = await check_store(url)
    assert not fine and f"schema {newest + 1}, newer than this Flurfunk" in message


MARKER = "@erased-person:rathaus.example"


async def seed_marker(db: Database) -> None:
    """MARKER as a row of bot_state, with neighbours on the same pages (which keep them
    from being truncated away)."""
    await db.execute(
        "INSERT INTO bot_state (key, value) VALUES (?, ?)", (MARKER, MARKER), name="test.seed"
    )
    for n in range(20):
        await db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, 'kept')", (f"k{n}",), name="test.seed"
        )


async def erase_marker(db: Database) -> None:
    await db.execute("DELETE FROM bot_state WHERE key = ?", (MARKER,), name="test.erase")


async def relation_bytes(db: Database, postgres: LocalPostgres, relation: str) -> bytes:
    # A CHECKPOINT first: what the server holds in memory reaches the files.
    await db.execute("CHECKPOINT", name="test.flush")
    row = await db.fetchone("SELECT pg_relation_filepath(?) AS file", (relation,))
    assert row is not None
    return (postgres.data_dir / row["file"]).read_bytes()


async def test_a_checkpoint_leaves_no_byte_of_a_deleted_row_in_table_or_index(
    url: str, postgres: LocalPostgres
) -> None:
    """What erasure relies on (bot.services.privacy): on PostgreSQL `checkpoint()` vacuums."""
    async with opened(url) as db:
        await seed_marker(db)
        await erase_marker(db)
        assert await db.checkpoint() is True
        for relation in ("bot_state", "bot_state_pkey"):
            data = await relation_bytes(db, postgres, relation)
            assert MARKER.encode() not in data, relation


async def test_a_checkpoint_leaves_no_deleted_value_in_the_statistics(
    url: str, postgres: LocalPostgres
) -> None:
    """ANALYZE (autovacuum runs it by itself) copies sampled values into `pg_statistic`:
    after a checkpoint a deleted value is neither in the live statistics nor in old ones."""
    async with opened(url) as db:
        await seed_marker(db)
        await db.execute("ANALYZE bot_state", name="test.analyze")
        assert MARKER.encode() in await relation_bytes(db, postgres, "pg_statistic")
        await erase_marker(db)
        assert await db.checkpoint() is True
        assert MARKER.encode() not in await relation_bytes(db, postgres, "pg_statistic")


async def test_another_sessions_transaction_leaves_the_row_to_the_next_checkpoint(
    url: str, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VACUUM FULL keeps what a running transaction may still see: the checkpoint says so
    (the erasure logs it) and the next one removes it. The wait is long enough that an
    autovacuum worker's short transaction on the shared test cluster ends within it (at 0.2 s
    one made the first checkpoint say False once), and short enough to keep the test quick."""
    monkeypatch.setattr(postgres_erasure, "HORIZON_WAIT_S", 2.0)
    async with opened(url) as db, await psycopg.AsyncConnection.connect(url) as other:
        await seed_marker(db)
        assert await db.checkpoint() is True
        await other.execute("SELECT pg_current_xact_id()")  # a transaction left open
        await erase_marker(db)
        assert await db.checkpoint() is False
        assert MARKER.encode() in await relation_bytes(db, postgres, "bot_state")
        await other.rollback()
        assert await db.checkpoint() is True
        assert MARKER.encode() not in await relation_bytes(db, postgres, "bot_state")


async def test_a_backup_holding_its_locks_puts_the_checkpoint_off_instead_of_stalling_the_store(
    url: str, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_dump holds a share lock on every table for the whole dump, and VACUUM FULL needs
    each table to itself. The checkpoint gives up after LOCK_WAIT_S (the erasure tries again
    later) rather than wait for the dump's end with the store lock held and every query on
    the table queued behind its lock request."""
    monkeypatch.setattr(postgres_erasure, "HORIZON_WAIT_S", 0.2)
    monkeypatch.setattr(postgres_erasure, "LOCK_WAIT_S", 0.5)
    async with opened(url) as db, await psycopg.AsyncConnection.connect(url) as backup:
        await seed_marker(db)
        await erase_marker(db)
        await backup.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await backup.execute("LOCK TABLE bot_state IN ACCESS SHARE MODE")  # as pg_dump does
        assert await asyncio.wait_for(db.checkpoint(), 10) is False
        row = await asyncio.wait_for(db.fetchone("SELECT value FROM bot_state WHERE key = 'k1'"), 2)
        assert row is not None and row["value"] == "kept"
        await backup.rollback()
        assert await db.checkpoint() is True
        assert MARKER.encode() not in await relation_bytes(db, postgres, "bot_state")
