"""Rows are read by column name: the order of a SELECT does not matter, a converted value
replaces its raw column, and a column the row type needs but the SELECT forgot fails loudly
instead of leaving a default in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiosqlite
import pytest

from bot.store.rows import from_row


@dataclass(frozen=True)
class Seat:
    offer_id: str
    user_id: str
    reminded: bool
    note: str | None = None


@pytest.fixture
async def conn() -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(":memory:") as connection:
        connection.row_factory = aiosqlite.Row
        await connection.execute(
            "CREATE TABLE seats (offer_id TEXT, user_id TEXT, reminded INTEGER, note TEXT)"
        )
        await connection.execute("INSERT INTO seats VALUES ('h-1', '@anna:x', 1, 'vorne')")
        yield connection


async def one(conn: aiosqlite.Connection, sql: str) -> aiosqlite.Row:
    async with conn.execute(sql) as cur:
        row = await cur.fetchone()
    assert row is not None
    return row


async def test_fields_come_from_their_columns_whatever_the_select_order(
    conn: aiosqlite.Connection,
) -> None:
    row = await one(conn, "SELECT note, reminded, user_id, offer_id FROM seats")
    seat = from_row(Seat, row, reminded=bool(row["reminded"]))
    assert seat == Seat("h-1", "@anna:x", True, "vorne")
    assert seat.reminded is True  # the converted value, not the stored 1


async def test_an_alias_names_the_field(conn: aiosqlite.Connection) -> None:
    row = await one(
        conn, "SELECT offer_id, user_id, reminded, 'hinten' AS note, note AS old_note FROM seats"
    )
    assert from_row(Seat, row).note == "hinten"


async def test_a_column_missing_from_the_select_fails_instead_of_defaulting(
    conn: aiosqlite.Connection,
) -> None:
    row = await one(conn, "SELECT offer_id, user_id, reminded FROM seats")
    with pytest.raises(IndexError):
        from_row(Seat, row)
