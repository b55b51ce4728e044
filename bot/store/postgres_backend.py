"""The PostgreSQL store: a psycopg 3 connection pool behind the same `Database`.

psycopg 3 (async) rather than asyncpg: the store code is DB-API shaped — `execute`,
`executemany`, a cursor with `rowcount`, `fetchone`, `fetchall` — exactly like aiosqlite,
so one thin adapter (`PgConnection`) serves every repository unchanged; asyncpg's own
API (`fetch`, `fetchrow`, `$1` placeholders, status strings instead of rowcounts) would
need a second code path in every repository.

Writers are serialised as on SQLite: `Database` holds its in-process lock around every
transaction, and each transaction takes one transaction-scoped advisory lock right after
`BEGIN`, so two bot processes (or `import-staff` next to the bot) write one at a time, as
`BEGIN IMMEDIATE` makes them on SQLite. The isolation level stays READ COMMITTED on
purpose: every statement after the lock sees what earlier holders committed (a
REPEATABLE READ snapshot would be taken before the lock is granted). Reads outside a
transaction run on any pooled connection without either lock (MVCC).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.adapt import Buffer, Loader
from psycopg_pool import AsyncConnectionPool

from bot.store.contract import Connection, Row, StoreBusy, StoreUnavailable
from bot.store.postgres_erasure import rewrite_everything, running_transactions_ended
from bot.store.sql_dialect import PgRow, pg_row, to_params, to_psycopg

log = logging.getLogger(__name__)

PASSWORD_ENV = "FLURFUNK_DATABASE_PASSWORD"
# The advisory lock every writer takes: "Flurfunk" in ASCII, one constant for all
# processes on the database.
WRITER_LOCK = 0x466C_7572_6675_6E6B
POOL_SIZE = 10
# How long a statement waits for a pooled connection before the store counts as out of reach.
CONNECT_TIMEOUT_S = 10.0
# Another writer held the lock too long, or the server gave up on a deadlock.
_BUSY_STATES = frozenset({"55P03", "40001", "40P01", "57014"})
# Disk full and other resource exhaustion (53), system errors (58), connection failures
# (08), server shutdown (57P01-57P03), a read-only server (a standby after failover).
_UNAVAILABLE_CLASSES = ("53", "58", "08", "57P0")
_UNAVAILABLE_STATES = frozenset({"25006"})
Raw = psycopg.AsyncConnection[PgRow]
RawCursor = psycopg.AsyncCursor[PgRow]
T = TypeVar("T")


def redacted(url: str) -> str:
    """`url` without its password (in the user part or as a `password=` parameter): what
    logs, errors and `check-config` show."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    if netloc[1]:
        user = netloc[0].partition(":")[0]
        parts = parts._replace(netloc=f"{user}@{netloc[2]}")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def password_kwargs() -> dict[str, Any]:
    """psycopg's connection arguments beside the URL: the password from the environment,
    which wins over one in the URL, so the config file need not hold it."""
    password = os.environ.get(PASSWORD_ENV)
    return {"password": password} if password else {}


async def _connect(url: str) -> Raw:
    """A direct connection outside the pool (probes, tools), with the password from the
    environment."""
    return await psycopg.AsyncConnection.connect(
        url,
        **password_kwargs(),
        autocommit=True,
        row_factory=pg_row,
        connect_timeout=int(CONNECT_TIMEOUT_S),
    )


class _NumberLoader(Loader):
    """`numeric` (what PostgreSQL's SUM and AVG of integers give) as int when whole, else
    float: the types SQLite gives for the same SQL, never `Decimal`."""

    def load(self, data: Buffer) -> int | float:
        number = Decimal(bytes(data).decode())
        return int(number) if number == number.to_integral_value() else float(number)


async def _configure(conn: Raw) -> None:
    conn.adapters.register_loader("numeric", _NumberLoader)


