"""The SQLite store: one aiosqlite connection, its pragmas, busy handling, errors.

Another process may hold SQLite's write lock for a while (`flurfunk import-staff` while the
bot runs). SQLite waits `busy_timeout` for it; after that `BEGIN IMMEDIATE` and reads
outside a transaction are tried again with jittered backoff for up to `busy_retry_s`, and
only then fail with `StoreBusy` (review finding S-08). The error is recognised by SQLite's
error code (SQLITE_BUSY, SQLITE_LOCKED and their extended codes), never by its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.store.contract import Connection, Row, StoreBusy, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# The disk or the file refuses writes: read-only mode until a write works again.
_WRITE_FAILURES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)


def stored_schema_version(path: Path) -> int:
    """The schema version of the database file at `path`, read without writing anything
    (read-only mode, no migration): tools check it against `migrations()` before they open a
    store that a running bot may be using. Raises `sqlite3.Error` if it cannot be read."""
    uri = path.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
    return int(row["version"]) if row and row["version"] is not None else 0


def statements(script: str) -> Iterable[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if not _only_comments(buffer):
                yield buffer.strip()
            buffer = ""
    if not _only_comments(buffer):
        raise RuntimeError(f"incomplete SQL statement in migration: {buffer[:80]!r}")


def _only_comments(text: str) -> bool:
    """Nothing but blank lines and `--` comments."""
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def _private_store_files(path: Path) -> None:
    """Owner-only permissions for the store file and its `-wal`/`-shm`, before SQLite opens
    them. SQLite creates the write-ahead log and shared memory with the mode of the database
    file; a store first created under the default umask would leave a world-readable WAL,
    holding the latest personal data, for as long as the bot runs (erasure test)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm"):
        sibling = Path(f"{path}{suffix}")
        try:
            mode = sibling.stat().st_mode & 0o777 if sibling.exists() else 0
            if mode & 0o077:
                sibling.chmod(mode & 0o700)  # take away group and others, add nothing
        except OSError as error:  # not ours to change: say so, but keep running
            log.warning("cannot restrict the permissions of %s: %s", sibling, error)


class SqliteBackend:
    """One shared connection; `Database` serialises all access to it with its lock."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, *, busy_timeout_ms: int, busy_retry_s: float) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.busy_retry_s = busy_retry_s
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private_store_files(self.path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._conn = await aiosqlite.connect(str(self.path), isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}",
            # Deleted personal data must not linger in free pages of the file.
            "PRAGMA secure_delete=ON",
        ):
            await self._conn.execute(pragma)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def schema_version(self) -> int:
        await self._patiently(
            lambda: self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
        )
        async with self.conn.execute("SELECT MAX(version) AS version FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row["version"]) if row and row["version"] is not None else 0

    async def run_script(self, conn: Connection, sql: str) -> None:
        for statement in statements(sql):
            await conn.execute(statement)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error; errors pass unchanged."""
        await self._begin()
        try:
            yield self.conn
            await self.conn.execute("COMMIT")
        except BaseException:
            # SQLITE_FULL/IOERR may have rolled back already (S-23): the guarded
            # rollback keeps the real error instead of "no transaction is active".
            await self._rollback()
            raise

    async def _begin(self) -> None:
        # A cancelled await does not stop the BEGIN in aiosqlite's thread: the shared
        # connection would stay inside a transaction nobody ends, and every later write
        # would fail. So the BEGIN is finished and rolled back before the task gives way.
        begin = asyncio.ensure_future(self._patiently(lambda: self.conn.execute("BEGIN IMMEDIATE")))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await begin
            await self._rollback()
            raise

    async def _rollback(self) -> None:
        # SQLITE_FULL and SQLITE_IOERR may have rolled back already; a failed COMMIT may
        # not have: never leave the shared connection inside a transaction.
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    async def _patiently(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` (one statement, safe to repeat) until no other process holds the
        lock: jittered backoff between tries, `StoreBusy` after `busy_retry_s` in all."""
        deadline = time.monotonic() + self.busy_retry_s
        pause = 0.05
        tries = 0
        while True:
            try:
                return await attempt()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                tries += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning(
                        "the database stayed locked by another process for %.0f s (%d tries)",
                        self.busy_retry_s,
                        tries,
                    )
                    raise StoreBusy(f"database is locked by another process: {exc}") from exc
                if tries == 1:
                    log.info("the database is locked by another process, waiting")
            await asyncio.sleep(min(left, pause * random.uniform(0.5, 1.0)))
            pause = min(pause * 2, 1.0)

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        async def attempt() -> list[Row]:
            async with self.conn.execute(sql, params) as cur:
                return list(await cur.fetchall())

        return await self._patiently(attempt)

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> Row | None:
        async def attempt() -> Row | None:
            async with self.conn.execute(sql, params) as cur:
                return await cur.fetchone()

        return await self._patiently(attempt)

    def classify(self, exc: Exception) -> Exception | None:
        """What a failed transaction raises instead of `exc`, or None to keep it."""
        if not isinstance(exc, sqlite3.OperationalError):
            return None
        message = str(exc).lower()
        if is_busy(exc):
            return StoreBusy(message)
        if _primary_code(exc) in _WRITE_FAILURES:
            return StoreUnavailable(message)
        return None

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and empty it, so deleted data leaves the
        disk; False if a reader blocked it (the data stays in the WAL until a later one)."""
        row = await self.fetchone("PRAGMA wal_checkpoint(TRUNCATE)", ())
        return row is None or not row["busy"]


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (with any extended code): another connection holds the
    lock, and trying again later may work. By error code only, never by message text."""
    return _primary_code(exc) in _BUSY_CODES
