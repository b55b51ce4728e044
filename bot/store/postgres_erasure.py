"""Erasure on PostgreSQL: no byte of deleted rows stays in the table and index files (what
SQLite's secure delete and WAL checkpoint give), and the checkpoint that ensures it never
holds up the store for long.

A plain VACUUM only marks the space free, leaving the old bytes on the page; VACUUM FULL
rewrites every table and its indexes into new files, ANALYZE samples their statistics anew
without the deleted rows, and `pg_statistic` is rewritten to drop the replaced statistics,
which held sampled values such as a Matrix ID (skipped with a warning unless the bot's role
owns the database). Every table, not only the erased ones: tracking which tables a
transaction touched would cost every write, while erasures are rare and take seconds on a
municipality's store. The WAL is PostgreSQL's own: its segments are overwritten when
recycled (docs/operations.md, "Backups").

VACUUM FULL needs each table to itself while it copies it. A backup (`pg_dump`) holds a
share lock on every table for the whole dump, and a waiting VACUUM FULL would queue every
other query on that table behind it, while the bot holds its store lock: the bot would stand
still until the dump ends. So the lock is waited for at most LOCK_WAIT_S; then the
checkpoint reports False and the erasure tries again later (bot.services.privacy).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from bot.store.contract import Row
from bot.store.sql_dialect import PgRow

log = logging.getLogger(__name__)

# How long the checkpoint waits, holding the store lock, for other sessions' transactions to
# end (VACUUM FULL keeps what their snapshots can see); polled every HORIZON_POLL_S.
HORIZON_WAIT_S = 5.0
HORIZON_POLL_S = 0.05
# How long VACUUM FULL waits for a table that another session holds (a backup's lock).
LOCK_WAIT_S = 2.0
# Where ANALYZE keeps the values it samples (most common values, histogram bounds), so a
# forgotten person's Matrix ID too; replaced statistics stay behind as old row versions.
_STATISTICS = sql.Identifier("pg_catalog", "pg_statistic")

FetchOne = Callable[[str, tuple[Any, ...]], Awaitable[Row | None]]


async def running_transactions_ended(fetchone: FetchOne) -> bool:
    """Wait until every transaction running now, in any session of the cluster, has ended
    (at most HORIZON_WAIT_S); whether they did. A transaction of this process cannot be
    among them: `Database` holds its lock around the checkpoint."""
    now = await fetchone("SELECT pg_snapshot_xmax(pg_current_snapshot()) AS next", ())
    assert now is not None
    deadline = time.monotonic() + HORIZON_WAIT_S
    while True:
        oldest = await fetchone(
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= ? AS ended", (now["next"],)
        )
        if oldest is not None and oldest["ended"]:
            return True
        if time.monotonic() >= deadline:
            log.warning("a transaction of another session outlasted the checkpoint's wait")
            return False
        await asyncio.sleep(HORIZON_POLL_S)


async def rewrite_everything(raw: psycopg.AsyncConnection[PgRow]) -> bool:
    """VACUUM FULL with fresh statistics, then `pg_statistic`, on this connection (outside
    any transaction); False if a table stayed locked by another session for LOCK_WAIT_S (the
    tables rewritten until then stay rewritten)."""
    await raw.execute(sql.SQL("SET lock_timeout = {}").format(int(LOCK_WAIT_S * 1000)))
    try:
        await raw.execute(b"VACUUM (FULL, ANALYZE)")
        # After the ANALYZE above: the statistics it replaced are old row versions there.
        await raw.execute(sql.SQL("VACUUM FULL {}").format(_STATISTICS))
    except psycopg.errors.LockNotAvailable:
        log.warning("a table stayed locked by another session (a backup running?)")
        return False
    finally:
        await raw.execute(b"RESET lock_timeout")
    return True
