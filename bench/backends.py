"""The bot's store on either backend for the benchmarks: SQLite (the file in the bot's data
directory, the default) or a local PostgreSQL (`bot.devpostgres`, started on first use,
durable as an operator runs it: fsync and synchronous commit on).

    with Backends() as backends:
        bot = BotProcess(synapse, base / "pg", config=backends.storage("postgres", "bot1"))
        store = await open_store(store_target(bot))
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.devpostgres import LocalPostgres
from bot.store.db import Database
from tests.support.bot_process import BotProcess

BACKENDS = ("sqlite", "postgres")


class Backends:
    """Hands out stores: nothing for SQLite, a new database per name on one local
    PostgreSQL cluster (in its own temporary directory: as root the server runs as an
    unprivileged user, who must be able to enter it)."""

    def __init__(self) -> None:
        self._base: Path | None = None
        self.postgres: LocalPostgres | None = None

    def __enter__(self) -> Backends:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the PostgreSQL cluster, if one was started, and delete it."""
        if self.postgres is not None:
            self.postgres.stop()
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)

    def _server(self) -> LocalPostgres:
        if self.postgres is None:
            self._base = Path(tempfile.mkdtemp(prefix="flurfunk-bench-pg-"))
            self.postgres = LocalPostgres(self._base)
            self.postgres.start()
        return self.postgres

    def database(self, name: str) -> str:
        """The URL of a new, empty PostgreSQL database `name`."""
        return self._server().create_database(name)

    def storage(self, backend: str, name: str) -> dict[str, Any]:
        """The bot's config fragment for `backend`: empty for SQLite (the default file),
        `storage.database` set to a new database `name` for PostgreSQL."""
        if backend == "sqlite":
            return {}
        if backend != "postgres":
            raise ValueError(f"unknown backend {backend!r}")
        return {"storage": {"database": self.database(name)}}


def store_target(bot: BotProcess) -> Path | str:
    """What the bot's store is: its PostgreSQL URL, else its SQLite file."""
    url = bot.config["storage"].get("database")
    return str(url) if url else bot.database


async def open_store(target: Path | str) -> Database:
    """The store at `target`, opened as the bot opens it (migrated: a no-op once the bot
    ran), to seed and watch it from the benchmark through the same SQL on both backends."""
    db = Database(target)
    await db.open()
    return db
