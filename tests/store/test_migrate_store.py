"""`flurfunk migrate-store --to postgresql://…`, end to end through the command line: a
seeded SQLite store is copied into an empty PostgreSQL database, verified per table, and a
second run (or any other non-empty target) is refused."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from bot.__main__ import main
from bot.devpostgres import LocalPostgres
from bot.store import migrate_store
from tests.support.config import MINIMAL, deep_merge
from tests.support.seed import seed_profiles

PEOPLE = [f"@person{n}:rathaus.example" for n in range(5)]
VECTOR = bytes(range(256)) * 3  # every byte value, as float32 vectors have
WHEN = 1_733_400_000.123456  # epoch seconds with a fraction a 4-byte REAL would lose


def _seed(path: Path) -> None:
    """Rows in tables with foreign keys, identities, blobs and fractions, as the features
    write them; the outbox's highest ID is deleted again (AUTOINCREMENT remembers it)."""
    asyncio.run(seed_profiles(path, PEOPLE))
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA foreign_keys = ON")
        for n in range(1, 4):
            conn.execute(
                "INSERT INTO outbox (key, action, target_kind, target, payload, created_at) "
                "VALUES (?, 'message', 'dm', ?, '{}', ?)",
                (f"reply:{n}", PEOPLE[n], WHEN + n),
            )
        conn.execute("DELETE FROM outbox WHERE id = 3")
        conn.execute(
            "INSERT INTO crisis_requests (id, requester, text, urgent, drill, state, active, "
            "created_at) VALUES ('A-4MZP', ?, 'Wer kennt jemanden beim THW?', 1, 0, '{}', 1, ?)",
            (PEOPLE[0], WHEN),
        )
        conn.executemany(
            "INSERT INTO crisis_timeline (request_id, at, kind, person, tier) "
            "VALUES ('A-4MZP', ?, ?, ?, ?)",
            [(WHEN, "opened", PEOPLE[0], None), (WHEN + 1, "asked", PEOPLE[1], 1)],
        )
        conn.execute(
            "INSERT INTO text_vectors (kind, owner, user_id, model, text_hash, phrases, "
            "vectors, updated_at) VALUES ('profile', ?, ?, 'm', 'h', 3, ?, ?)",
            (PEOPLE[0], PEOPLE[0], VECTOR, WHEN),
        )
        round_id = conn.execute(
            "INSERT INTO coffee_rounds (kind, key, seq, trigger, started_at, people, groups, "
            "unmatched) VALUES ('coffee', 'coffee:2026-W49', 1, 'schedule', ?, 2, 1, 0) "
            "RETURNING id",
            (WHEN,),
        ).fetchone()[0]
        group_id = conn.execute(
            "INSERT INTO coffee_groups (round_id, idx, kind, room_key, intro_key, followup_key, "
            "followup_due_at, created_at) VALUES (?, 0, 'pair', 'r', 'i', 'f', ?, ?) RETURNING id",
            (round_id, WHEN, WHEN),
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO coffee_members (group_id, person, met) VALUES (?, ?, ?)",
            # Placed out of alphabetical order, so an order by rowid is not one by name.
            [(group_id, PEOPLE[1], None), (group_id, PEOPLE[0], 1)],
        )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    _seed(data / "flurfunk.db")
    path = tmp_path / "flurfunk.yaml"
    path.write_text(yaml.safe_dump(deep_merge(MINIMAL, {"storage": {"data_dir": str(data)}})))
    return path


