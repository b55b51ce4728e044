"""The PostgreSQL migrations build the same schema as the SQLite ones.

Both stores are migrated from scratch and compared table by table: columns (name, type
family, nullability, default), primary key, foreign keys, unique constraints and indexes
(name, columns, unique, partial). A difference fails with the table and what differs, so a
new migration without its PostgreSQL twin, or a twin that drifted, is caught here.
`schema_version` is the runner's own table, not a migration's: it is left out.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.devpostgres import LocalPostgres
from bot.store.db import Database

pytestmark = pytest.mark.postgresql

# What each SQLite column type becomes on PostgreSQL (REAL must not become PostgreSQL's
# 4-byte REAL: epoch seconds would lose their fraction).
TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}


# Tables the store reads in insertion order (`ORDER BY rowid`) without an integer key.
IMPLICIT_ROWID = ("reactions", "coffee_members")


@dataclass(frozen=True)
class Table:
    columns: tuple[tuple[str, str, bool, str | None], ...]  # name, type, not null, default
    primary_key: tuple[str, ...]
    foreign_keys: frozenset[tuple[tuple[str, ...], str, tuple[str, ...], str]]
    # (index name, or None for one that backs a UNIQUE constraint), columns, unique, partial
    indexes: frozenset[tuple[str | None, tuple[str, ...], bool, bool]]


def _default(text: str | None) -> str | None:
    """A column default without PostgreSQL's cast (`'[]'::text` is SQLite's `'[]'`)."""
    return None if text is None else re.sub(r"::[a-z ]+$", "", text)


def sqlite_schema(path: Path) -> dict[str, Table]:
    with closing(sqlite3.connect(path)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != 'schema_version'"
            )
        ]
        tables = {name: _sqlite_table(conn, name) for name in names}
    for name in IMPLICIT_ROWID:
        # SQLite's hidden rowid, which the store orders these tables by, is a real
        # identity column on PostgreSQL (last, not null, unique).
        table = tables[name]
        tables[name] = replace(
            table,
            columns=(*table.columns, ("rowid", "bigint", True, None)),
            indexes=table.indexes | {(None, ("rowid",), True, False)},
        )
    return tables


def _sqlite_table(conn: sqlite3.Connection, name: str) -> Table:
    info = conn.execute(f"PRAGMA table_info({name})").fetchall()
    columns = tuple((c[1], TYPES.get(c[2], c[2]), bool(c[3] or c[5]), c[4]) for c in info)
    primary_key = tuple(c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5]))
    keys: dict[int, list[Any]] = {}
    for fk in conn.execute(f"PRAGMA foreign_key_list({name})"):
        keys.setdefault(fk[0], []).append(fk)
    foreign_keys = frozenset(
        (tuple(f[3] for f in fk), fk[0][2], tuple(f[4] for f in fk), fk[0][6])
        for fk in keys.values()
    )
    indexes = set()
    for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({name})"):
        if origin == "pk":
            continue
        cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
        indexes.add((index if origin == "c" else None, cols, bool(unique), bool(partial)))
    return Table(columns, primary_key, foreign_keys, frozenset(indexes))


_PG_DELETE = {"a": "NO ACTION", "c": "CASCADE", "n": "SET NULL", "r": "RESTRICT"}


def pg_schema(url: str) -> dict[str, Table]:
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' AND table_name != 'schema_version'"
            )
        ]
        return {name: _pg_table(conn, name) for name in names}


def _pg_table(conn: psycopg.Connection[Any], name: str) -> Table:
    columns = tuple(
        (column, kind, nullable == "NO", _default(default))
        for column, kind, nullable, default in conn.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position",
            (name,),
        )
    )

    def names_of(table: int, numbers: list[int]) -> tuple[str, ...]:
        return tuple(
            conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum = %s",
                (table, number),
            ).fetchone()[0]  # type: ignore[index]
            for number in numbers
        )

    oid = conn.execute("SELECT %s::regclass::oid", (name,)).fetchone()[0]  # type: ignore[index]
    primary_key: tuple[str, ...] = ()
    foreign_keys = set()
    backing: set[int] = set()
    for kind, keys, target, target_keys, on_delete, index in conn.execute(
        "SELECT contype, conkey, confrelid, confkey, confdeltype, conindid "
        "FROM pg_constraint WHERE conrelid = %s",
        (oid,),
    ).fetchall():
        if kind == "p":
            primary_key = names_of(oid, keys)
        elif kind == "f":
            target_name = conn.execute("SELECT %s::regclass::text", (target,)).fetchone()[0]  # type: ignore[index]
            foreign_keys.add(
                (
                    names_of(oid, keys),
                    target_name,
                    names_of(target, target_keys),
                    _PG_DELETE[on_delete],
                )
            )
        if kind == "u":
            backing.add(index)
    indexes = set()
    for index, index_name, keys, unique, primary, predicate in conn.execute(
        "SELECT i.indexrelid, c.relname, i.indkey::int2[], i.indisunique, i.indisprimary, "
        "i.indpred IS NOT NULL FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s",
        (oid,),
    ).fetchall():
        if primary:
            continue
        cols = names_of(oid, list(keys))
        indexes.add((None if index in backing else index_name, cols, unique, predicate))
    return Table(columns, primary_key, frozenset(foreign_keys), frozenset(indexes))


def differences(sqlite: dict[str, Table], postgres: dict[str, Table]) -> list[str]:
    """Every way the two schemas differ, each naming its table."""
    found = [f"{name}: only on SQLite" for name in sorted(sqlite.keys() - postgres.keys())]
    found += [f"{name}: only on PostgreSQL" for name in sorted(postgres.keys() - sqlite.keys())]
    for name in sorted(sqlite.keys() & postgres.keys()):
        lite, pg = sqlite[name], postgres[name]
        for aspect in ("columns", "primary_key", "foreign_keys", "indexes"):
            if getattr(lite, aspect) != getattr(pg, aspect):
                found.append(
                    f"{name}: {aspect} differ\n  SQLite:     {getattr(lite, aspect)}\n"
                    f"  PostgreSQL: {getattr(pg, aspect)}"
                )
    return found


async def _migrated(tmp_path: Path, postgres: LocalPostgres, name: str) -> tuple[Path, str]:
    """A SQLite file and a PostgreSQL database, both migrated from scratch by the runner."""
    path = tmp_path / "flurfunk.db"
    postgres.drop_database(name)
    url = postgres.create_database(name)
    for target in (path, url):
        database = Database(target)
        await database.open()
        await database.close()
    return path, url


async def test_postgresql_migrations_build_the_sqlite_schema(
    tmp_path: Path, postgres: LocalPostgres
) -> None:
    path, url = await _migrated(tmp_path, postgres, "schema_same")
    sqlite, pg = sqlite_schema(path), pg_schema(url)
    assert len(sqlite) >= 40  # every feature's tables, not an empty comparison
    found = differences(sqlite, pg)
    assert not found, "\n".join(found)


async def test_a_drifted_twin_is_caught_by_table(tmp_path: Path, postgres: LocalPostgres) -> None:
    """The comparison itself can fail: a nullability, a type and an index that differ are
    each reported with their table."""
    path, url = await _migrated(tmp_path, postgres, "schema_drift")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE outbox ALTER COLUMN last_error SET NOT NULL")
        conn.execute("ALTER TABLE activity ALTER COLUMN last_seen_at TYPE REAL")
        conn.execute("CREATE INDEX profiles_extra ON profiles (department)")
    found = differences(sqlite_schema(path), pg_schema(url))
    assert [line.split("\n")[0] for line in found] == [
        "activity: columns differ",
        "outbox: columns differ",
        "profiles: indexes differ",
    ]
