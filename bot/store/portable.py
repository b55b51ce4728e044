"""Small pieces that make one SQL text mean the same on SQLite and PostgreSQL.

SQLite's `instr()` and `lastrowid` do not exist in PostgreSQL, `lower()`
folds only ASCII in SQLite but every letter in PostgreSQL, and `LIKE` ignores ASCII case
in SQLite only. The store uses the forms here instead, so a statement needs no dialect switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.db import Connection

# Append to a `LIKE ?` whose parameter comes from `like_prefix`/`like_containing`: the
# backslash is the escape character on both backends (PostgreSQL's default, SQLite's on
# request).
LIKE_ESCAPE = "ESCAPE '\\'"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_prefix(prefix: str) -> str:
    """The `LIKE` parameter for "starts with `prefix`", wildcards in `prefix` taken literally.

    For keys and Matrix IDs only: SQLite's `LIKE` ignores ASCII case, PostgreSQL's does not;
    keys are built by the bot, so the two find the same rows."""
    return _escaped(prefix) + "%"


def like_containing(text: str) -> str:
    """The `LIKE` parameter for "contains `text`" (the portable `instr(column, text) > 0`).
    SQLite also finds other-case spellings: callers that need the exact text check the
    candidates in Python."""
    return "%" + _escaped(text) + "%"


def ascii_lower(text: str) -> str:
    """`text` with A-Z in lower case and every other letter as it is: what SQLite's
    `lower()` does (without ICU), so a comparison made in Python gives the answers the
    store gave when it compared with `lower()` in SQLite."""
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


async def insert_id(conn: Connection, insert: str, params: Sequence[Any]) -> int:
    """Run `insert` (one row, into a table keyed by `id`) and return the new row's `id`:
    `RETURNING` instead of SQLite's `lastrowid`."""
    new = await insert_id_unless_conflict(conn, insert, params)
    if new is None:
        raise RuntimeError(f"no row inserted: {insert}")
    return new


async def insert_id_unless_conflict(
    conn: Connection, insert: str, params: Sequence[Any]
) -> int | None:
    """`insert_id` for an `insert` with `ON CONFLICT DO NOTHING`: None when it skipped
    the row."""
    cur = await conn.execute(insert + " RETURNING id", params)
    row = await cur.fetchone()
    return None if row is None else int(row["id"])