@pytest.fixture
def target(postgres: LocalPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the test's own."""
    name = f"copy_{request.node.name[5:40]}".lower()
    postgres.drop_database(name)
    yield postgres.create_database(name)
    postgres.drop_database(name)


def _sqlite(config_file: Path, sql: str) -> list[tuple[Any, ...]]:
    path = config_file.parent / "data" / "flurfunk.db"
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def _pg(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def _tables(config_file: Path) -> list[str]:
    return [
        row[0]
        for row in _sqlite(
            config_file,
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name",
        )
    ]


def _migrate(config_file: Path, url: str) -> int:
    return main(["migrate-store", "--to", url, "-c", str(config_file)])


@pytest.mark.postgresql
def test_a_seeded_store_arrives_whole_and_a_second_run_is_refused(
    config_file: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _migrate(config_file, target) == 0
    out = capsys.readouterr().out
    for table in _tables(config_file):
        count = f"SELECT COUNT(*) FROM {table}"
        (rows,) = _sqlite(config_file, count)[0]
        assert _pg(target, count) == [(rows,)], table
        assert re.search(rf"^{table} +{rows} +{rows}$", out, re.MULTILINE), table
    assert _pg(target, "SELECT COUNT(*) FROM profiles") == [(len(PEOPLE),)]
    assert "storage.database" in out and "check-config" in out

    for sql in (
        "SELECT id, user_id, display_name, department, topics, coffee, confirmed, created_at "
        "FROM profiles ORDER BY id",
        "SELECT id, request_id, at, kind, person, tier FROM crisis_timeline ORDER BY id",
        "SELECT group_id, person, met FROM coffee_members ORDER BY person",
        # Members keep the order they were placed in: SQLite's rowid comes along.
        "SELECT person FROM coffee_members ORDER BY rowid",
        "SELECT id, key, created_at, priority FROM outbox ORDER BY id",
    ):
        assert _pg(target, sql) == _sqlite(config_file, sql), sql
    assert _pg(target, "SELECT vectors, updated_at FROM text_vectors") == [(VECTOR, WHEN)]
    # New rows continue after the highest ID ever given out, the deleted outbox item's too.
    assert _pg(
        target,
        "INSERT INTO outbox (key, action, target_kind, target, payload, created_at) "
        "VALUES ('reply:new', 'message', 'dm', '@x:y', '{}', 0) RETURNING id",
    ) == [(4,)]

    # Again, with the password in the URL: refused by name, the password shown nowhere.
    with_password = target.replace("flurfunk@", "flurfunk:s3cret-Pw@", 1)
    assert _migrate(config_file, with_password) == 1
    out, err = capsys.readouterr()
    assert "schema_version" in err and "profiles (has rows)" in err
    assert "s3cret-Pw" not in out + err


@pytest.mark.postgresql
def test_a_database_with_rows_of_its_own_is_refused_untouched(
    config_file: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pg(target, "CREATE TABLE notes (line TEXT)")
    _pg(target, "INSERT INTO notes VALUES ('keep me')")
    assert _migrate(config_file, target) == 1
    assert "notes (has rows)" in capsys.readouterr().err
    tables = _pg(target, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert tables == [("notes",)]  # not even migrated


@pytest.mark.postgresql
def test_rows_lost_on_the_way_roll_the_copy_back(
    config_file: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches = migrate_store._batches

    def lossy(
        snap: sqlite3.Connection, table: str, columns: list[str], *, with_rowid: bool = False
    ) -> Iterator[list[Any]]:
        for batch in batches(snap, table, columns, with_rowid=with_rowid):
            yield batch[:-1] if table == "coffee_members" else batch

    monkeypatch.setattr(migrate_store, "_batches", lossy)
    assert _migrate(config_file, target) == 1
    out, err = capsys.readouterr()
    assert re.search(r"^coffee_members +2 +1  <- differs$", out, re.MULTILINE)
    assert "row counts differ in coffee_members" in err
    for table in ("profiles", "crisis_timeline", "coffee_members"):
        assert _pg(target, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


def test_copy_order_puts_referenced_tables_first() -> None:
    references = {
        "coffee_members": {"coffee_groups"},
        "coffee_groups": {"coffee_rounds"},
        "coffee_rounds": set(),
        "tree": {"tree"},  # a table referencing itself
    }
    assert migrate_store.copy_order(references) == [
        "coffee_rounds",
        "tree",
        "coffee_groups",
        "coffee_members",
    ]
    with pytest.raises(migrate_store.MigrateStoreError, match="cycle"):
        migrate_store.copy_order({"a": {"b"}, "b": {"a"}})
