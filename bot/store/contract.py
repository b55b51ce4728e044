"""What the store code sees of a database, the same on SQLite and PostgreSQL.

The repositories annotate with these types (re-exported by `bot.store.db`) instead of
aiosqlite's or psycopg's, so that one SQL text and one row access serve both backends.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Iterable, Iterator
from typing import Any, Protocol, overload

import psycopg


class Row(Protocol):
    """A result row as `sqlite3.Row` is one, on both backends (`bot.store.postgres_backend.
    PgRow` on PostgreSQL): by column name (case-insensitive) or position, iterating its
    values. The store reads columns by name."""

    @overload
    def __getitem__(self, key: int | str, /) -> Any: ...

    @overload
    def __getitem__(self, key: slice, /) -> tuple[Any, ...]: ...

    def keys(self) -> Iterable[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Cursor(Protocol):
    """What `Connection.execute` gives. No `lastrowid`: PostgreSQL has none, so inserts
    read their new key with `RETURNING id`."""

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> Iterable[Row]: ...


class PendingCursor(Awaitable[Cursor], contextlib.AbstractAsyncContextManager[Cursor], Protocol):
    """`await conn.execute(...)` or `async with conn.execute(...) as cur`."""


class Connection(Protocol):
    """What `Database.transaction()` yields, on both backends. SQL uses `?` placeholders
    on both; the PostgreSQL adapter translates them."""

    def execute(self, sql: str, parameters: Iterable[Any] = ..., /) -> PendingCursor: ...

    def executemany(
        self, sql: str, parameters: Iterable[Iterable[Any]], /
    ) -> Awaitable[Cursor]: ...


# A unique or foreign-key violation, on either backend: `except IntegrityError:`.
# On PostgreSQL the violation aborts the whole transaction: catch it outside the
# `transaction()` block, never to carry on inside it.
IntegrityError: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


class DatabaseTooNew(RuntimeError):
    """The database was written by a newer Flurfunk; refusing to touch it."""


class StoreUnavailable(RuntimeError):
    """The store cannot be written (disk full, read-only file, I/O error, the database
    server out of reach)."""


class StoreBusy(RuntimeError):
    """Another process held the database lock longer than `Database.busy_retry_s`.

    Not a fault of the store (no read-only mode): what failed can simply be tried again
    later; the sync loop and the outbox sender do so on their next round."""
