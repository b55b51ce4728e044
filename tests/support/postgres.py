"""A throwaway PostgreSQL for the test session, and a fresh migrated database per test.

Migrating takes longer than copying: the migrations run once per session into a template
database, and every test gets a copy of it (`CREATE DATABASE … TEMPLATE`), dropped when the
test ends. A copy still takes a tenth of a second or more on a busy machine, so the next
one is made in a thread while the current test runs.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.devpostgres import LocalPostgres
from bot.store.db import Database

TEMPLATE = "flurfunk_template"
# The store backends a test runs on, the PostgreSQL run marked `postgresql` (so that
# `-m "not postgresql"` leaves it out). tests/conftest.py gives them to every test of the
# store and services suites; `both_backends` to a chosen test elsewhere, which receives
# the name as `backend` (`make_bot` puts each bot's store on PostgreSQL for it).
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
both_backends = pytest.mark.parametrize("backend", BACKENDS)


def throwaway_cluster(*, durable: bool = False) -> Iterator[LocalPostgres]:
    """A started cluster in a new directory, stopped and deleted afterwards.

    Not under pytest's `tmp_path`: as root the server runs as an unprivileged user, who
    cannot enter root's 0700 `/tmp/pytest-of-root`.
    """
    base = Path(tempfile.mkdtemp(prefix="flurfunk-pg-"))
    server = LocalPostgres(base, durable=durable)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


class PostgresDatabases:
    """Fresh, migrated, empty databases on one server."""

    def __init__(self, server: LocalPostgres) -> None:
        self.server = server
        self._numbers = itertools.count(1)
        self._template_ready = False
        # One worker: copies and drops run one after another, never two at once.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="postgres-copies")
        self._ahead: Future[str] | None = None

    async def _template(self) -> None:
        if self._template_ready:
            return
        template = Database(self.server.create_database(TEMPLATE))
        await template.open()
        await template.close()
        self._template_ready = True

    def _copy(self) -> str:
        name = f"t_{next(self._numbers)}"
        self.server.create_database(name, template=TEMPLATE)
        return name

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[str]:
        """The URL of a new copy of the migrated template, dropped on leaving."""
        await self._template()
        name = await asyncio.wrap_future(self._ahead or self._worker.submit(self._copy))
        self._ahead = self._worker.submit(self._copy)
        try:
            yield self.server.url(name)
        finally:
            self._worker.submit(self.server.drop_database, name)

    def close(self) -> None:
        """Wait for the copies and drops under way (before the server stops)."""
        self._worker.shutdown(wait=True)


async def database_bytes(db: Database, server: LocalPostgres) -> bytes:
    """Every file of `db`'s database in `server`'s data directory, concatenated: its tables
    with their TOAST tables, indexes, free-space and visibility maps, and the system
    catalogues (statistics included). Not the WAL (`pg_wal/`, shared by the cluster): it
    keeps what was written until the server recycles its segments.

    A CHECKPOINT first: pages changed in the server's memory reach the files."""
    await db.execute("CHECKPOINT", name="test.checkpoint")
    row = await db.fetchone("SELECT oid FROM pg_database WHERE datname = current_database()")
    assert row is not None
    folder = server.data_dir / "base" / str(row["oid"])
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())
