"""The store's database: SQLite (a file, the default) or PostgreSQL (a URL), numbered
migrations, transactions and reads, the same for every repository.

All writes are serialised through one lock: a transaction spans awaits, and on SQLite's
one shared connection another coroutine's statements would otherwise land inside it; on
PostgreSQL the backend adds a database-wide writer lock for other processes
(`bot.store.postgres_backend`). A transaction opened while one is already running in the
same task joins it, so a command handler can wrap its service calls and its replies into
one atomic unit.

The backends: `bot.store.sqlite_backend` (busy handling, pragmas) and
`bot.store.postgres_backend` (pool, advisory lock, SQL translation).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite
import psycopg

from bot.store.contract import (
    Connection,
    Cursor,
    DatabaseTooNew,
    IntegrityError,
    PendingCursor,
    Row,
    StoreBusy,
    StoreUnavailable,
)
from bot.store.postgres_backend import PostgresBackend, read_schema_version, redacted
from bot.store.sqlite_backend import SqliteBackend, is_busy, stored_schema_version

__all__ = [
    "BUSY_RETRY_S",
    "BUSY_TIMEOUT_MS",
    "Connection",
    "Cursor",
    "Database",
    "DatabaseTooNew",
    "IntegrityError",
    "PendingCursor",
    "Row",
    "StoreBusy",
    "StoreUnavailable",
    "describe",
    "is_busy",
    "is_postgresql",
    "migrations",
    "schema_version_at",
    "stored_schema_version",
]

log = logging.getLogger(__name__)

# True while the current task holds a transaction (of any `Database`): what scheduled
# jobs must never inherit (tests/unit/test_jobs.py watches it).
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flurfunk_in_transaction", default=False
)
# The transaction the current task holds, and whose it is: a nested one joins it.
_current: contextvars.ContextVar[tuple[Database, Connection] | None] = contextvars.ContextVar(
    "flurfunk_transaction", default=None
)

T = TypeVar("T")
# SQLite's own wait for a lock, per attempt (PRAGMA busy_timeout).
BUSY_TIMEOUT_MS = 5_000
# How long a transaction (or a read) keeps trying while another process holds the lock,
# in total: `import-staff` writes in short batches, so the bot gets in between two.
BUSY_RETRY_S = 30.0
DIALECTS = ("sqlite", "postgresql")


def is_postgresql(target: Path | str) -> bool:
    """Whether `target` (a store path or URL) names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe(target: Path | str) -> str:
    """`target` as logs and messages show it: a URL without its password."""
    return redacted(str(target)) if is_postgresql(target) else str(target)


async def schema_version_at(target: Path | str) -> int | None:
    """The schema version stored at `target`, read without writing anything: tools check
    it against `migrations()` before they open a store that a running bot may be using.
    None where there is no store yet (no file, a database without our tables); raises
    `StoreUnavailable`, saying why, if it cannot be read."""
    if is_postgresql(target):
        try:
            return await read_schema_version(str(target))
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {describe(target)}: {exc}") from exc
    return await asyncio.to_thread(_sqlite_schema_version, Path(target))


def _sqlite_schema_version(path: Path) -> int | None:
    if not path.exists():
        return None
    try:
        return stored_schema_version(path)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"{path}: cannot read the database ({exc})") from exc


def migrations(
    dialect: str = "sqlite", folder: Traversable | None = None
) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration in `folder` (the packaged ones by
    default), in order. One numbered sequence for both backends: `NNNN_name.sql`, and for
    PostgreSQL `NNNN_name.postgresql.sql` instead where it exists beside it."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    found: dict[int, tuple[str, str]] = {}
    for entry in (folder or resources.files("bot.store.migrations")).iterdir():
        name = entry.name
        if not name.endswith(".sql") or not name[:4].isdigit():
            continue
        variant = name.removesuffix(".sql").rpartition(".")[2] if name.count(".") > 1 else ""
        if variant not in ("", "postgresql"):
            raise RuntimeError(f"unknown migration variant: {name}")
        version = int(name[:4])
        if variant == "postgresql" and dialect != "postgresql":
            continue
        if variant == "" and version in found:
            continue  # the PostgreSQL twin came first and replaces it
        found[version] = (name, entry.read_text(encoding="utf-8"))
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration numbers must be 1..n without gaps, got {versions}")
    return [(version, *found[version]) for version in versions]


