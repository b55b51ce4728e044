"""`flurfunk migrate-store --to postgresql://…`: copy a SQLite store into an empty
PostgreSQL database, so an installation can switch backends without losing history.

The source is read in one read transaction of its own connection (a consistent snapshot;
nothing is written to it, except that an older store is first migrated to the current
schema, as the bot would at its start). The target must be empty: a table with rows, or a
`schema_version` row (Flurfunk ran on it before), is refused by name. The target is
migrated to the current schema, then every table is copied in foreign-key order in batches
inside one transaction; the identity sequences continue after the highest ID SQLite ever
handed out (AUTOINCREMENT remembers deleted ones too), and the row counts of every table
are compared before the commit: any mismatch rolls the copy back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.store.db import Connection, Database, DatabaseTooNew, StoreUnavailable

# Rows per INSERT batch: large enough that the round trips do not dominate, small enough
# that a batch of text vectors stays a few megabytes.
BATCH = 500
# Table names come from the source's catalogue and are put into SQL: plain names only.
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Not data: the migration runner's own table (the target gets its own rows by migrating).
_NOT_COPIED = ("schema_version",)


class MigrateStoreError(RuntimeError):
    """The copy was refused or failed; the message says why (and the target is unchanged,
    apart from the schema of an empty database)."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


class CountMismatch(MigrateStoreError):
    """Rows went missing or appeared on the way; the target transaction was rolled back."""

    def __init__(self, counts: list[TableCount]) -> None:
        wrong = ", ".join(c.table for c in counts if not c.matches)
        super().__init__(
            f"row counts differ in {wrong}: no row was copied (the target keeps the empty "
            "schema: drop and create the database again before the next attempt)"
        )
        self.counts = counts


def copy_order(references: dict[str, set[str]]) -> list[str]:
    """The tables so that every table comes after the tables it references (ties by name).
    A table referencing itself is fine; a cycle between tables cannot be copied in order."""
    order: list[str] = []
    done: set[str] = set()
    pending = dict(references)
    while pending:
        ready = sorted(t for t, refs in pending.items() if refs - {t} <= done)
        if not ready:
            raise MigrateStoreError(f"foreign keys form a cycle between {sorted(pending)}")
        for table in ready:
            order.append(table)
            done.add(table)
            del pending[table]
    return order


def format_counts(counts: list[TableCount]) -> str:
    """The per-table comparison the operator sees, mismatches marked."""
    width = max([len("table"), *(len(c.table) for c in counts)])
    lines = [f"{'table':<{width}}  {'sqlite':>9}  {'postgresql':>10}"]
    for c in counts:
        mark = "" if c.matches else "  <- differs"
        lines.append(f"{c.table:<{width}}  {c.source:>9}  {c.target:>10}{mark}")
    return "\n".join(lines)


@contextlib.contextmanager
def _snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """One read transaction on the source: every table is read as of the same moment.
    `mode=rw`: never creates a file; nothing is written through this connection."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


def _source_tables(snap: sqlite3.Connection) -> dict[str, list[str]]:
    """Every data table of the source and its columns, in declaration order."""
    names = [
        row["name"]
        for row in snap.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if row["name"] not in _NOT_COPIED
    ]
    for name in names:
        if not _NAME.match(name):
            raise MigrateStoreError(f"unexpected table name {name!r} in the SQLite store")
    return {
        name: [column["name"] for column in snap.execute(f"PRAGMA table_info({name})")]
        for name in names
    }


def _references(snap: sqlite3.Connection, tables: list[str]) -> dict[str, set[str]]:
    return {
        name: {fk["table"] for fk in snap.execute(f"PRAGMA foreign_key_list({name})")}
        for name in tables
    }


def _highest_ids(snap: sqlite3.Connection) -> dict[str, int]:
    """The highest ID each AUTOINCREMENT table ever handed out, deleted rows included."""
    exists = snap.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone()
    if exists is None:
        return {}
    return {
        row["name"]: int(row["seq"])
        for row in snap.execute("SELECT name, seq FROM sqlite_sequence")
    }


def _batches(
    snap: sqlite3.Connection, table: str, columns: list[str], *, with_rowid: bool = False
) -> Iterator[list[tuple]]:
    """The rows of `table` in rowid order, BATCH at a time (keyset paging: each batch
    starts where the last ended, so a big table costs no repeated scans); `with_rowid`
    appends SQLite's implicit rowid to each row."""
    listed = ", ".join(columns)
    last = -(2**63)
    while True:
        rows = snap.execute(
            f"SELECT rowid AS rowid_, {listed} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last, BATCH),
        ).fetchall()
        if not rows:
            return
        last = rows[-1]["rowid_"]
        extra = ("rowid_",) if with_rowid else ()
        yield [tuple(row[c] for c in (*columns, *extra)) for row in rows]


