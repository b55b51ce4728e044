"""One aiosqlite connection, its pragmas, numbered migrations and transactions.

All access is serialised through one lock: a transaction spans awaits, and without the
lock another coroutine's statements would land inside it on the shared connection.
A transaction opened while one is already running in the same task joins it, so a
command handler can wrap its service calls and its replies into one atomic unit.

Another process may hold SQLite's write lock for a while (`flurfunk import-staff` while the
bot runs). SQLite waits `busy_timeout` for it; after that `BEGIN IMMEDIATE` and reads
outside a transaction are tried again with jittered backoff for up to `busy_retry_s`, and
only then fail with `StoreBusy` (review finding S-08). The error is recognised by SQLite's
error code (SQLITE_BUSY, SQLITE_LOCKED and their extended codes), never by its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flurfunk_in_transaction", default=False
)


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer Flurfunk; refusing to touch it."""


class StoreUnavailable(RuntimeError):
    """The store cannot be written (disk full, read-only file, I/O error)."""


class StoreBusy(RuntimeError):
    """Another process held the database lock longer than `Database.busy_retry_s`.

    Not a fault of the store (no read-only mode): what failed can simply be tried again
    later; the sync loop and the outbox sender do so on their next round."""


T = TypeVar("T")
# SQLite's own wait for a lock, per attempt (PRAGMA busy_timeout).
BUSY_TIMEOUT_MS = 5_000
# How long a transaction (or a read) keeps trying while another process holds the lock,
# in total: `import-staff` writes in short batches, so the bot gets in between two.
BUSY_RETRY_S = 30.0
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged migration, in order."""
    found = []
    for entry in resources.files("bot.store.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration numbers must be 1..n without gaps, got {versions}")
    return found


def stored_schema_version(path: Path) -> int:
    """The schema version of the database file at `path`, read without writing anything
    (read-only mode, no migration): tools check it against `migrations()` before they open a
    store that a running bot may be using. Raises `sqlite3.Error` if it cannot be read."""
    uri = path.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
    return int(row["version"]) if row and row["version"] is not None else 0


def _statements(script: str) -> Iterable[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement and not all(
                s.strip().startswith("--") or not s.strip() for s in statement.splitlines()
            ):
                yield statement
    if buffer.strip() and not all(
        s.strip().startswith("--") or not s.strip() for s in buffer.splitlines()
    ):
        raise RuntimeError(f"incomplete SQL statement in migration: {buffer[:80]!r}")


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


class Database:
    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        busy_retry_s: float = BUSY_RETRY_S,
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.busy_timeout_ms = busy_timeout_ms
        self.busy_retry_s = busy_retry_s
        # False from the first failed write until `probe()` succeeds again; whoever runs
        # the bot (bot.chat.readonly) is told through `on_unavailable`.
        self.writable = True
        self.on_unavailable: list[Callable[[StoreUnavailable], None]] = []
        # With one connection and one lock, the name of a transaction says who made the
        # others wait: each holder is reported with the seconds it held the lock (/metrics).
        self.on_lock_released: list[Callable[[str, float], None]] = []

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
        await self.migrate()

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

    async def migrate(self) -> None:
        current = await self.schema_version()
        known = migrations()
        newest = known[-1][0] if known else 0
        if current > newest:
            raise DatabaseTooNew(
                f"{self.path} has schema version {current}, this Flurfunk knows up to "
                f"{newest}: upgrade Flurfunk or restore a matching backup"
            )
        for version, name, sql in known:
            if version <= current:
                continue
            log.info("applying migration %s", name)
            await self._begin()
            try:
                for statement in _statements(sql):
                    await self.conn.execute(statement)
                await self.conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
                await self.conn.execute("COMMIT")
            except BaseException:
                # SQLITE_FULL/IOERR may have rolled back already (S-23): the guarded
                # rollback keeps the real error instead of "no transaction is active".
                await self._rollback()
                raise

    @asynccontextmanager
    async def transaction(self, name: str) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or join the transaction this task already holds.

        `name` ("coffee.run_round") is what /metrics reports the lock's holding time under;
        a joined transaction counts towards the outer one's name."""
        if _in_transaction.get():
            yield self.conn
            return
        async with self._held(name):
            token = _in_transaction.set(True)
            try:
                await self._begin()
                try:
                    yield self.conn
                    await self.conn.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise
            except sqlite3.OperationalError as exc:
                error = _classify(exc)
                if isinstance(error, StoreUnavailable):
                    self._unavailable(error)
                raise error from exc
            except StoreUnavailable as exc:
                self._unavailable(exc)
                raise
            finally:
                _in_transaction.reset(token)

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

    async def _rollback(self) -> None:
        # SQLITE_FULL and SQLITE_IOERR may have rolled back already; a failed COMMIT may
        # not have: never leave the shared connection inside a transaction.
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

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
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
        except (StoreUnavailable, StoreBusy):
            return False
        self.writable = True
        return True

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and empty it, so deleted data leaves the
        disk; False if a reader blocked it (the data stays in the WAL until a later one)."""
        row = await self.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
        return row is None or not row["busy"]

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async def attempt() -> list[aiosqlite.Row]:
            async with self.conn.execute(sql, tuple(params)) as cur:
                return list(await cur.fetchall())

        return await self._query(attempt)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async def attempt() -> aiosqlite.Row | None:
            async with self.conn.execute(sql, tuple(params)) as cur:
                return await cur.fetchone()

        return await self._query(attempt)

    async def _query(self, attempt: Callable[[], Awaitable[T]]) -> T:
        if _in_transaction.get():
            # Inside our own transaction: its errors are classified when it ends.
            return await attempt()
        async with self._held("read"):
            return await self._patiently(attempt)

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

    async def execute(
        self, sql: str, params: Iterable[Any] = (), *, name: str = "db.execute"
    ) -> int:
        """One statement in its own transaction (or the caller's); returns rowcount.

        `name` is the transaction's name in /metrics, as for `transaction()`."""
        async with self.transaction(name) as conn:
            cur = await conn.execute(sql, tuple(params))
            return cur.rowcount


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (with any extended code): another connection holds the
    lock, and trying again later may work. By error code only, never by message text."""
    return _primary_code(exc) in _BUSY_CODES


def _classify(exc: sqlite3.OperationalError) -> Exception:
    message = str(exc).lower()
    if is_busy(exc):
        return StoreBusy(message)
    code = getattr(exc, "sqlite_errorcode", None)
    write_failures = {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
    }
    if code in write_failures or (code is not None and code & 0xFF in write_failures):
        return StoreUnavailable(message)
    return exc