class _Pending:
    """One statement, run when awaited or entered (`PendingCursor`)."""

    def __init__(self, raw: Raw, sql: str, params: Iterable[Any]) -> None:
        self._raw = raw
        self._sql = to_psycopg(sql)
        self._params = to_params(params)
        self._cursor: psycopg.AsyncCursor[PgRow] | None = None

    async def _run(self) -> psycopg.AsyncCursor[PgRow]:
        cursor = self._raw.cursor()
        await cursor.execute(self._sql, self._params)
        return cursor

    def __await__(self) -> Generator[Any, None, psycopg.AsyncCursor[PgRow]]:
        return self._run().__await__()

    async def __aenter__(self) -> psycopg.AsyncCursor[PgRow]:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """A pooled psycopg connection as the store's `Connection`: `?` placeholders, rows
    like `sqlite3.Row`."""

    def __init__(self, raw: Raw) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Iterable[Any] = (), /) -> _Pending:
        return _Pending(self.raw, sql, parameters)

    async def executemany(
        self, sql: str, parameters: Iterable[Iterable[Any]], /
    ) -> psycopg.AsyncCursor[PgRow]:
        cursor = self.raw.cursor()
        await cursor.executemany(to_psycopg(sql), [to_params(p) for p in parameters])
        return cursor


