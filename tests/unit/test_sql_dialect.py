"""The two store dialects without a server: SQL, parameters and rows as they reach psycopg
(bot.store.sql_dialect), migrations per dialect, the config key that picks the backend,
and URLs shown without their password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.core import StorageConfig
from bot.store.db import Database, migrations
from bot.store.postgres_backend import redacted
from bot.store.sql_dialect import PgRow, to_params, to_psycopg


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("INSERT INTO t VALUES (?,?)", "INSERT INTO t VALUES (%s,%s)"),
        # A literal keeps its question mark, and its percent sign is doubled for psycopg.
        (
            "SELECT 'why?' WHERE x LIKE '50%' AND y = ?",
            "SELECT 'why?' WHERE x LIKE '50%%' AND y = %s",
        ),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
        ('SELECT "odd?name" FROM t WHERE a = ?', 'SELECT "odd?name" FROM t WHERE a = %s'),
        ("SELECT a % 7 FROM t WHERE b = ?", "SELECT a %% 7 FROM t WHERE b = %s"),
        ("SELECT 1 -- really?\nWHERE a = ?", "SELECT 1 -- really?\nWHERE a = %s"),
        ("SELECT /* maybe? 10% */ ?", "SELECT /* maybe? 10%% */ %s"),
        ("SELECT 1", "SELECT 1"),
    ],
)
def test_placeholders_and_percent_signs(sql: str, expected: str) -> None:
    assert to_psycopg(sql) == expected


def test_an_unterminated_literal_is_left_for_the_server_to_reject() -> None:
    assert to_psycopg("SELECT 'open ?") == "SELECT 'open ?"


def test_booleans_become_integers_and_nothing_else_changes() -> None:
    blob = b"\x00\x01"
    params = to_params([True, False, 1, 2.5, "x", None, blob])
    assert params == (1, 0, 1, 2.5, "x", None, blob)
    assert [type(p) for p in params[:2]] == [int, int]
    assert params[-1] is blob


def _sqlite_row(sql: str) -> sqlite3.Row:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    row = conn.execute(sql).fetchone()
    conn.close()
    assert isinstance(row, sqlite3.Row)
    return row


def test_a_postgresql_row_reads_like_a_sqlite_row() -> None:
    sqlite_row = _sqlite_row("SELECT 1 AS id, 'x' AS firstSeen, 3 AS id")
    # PostgreSQL folds the unquoted alias `firstSeen` to lower case.
    row = PgRow(["id", "firstseen", "id"], {"id": 0, "firstseen": 1}, (1, "x", 3))
    for key in ("id", "ID", "firstSeen", "firstseen", 0, 1, 2, -1):
        assert row[key] == sqlite_row[key], key
    assert row[1:] == sqlite_row[1:] == ("x", 3)
    assert tuple(row) == tuple(sqlite_row) == (1, "x", 3)
    assert len(row) == len(sqlite_row) == 3
    assert dict(zip(row.keys(), row, strict=True)) == {"id": 3, "firstseen": "x"}
    with pytest.raises(IndexError):
        row["missing"]
    with pytest.raises(IndexError):
        sqlite_row["missing"]


def test_each_dialect_takes_its_own_file_of_one_numbered_sequence(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "0001_a.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);")
    (folder / "0001_a.postgresql.sql").write_text("CREATE TABLE a (id BIGINT PRIMARY KEY);")
    (folder / "0002_b.sql").write_text("CREATE TABLE b (x TEXT);")
    (folder / "notes.txt").write_text("not a migration")
    assert [name for _, name, _ in migrations("sqlite", folder)] == ["0001_a.sql", "0002_b.sql"]
    assert [name for _, name, _ in migrations("postgresql", folder)] == [
        "0001_a.postgresql.sql",
        "0002_b.sql",
    ]
    (folder / "0004_d.postgresql.sql").write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(RuntimeError, match="without gaps"):
        migrations("postgresql", folder)
    # The packaged sequence: every PostgreSQL twin belongs to a numbered SQLite file.
    assert [v for v, _, _ in migrations("postgresql")] == [v for v, _, _ in migrations()]


def test_a_url_is_shown_without_its_password() -> None:
    shown = redacted(
        "postgresql://bot:s3cret@db.example:5433/flurfunk?password=s3cret&sslmode=require"
    )
    assert "s3cret" not in shown
    assert shown == "postgresql://bot@db.example:5433/flurfunk?sslmode=require"
    assert (
        redacted("postgresql://bot@/flurfunk?host=/run/pg")
        == "postgresql://bot@/flurfunk?host=/run/pg"
    )


@pytest.mark.parametrize(
    ("database", "target"),
    [
        (None, Path("/srv/flurfunk/flurfunk.db")),
        ("sqlite:", Path("/srv/flurfunk/flurfunk.db")),
        ("sqlite:///var/lib/flurfunk/store.db", Path("/var/lib/flurfunk/store.db")),
        ("postgresql://bot@db.example/flurfunk", "postgresql://bot@db.example/flurfunk"),
    ],
)
def test_storage_database_picks_the_backend(database: str | None, target: Path | str) -> None:
    storage = StorageConfig(data_dir=Path("/srv/flurfunk"), database=database)
    assert storage.database_target == target
    assert storage.sqlite_file == (target if isinstance(target, Path) else None)
    assert Database(storage.database_target).dialect == (
        "sqlite" if isinstance(target, Path) else "postgresql"
    )


def test_an_unknown_database_scheme_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="database"):
        StorageConfig(database="mysql://bot@db.example/flurfunk")