def _count_source(snap: sqlite3.Connection, table: str) -> int:
    return int(snap.execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()["n"])


async def _count(conn: Connection, table: str) -> int:
    cur = await conn.execute(f"SELECT COUNT(*) AS n FROM {table}")
    row = await cur.fetchone()
    return int(row["n"]) if row is not None else 0


async def target_contents(db: Database) -> list[str]:
    """What makes the PostgreSQL database `db` not empty: its schema version, and every
    table holding rows (by name). Empty list: nothing there, safe to copy into."""
    found = []
    tables = [
        row["table_name"]
        for row in await db.fetchall(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        )
    ]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        if table == "schema_version":
            row = await db.fetchone(f"SELECT MAX(version) AS version FROM {quoted}")
            if row is not None and row["version"] is not None:
                found.append(f"schema_version (Flurfunk schema {row['version']} is there already)")
        elif await db.fetchone(f"SELECT 1 AS one FROM {quoted} LIMIT 1") is not None:
            found.append(f"{table} (has rows)")
    return found


async def _copy(snap: sqlite3.Connection, db: Database) -> list[TableCount]:
    tables = _source_tables(snap)
    order = copy_order(_references(snap, list(tables)))
    highest = _highest_ids(snap)
    identity = {
        row["table_name"]: row["column_name"]
        for row in await db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
    }
    async with db.transaction("migrate_store.copy") as conn:
        for table in order:
            columns = tables[table]
            # Tables the store reads in insertion order keep SQLite's implicit rowid in an
            # explicit column on PostgreSQL (migrations 0001 and 0005): copy it across.
            with_rowid = identity.get(table) == "rowid" and "rowid" not in columns
            target = [*columns, "rowid"] if with_rowid else columns
            insert = (
                f"INSERT INTO {table} ({', '.join(target)}) "
                f"VALUES ({', '.join('?' for _ in target)})"
            )
            for batch in _batches(snap, table, columns, with_rowid=with_rowid):
                await conn.executemany(insert, batch)
            if table in identity:
                await _continue_ids(conn, table, identity[table], highest.get(table, 0))
        counts = [
            TableCount(t, _count_source(snap, t), await _count(conn, t)) for t in sorted(order)
        ]
        if not all(c.matches for c in counts):
            raise CountMismatch(counts)  # leaving the transaction with it rolls back
    return counts


async def _continue_ids(conn: Connection, table: str, column: str, highest: int) -> None:
    """The next generated ID follows the highest one SQLite ever gave out: explicit IDs
    do not move an identity's sequence, and a reused ID would point old references
    (effect keys, deliveries recorded late) at a new row."""
    cur = await conn.execute(f"SELECT COALESCE(MAX({column}), 0) AS top FROM {table}")
    row = await cur.fetchone()
    top = max(int(row["top"]) if row is not None else 0, highest)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence(?, ?), ?, false)", (table, column, top + 1)
    )


def migrate_store(source: Path, target: str) -> list[TableCount]:
    """Copy the SQLite store at `source` into the empty PostgreSQL database `target` (a
    `postgresql://` URL) and return the verified row counts per table. Raises
    `MigrateStoreError` (nothing copied) when refused or when the counts differ."""
    if not source.is_file():
        raise MigrateStoreError(f"{source}: no SQLite store there (check storage.data_dir)")
    return asyncio.run(_migrate(source, target))


async def _migrate(source: Path, target: str) -> list[TableCount]:
    store = Database(source)
    db = Database(target)
    try:
        # Bring an older store to the current schema first, as the bot would at its start.
        try:
            await store.open()
        finally:
            await store.close()
        await db.connect()
    except (DatabaseTooNew, StoreUnavailable) as exc:  # their messages name the store
        raise MigrateStoreError(str(exc)) from exc
    try:
        found = await target_contents(db)
        if found:
            raise MigrateStoreError(
                "the target database is not empty, refusing to copy into it: " + "; ".join(found)
            )
        await db.migrate()
        with _snapshot(source) as snap:
            return await _copy(snap, db)
    finally:
        await db.close()
