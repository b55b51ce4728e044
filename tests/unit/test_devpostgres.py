"""The throwaway PostgreSQL of `make test` and `make run DATABASE=postgres` (bot/devpostgres.py).

The tests that stop, restart or swap the binaries start their own cluster; the others share
one per module. The store suites share one per session (tests/support/postgres.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.config import load_config
from bot.dev import _dev_config
from bot.devpostgres import LocalPostgres, binaries
from bot.devserver import LocalSynapse
from bot.store.db import Database
from tests.support.postgres import throwaway_cluster


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    yield from throwaway_cluster()


def scalar(url: str, query: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


def test_a_created_database_takes_data_and_is_gone_after_the_drop(
    server: LocalPostgres,
) -> None:
    url = server.create_database("letters")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE letter (body TEXT)")
        conn.execute("INSERT INTO letter VALUES ('Grüße aus dem Bürgeramt')")
    assert scalar(url, "SELECT body FROM letter") == "Grüße aus dem Bürgeramt"

    server.drop_database("letters")
    with pytest.raises(psycopg.OperationalError, match="letters"):
        psycopg.connect(url).close()


def test_the_server_is_reachable_only_through_its_socket_as_flurfunk(
    server: LocalPostgres,
) -> None:
    assert scalar(server.url(), "SHOW listen_addresses") == ""
    assert scalar(server.url(), "SELECT current_user") == "flurfunk"
    assert str(server.socket_dir) in server.url()
    # The test cluster trades durability for speed; `make run`'s keeps the defaults.
    assert scalar(server.url(), "SHOW fsync") == "off"


def test_as_root_the_cluster_belongs_to_an_unprivileged_user(server: LocalPostgres) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root has to hand the cluster to another user")
    assert server.data_dir.stat().st_uid != 0


def test_a_template_copy_has_the_template_s_tables_and_a_drop_ends_open_connections(
    server: LocalPostgres,
) -> None:
    with psycopg.connect(server.create_database("template")) as conn:
        conn.execute("CREATE TABLE profile (user_id TEXT)")
    copy = server.create_database("copy", template="template")
    with psycopg.connect(copy) as forgotten:
        assert forgotten.execute("SELECT count(*) FROM profile").fetchone() == (0,)
        server.drop_database("copy")  # a test that forgot to close its pool
        with pytest.raises(psycopg.OperationalError):
            forgotten.execute("SELECT 1")


def test_data_survives_a_restart_and_a_stopped_server_refuses_connections() -> None:
    for server in throwaway_cluster(durable=True):
        url = server.ensure_database("flurfunk")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (n INT)")
            conn.execute("INSERT INTO kept VALUES (7)")
        server.stop()
        assert not server.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url).close()

        server.start()
        assert server.ensure_database("flurfunk") == url  # exists already: no error
        assert scalar(url, "SELECT n FROM kept") == 7
        assert scalar(url, "SHOW fsync") == "on"


def test_without_a_system_postgresql_the_bundled_server_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What a fresh machine with nothing but Python and the dev extra gets."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no initdb, no pg_ctl
    assert "pgserver" in str(binaries())
    for server in throwaway_cluster():
        assert str(scalar(server.url(), "SHOW server_version")).startswith("16.")


def test_a_deep_base_directory_gets_a_short_stable_socket_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    socket_dir = LocalPostgres(deep).socket_dir
    assert len(str(socket_dir / ".s.PGSQL.65535")) < 108  # what fits into sun_path
    assert LocalPostgres(deep).socket_dir == socket_dir
    assert LocalPostgres(tmp_path).socket_dir == tmp_path.resolve() / "socket"


async def test_the_demo_bot_keeps_its_store_on_the_local_cluster_only_when_asked(
    server: LocalPostgres, tmp_path: Path
) -> None:
    """What `make run DATABASE=postgres` writes into the demo config (bot/dev.py)."""
    url = server.ensure_database("demo")
    synapse = LocalSynapse(tmp_path / "synapse", 8008)  # never started: only its names

    on_postgres = load_config(_dev_config(tmp_path, synapse, "bot-password", url))
    assert on_postgres.storage.database_target == url
    store = Database(on_postgres.storage.database_target)
    await store.open()
    assert store.dialect == "postgresql"
    await store.close()

    default = load_config(_dev_config(tmp_path, synapse, "bot-password", None))
    assert default.storage.database_target == tmp_path / "bot" / "flurfunk.db"