class PostgresBackend:
    """A pool of connections; `Database` holds its lock around each transaction."""

    dialect = "postgresql"

    def __init__(self, url: str, *, busy_retry_s: float, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.busy_retry_s = busy_retry_s
        self._pool = AsyncConnectionPool(
            url,
            kwargs={**password_kwargs(), "autocommit": True, "row_factory": pg_row},
            connection_class=psycopg.AsyncConnection[PgRow],
            configure=_configure,
            min_size=1,
            max_size=pool_size,
            timeout=CONNECT_TIMEOUT_S,
            open=False,
        )
        self._out_of_reach = False

    def describe(self) -> str:
        return redacted(self.url)

    async def open(self) -> None:
        # One plain connection first: the pool would only report a timeout, this one says
        # why (refused, unknown database, authentication failed).
        try:
            first = await _connect(self.url)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {self.describe()}: {exc}") from exc
        await first.close()
        await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        log.info("store: PostgreSQL at %s", self.describe())

    async def close(self) -> None:
        await self._pool.close()

    async def schema_version(self) -> int:
        # Under the writer lock: two processes starting at once must not both create it.
        # Created only when missing: even IF NOT EXISTS is refused by a read-only server,
        # which should still open (and then refuse writes: read-only mode).
        async with self.transaction() as conn:
            async with conn.execute("SELECT to_regclass('schema_version') AS found") as cur:
                found = await cur.fetchone()
            if found is None or found["found"] is None:
                await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            async with conn.execute("SELECT MAX(version) AS version FROM schema_version") as cur:
                row = await cur.fetchone()
        return int(row["version"]) if row and row["version"] is not None else 0

    async def run_script(self, conn: Connection, sql: str) -> None:
        if not isinstance(conn, PgConnection):
            raise TypeError(f"not a PostgreSQL connection: {conn!r}")
        # The whole file in one call, untranslated: a migration has no parameters, and
        # PostgreSQL splits the statements itself (dollar quoting included).
        await conn.raw.execute(sql.encode())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN, the writer lock, … COMMIT, or ROLLBACK on any error; errors unchanged."""
        # One round trip. lock_timeout bounds the wait for the writer lock (and for row
        # locks): then `StoreBusy`, as SQLite's busy retry ends. (0 would mean no limit.)
        begin = (
            f"BEGIN; SET LOCAL lock_timeout = {max(1, int(self.busy_retry_s * 1000))}; "
            f"SELECT pg_advisory_xact_lock({WRITER_LOCK})"
        ).encode()
        raw, _ = await self._borrow(lambda raw: raw.execute(begin))
        try:
            yield PgConnection(raw)
            await raw.execute(b"COMMIT")
        except BaseException:
            await _rollback(raw)
            raise
        finally:
            await self._pool.putconn(raw)

    async def _borrow(self, first: Callable[[Raw], Awaitable[T]]) -> tuple[Raw, T]:
        """A pooled connection on which `first` (safe to repeat) has run, and its result.

        A connection the server closed while it idled in the pool (a restart, a failover)
        is dropped and `first` tried once more on a fresh one. Before that, and while the
        server stays out of reach, one direct connection attempt says whether it is there:
        a refused connection fails at once, where the pool would wait its full timeout for
        a connection it cannot make."""
        if self._out_of_reach:
            await self._reach()
        for attempt in (1, 2):
            raw = await self._pool.getconn()
            try:
                return raw, await first(raw)
            except BaseException as exc:
                await self._pool.putconn(raw)  # a broken one is discarded by the pool
                if attempt == 2 or not raw.broken or not isinstance(exc, psycopg.Error):
                    raise
            self._out_of_reach = True
            await self._reach()
        raise AssertionError("unreachable")

    async def _reach(self) -> None:
        """Raise `psycopg.OperationalError` unless the server takes a connection again;
        then let the pool drop every connection that died meanwhile."""
        probe = await _connect(self.url)
        await probe.close()
        self._out_of_reach = False
        await self._pool.check()

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Row]:
        return list(await self._read(sql, params, lambda cur: cur.fetchall()))

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> Row | None:
        return await self._read(sql, params, lambda cur: cur.fetchone())

    async def _read(
        self, sql: str, params: tuple[Any, ...], fetch: Callable[[RawCursor], Awaitable[T]]
    ) -> T:
        statement, values = to_psycopg(sql), to_params(params)

        async def run(raw: Raw) -> T:
            async with raw.cursor() as cur:
                await cur.execute(statement, values)
                return await fetch(cur)

        return await self._outside(run)

    async def _outside(self, run: Callable[[Raw], Awaitable[T]]) -> T:
        """`run` on a pooled connection outside any transaction, errors classified."""
        try:
            raw, result = await self._borrow(run)
        except psycopg.Error as exc:
            error = self.classify(exc)
            if error is None:
                raise
            raise error from exc
        await self._pool.putconn(raw)
        return result

    def classify(self, exc: Exception) -> Exception | None:
        """What a failure raises instead of `exc` (`StoreBusy`, `StoreUnavailable`), or
        None to keep it. By SQLSTATE, never by message text."""
        if not isinstance(exc, psycopg.Error):
            return None
        state = exc.sqlstate or ""
        if state in _BUSY_STATES:
            return StoreBusy(f"the store stayed locked by another writer: {exc}")
        if state.startswith(_UNAVAILABLE_CLASSES) or state in _UNAVAILABLE_STATES:
            return StoreUnavailable(f"{self.describe()}: {exc}")
        if not state and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            # No SQLSTATE: the connection itself failed (lost, refused, pool timeout).
            return StoreUnavailable(f"{self.describe()}: {exc}")
        return None

    async def checkpoint(self) -> bool:
        """Rewrite every table without the bytes of deleted rows (`postgres_erasure`). False
        if another session's transaction outlasted HORIZON_WAIT_S (VACUUM FULL keeps the rows
        it may still see) or held a table for LOCK_WAIT_S: the next checkpoint removes them."""
        ended = await running_transactions_ended(self.fetchone)
        rewritten = await self._outside(rewrite_everything)
        return ended and rewritten


async def _rollback(raw: Raw) -> None:
    # A failed COMMIT or a cancelled statement can leave the connection in any state: a
    # connection that cannot be rolled back is closed, and the pool replaces it.
    if raw.closed or raw.info.transaction_status == pq.TransactionStatus.IDLE:
        return
    try:
        await raw.execute(b"ROLLBACK")
    except psycopg.Error:
        log.warning("rollback failed; dropping the connection", exc_info=True)
        await raw.close()


async def read_schema_version(url: str) -> int | None:
    """The schema version of the database at `url` without writing anything (None: no
    `schema_version` table yet, an empty database); raises `psycopg.Error` if the server
    cannot be reached. For `check-config` and the tools."""
    async with await _connect(url) as conn:
        cur = await conn.execute(b"SELECT to_regclass('schema_version') IS NOT NULL AS found")
        exists = await cur.fetchone()
        if not exists or not exists["found"]:
            return None
        cur = await conn.execute(b"SELECT MAX(version) AS version FROM schema_version")
        row = await cur.fetchone()
    return int(row["version"]) if row and row["version"] is not None else 0


# Collations that sort text by byte order, as SQLite does: lists come out the same on both.
BYTE_ORDER_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})


async def read_collation(url: str) -> str:
    """The collation the database at `url` sorts text by (`datcollate`)."""
    async with await _connect(url) as conn:
        cur = await conn.execute(
            b"SELECT datcollate FROM pg_database WHERE datname = current_database()"
        )
        row = await cur.fetchone()
    return str(row["datcollate"]) if row else ""


def collation_note(collation: str) -> str | None:
    """A warning for `check-config` when text does not sort in byte order, or None."""
    if collation in BYTE_ORDER_COLLATIONS:
        return None
    return (
        f"the database sorts text by the locale {collation!r}, not in byte order as SQLite "
        "does, so lists may come out in another order; create it with LC_COLLATE 'C' "
        "(docs/operations.md, 'Moving to PostgreSQL')"
    )