class Backend(Protocol):
    """What `Database` needs of SQLite or PostgreSQL."""

    dialect: str
    busy_retry_s: float

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def run_script(self, conn: Connection, sql: str) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Row]: ...

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> Row | None: ...

    def classify(self, exc: Exception) -> Exception | None: ...

    async def checkpoint(self) -> bool: ...


class Database:
    """`target`: a SQLite file (or ":memory:") or a `postgresql://` URL."""

    def __init__(
        self,
        target: Path | str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        busy_retry_s: float = BUSY_RETRY_S,
        migrations_folder: Traversable | None = None,
    ) -> None:
        self._backend: Backend
        # The SQLite file (what lives beside it: bot.chat.readonly) or ":memory:"; on
        # PostgreSQL the URL without its password.
        self.path: Path | str
        if is_postgresql(target):
            self._backend = PostgresBackend(str(target), busy_retry_s=busy_retry_s)
            self.path = describe(target)
        else:
            self.path = Path(target) if str(target) != ":memory:" else str(target)
            self._backend = SqliteBackend(
                self.path, busy_timeout_ms=busy_timeout_ms, busy_retry_s=busy_retry_s
            )
        self.dialect = self._backend.dialect
        self._migrations_folder = migrations_folder
        self._lock = asyncio.Lock()
        self.busy_timeout_ms = busy_timeout_ms
        # False from the first failed write until `probe()` succeeds again; whoever runs
        # the bot (bot.chat.readonly) is told through `on_unavailable`.
        self.writable = True
        self.on_unavailable: list[Callable[[StoreUnavailable], None]] = []
        # With one writer at a time, the name of a transaction says who made the others
        # wait: each holder is reported with the seconds it held the lock (/metrics).
        self.on_lock_released: list[Callable[[str, float], None]] = []

    @property
    def busy_retry_s(self) -> float:
        """How long a writer waits for another process's lock before `StoreBusy`."""
        return self._backend.busy_retry_s

    @busy_retry_s.setter
    def busy_retry_s(self, seconds: float) -> None:
        self._backend.busy_retry_s = seconds

    def __str__(self) -> str:
        """Where the store is, never with a password."""
        return str(self.path)

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        await self.connect()
        await self.migrate()

    async def connect(self) -> None:
        """Connect without migrating (tools that look before they change anything)."""
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        """The one SQLite connection (tests and SQLite-only tools)."""
        if not isinstance(self._backend, SqliteBackend):
            raise RuntimeError("a PostgreSQL store has no single connection")
        return self._backend.conn

    async def schema_version(self) -> int:
        return await self._backend.schema_version()

    def known_migrations(self) -> list[tuple[int, str, str]]:
        return migrations(self.dialect, self._migrations_folder)

    async def migrate(self) -> None:
        current = await self.schema_version()
        known = self.known_migrations()
        newest = known[-1][0] if known else 0
        if current > newest:
            raise DatabaseTooNew(
                f"{self} has schema version {current}, this Flurfunk knows up to "
                f"{newest}: upgrade Flurfunk or restore a matching backup"
            )
        for version, name, sql in known:
            if version <= current:
                continue
            async with self._backend.transaction() as conn:
                # Two processes started at once (the bot and `import-staff`, or a second
                # replica) both saw the old version; the writer lock lets one at a time
                # here, and the version read under it says whether the other one was first.
                async with conn.execute(
                    "SELECT MAX(version) AS version FROM schema_version"
                ) as cur:
                    row = await cur.fetchone()
                if row is not None and row["version"] is not None and row["version"] >= version:
                    continue
                log.info("applying migration %s", name)
                await self._backend.run_script(conn, sql)
                await conn.execute("INSERT INTO schema_version VALUES (?)", (version,))

    def _joined(self) -> Connection | None:
        current = _current.get()
        return current[1] if current is not None and current[0] is self else None

    @asynccontextmanager
    async def transaction(self, name: str) -> AsyncIterator[Connection]:
        """BEGIN (IMMEDIATE on SQLite, plus the writer lock on PostgreSQL) … COMMIT, or
        join the transaction this task already holds.

        `name` ("coffee.run_round") is what /metrics reports the lock's holding time under;
        a joined transaction counts towards the outer one's name."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        async with self._held(name):
            flag = _in_transaction.set(True)
            try:
                await self._begin()
                async with self._backend.transaction() as conn:
                    current = _current.set((self, conn))
                    try:
                        yield conn
                    finally:
                        _current.reset(current)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                raise
            except Exception as exc:
                error = self._backend.classify(exc)
                if error is None:
                    raise
                if isinstance(error, StoreUnavailable):
                    self._unavailable(error)
                raise error from exc
            finally:
                _in_transaction.reset(flag)

    async def _begin(self) -> None:
        """Runs before every transaction, inside its error handling: the seam where fault
        injection (`tests/support/faults.py`) makes writes fail like a full disk."""

    def _unavailable(self, error: StoreUnavailable) -> None:
        self.writable = False
        for listener in self.on_unavailable:
            listener(error)

    async def probe(self) -> bool:
        """One tiny write: True (and `writable` again) if the store takes writes."""
        try:
            async with self.transaction("db.probe") as conn:
                await conn.execute(
                    "INSERT INTO bot_state (key, value) VALUES ('store_probe', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(bot_state.value AS INTEGER) + 1"
                )
        except (StoreUnavailable, StoreBusy):
            return False
        self.writable = True
        return True

    async def checkpoint(self) -> bool:
        """Let deleted data leave the disk: SQLite copies its WAL into the database file
        and empties it (False if a reader blocked that: the data stays in the WAL until a
        later checkpoint); PostgreSQL rewrites its tables (False if another session's
        transaction kept some deleted rows: the next checkpoint removes them)."""
        return await self._outside(self._backend.checkpoint)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        joined, values = self._joined(), tuple(params)
        if joined is not None:
            # Inside our own transaction: its errors are classified when it ends.
            async with joined.execute(sql, values) as cur:
                return list(await cur.fetchall())
        return await self._outside(lambda: self._backend.fetchall(sql, values))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        joined, values = self._joined(), tuple(params)
        if joined is not None:
            async with joined.execute(sql, values) as cur:
                return await cur.fetchone()
        return await self._outside(lambda: self._backend.fetchone(sql, values))

    async def _outside(self, read: Callable[[], Awaitable[T]]) -> T:
        """`read` outside a transaction, under the lock on both backends: a read waits for
        the transaction in progress, and code relies on that (after `!vergessen` the DM
        list is updated once the erasure is committed, `bot.chat.rooms`). On PostgreSQL
        MVCC would not need it; the same order on both backends does. A store out of reach
        turns read-only mode on."""
        try:
            async with self._held("read"):
                return await read()
        except StoreUnavailable as exc:
            self._unavailable(exc)
            raise

    @asynccontextmanager
    async def _held(self, name: str) -> AsyncIterator[None]:
        async with self._lock:
            since = time.monotonic()
            try:
                yield
            finally:
                held = time.monotonic() - since
                for report in self.on_lock_released:
                    report(name, held)

    async def execute(self, sql: str, params: Iterable[Any] = (), *, name: str) -> int:
        """One statement in its own transaction (or the caller's); returns rowcount.

        `name` is the transaction's name in /metrics, as for `transaction()`. Required, so
        that no write hides under a generic name there."""
        async with self.transaction(name) as conn:
            cur = await conn.execute(sql, tuple(params))
            return cur.rowcount
