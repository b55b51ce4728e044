"""Kaffeeküche coffee breaks: offers of a short break, the breaks they turn into and the
ties they produce. Tables in migrations/0006_kitchen.sql.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bot.store.coffee_rows import FORGOTTEN_PREFIX
from bot.store.db import Database, Row
from bot.store.portable import insert_id
from bot.store.rows import from_row

OfferStatus = Literal["open", "matched", "expired", "cancelled"]


@dataclass(frozen=True)
class BreakOffer:
    id: int
    user_id: str
    minutes: int
    created_at: float
    expires_at: float
    status: OfferStatus


@dataclass(frozen=True)
class CoffeeBreak:
    id: int
    user_a: str | None
    user_b: str | None
    minutes: int
    created_at: float
    followup_at: float
    followup_sent: bool
    answer_a: str | None
    answer_b: str | None


@dataclass(frozen=True)
class Placement:
    """Where a person works, as far as their profile says."""

    department: str | None = None
    municipality: str | None = None


# Column names are the fields of BreakOffer and CoffeeBreak (read by `from_row`).
_OFFER = "SELECT id, user_id, minutes, created_at, expires_at, status FROM coffee_break_offers"
_BREAK = (
    "SELECT id, user_a, user_b, minutes, created_at, followup_at, followup_sent, "
    "answer_a, answer_b FROM coffee_breaks"
)


class CoffeeBreakStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- offers --------------------------------------------------------------------------

    async def open_offer(self, user_id: str) -> BreakOffer | None:
        row = await self.db.fetchone(_OFFER + " WHERE user_id = ? AND status = 'open'", (user_id,))
        return None if row is None else _offer(row)

    async def open_offers(self, now: float, exclude: str) -> list[BreakOffer]:
        """Open, not yet expired offers of others, longest waiting first."""
        rows = await self.db.fetchall(
            _OFFER + " WHERE status = 'open' AND expires_at > ? AND user_id != ? "
            "ORDER BY created_at, id",
            (now, exclude),
        )
        return [_offer(r) for r in rows]

    async def add_offer(self, user_id: str, minutes: int, now: float, expires_at: float) -> int:
        async with self.db.transaction("coffee_breaks.add_offer") as conn:
            return await insert_id(
                conn,
                "INSERT INTO coffee_break_offers (user_id, minutes, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (user_id, minutes, now, expires_at),
            )

    async def extend_offer(self, offer_id: int, minutes: int, expires_at: float) -> None:
        await self.db.execute(
            "UPDATE coffee_break_offers SET minutes = ?, expires_at = ? WHERE id = ?",
            (minutes, expires_at, offer_id),
            name="coffee_breaks.extend_offer",
        )

    async def close_offer(
        self, offer_id: int, status: OfferStatus, break_id: int | None = None
    ) -> bool:
        changed = await self.db.execute(
            "UPDATE coffee_break_offers SET status = ?, break_id = ? "
            "WHERE id = ? AND status = 'open'",
            (status, break_id, offer_id),
            name="coffee_breaks.close_offer",
        )
        return changed == 1

    async def due_offers(self, now: float) -> list[BreakOffer]:
        rows = await self.db.fetchall(
            _OFFER + " WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at, id",
            (now,),
        )
        return [_offer(r) for r in rows]

    # -- breaks --------------------------------------------------------------------------

    async def recent_partners(self, user_id: str, since: float) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT user_a, user_b FROM coffee_breaks "
            "WHERE created_at >= ? AND (user_a = ? OR user_b = ?)",
            (since, user_id, user_id),
        )
        partners = {p for r in rows for p in (r["user_a"], r["user_b"]) if p is not None}
        partners.discard(user_id)
        return partners

    async def add_break(
        self, user_a: str, user_b: str, minutes: int, now: float, followup_at: float
    ) -> int:
        async with self.db.transaction("coffee_breaks.add_break") as conn:
            return await insert_id(
                conn,
                "INSERT INTO coffee_breaks (user_a, user_b, minutes, created_at, followup_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (user_a, user_b, minutes, now, followup_at),
            )

    async def get_break(self, break_id: int) -> CoffeeBreak | None:
        row = await self.db.fetchone(_BREAK + " WHERE id = ?", (break_id,))
        return None if row is None else _break(row)

    async def due_followups(self, now: float) -> list[CoffeeBreak]:
        rows = await self.db.fetchall(
            _BREAK + " WHERE followup_sent = 0 AND followup_at <= ? ORDER BY followup_at, id",
            (now,),
        )
        return [_break(r) for r in rows]

    async def mark_followup_sent(self, break_id: int) -> None:
        await self.db.execute(
            "UPDATE coffee_breaks SET followup_sent = 1 WHERE id = ?",
            (break_id,),
            name="coffee_breaks.mark_followup_sent",
        )

    async def set_answer(self, break_id: int, side: Literal["a", "b"], answer: str | None) -> None:
        column = "answer_a" if side == "a" else "answer_b"
        await self.db.execute(
            f"UPDATE coffee_breaks SET {column} = ? WHERE id = ?",
            (answer, break_id),
            name="coffee_breaks.set_answer",
        )

    # -- ties ----------------------------------------------------------------------------

    async def record_tie(self, item: CoffeeBreak, a: Placement, b: Placement, now: float) -> bool:
        async with self.db.transaction("coffee_breaks.record_tie") as conn:
            cur = await conn.execute(
                "INSERT INTO coffee_break_ties (break_id, user_a, user_b, "
                "department_a, department_b, municipality_a, municipality_b, confirmed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    item.id,
                    item.user_a,
                    item.user_b,
                    a.department,
                    b.department,
                    a.municipality,
                    b.municipality,
                    now,
                ),
            )
            return cur.rowcount == 1

    async def drop_tie(self, break_id: int) -> None:
        await self.db.execute(
            "DELETE FROM coffee_break_ties WHERE break_id = ?",
            (break_id,),
            name="coffee_breaks.drop_tie",
        )

    async def has_tie(self, break_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM coffee_break_ties WHERE break_id = ?", (break_id,)
        )
        return row is not None

    # -- profiles (owned by the profile feature; optional) -------------------------------

    async def placements(self, user_ids: list[str]) -> dict[str, Placement]:
        """Department and municipality per person from the profiles table (migration 0002
        made it), if the person has a profile. Never fails for people without one."""
        if not user_ids:
            return {}
        marks = ",".join("?" for _ in user_ids)
        rows = await self.db.fetchall(
            f"SELECT user_id, department, municipality FROM profiles WHERE user_id IN ({marks})",
            user_ids,
        )
        return {
            str(row["user_id"]): Placement(
                department=_blank_to_none(row["department"]),
                municipality=_blank_to_none(row["municipality"]),
            )
            for row in rows
        }

    # -- personal data -------------------------------------------------------------------

    async def export(self, user_id: str) -> dict[str, Any]:
        offers = await self.db.fetchall(
            "SELECT minutes, created_at, expires_at, status FROM coffee_break_offers "
            "WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        breaks = await self.db.fetchall(
            _BREAK + " WHERE user_a = ? OR user_b = ? ORDER BY id", (user_id, user_id)
        )
        result_breaks = []
        for row in breaks:
            item = _break(row)
            mine_a = item.user_a == user_id
            result_breaks.append(
                {
                    "with": _shown(item.user_b if mine_a else item.user_a),
                    "minutes": item.minutes,
                    "at": item.created_at,
                    "my_answer_did_we_talk": item.answer_a if mine_a else item.answer_b,
                    "counted_as_tie": await self.has_tie(item.id),
                }
            )
        return {
            "offers": [
                {
                    "minutes": r["minutes"],
                    "offered_at": r["created_at"],
                    "until": r["expires_at"],
                    "status": r["status"],
                }
                for r in offers
            ],
            "breaks": result_breaks,
        }

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM coffee_break_offers "  # names the UNION's column
            "UNION SELECT user_a FROM coffee_breaks WHERE user_a IS NOT NULL "
            "UNION SELECT user_b FROM coffee_breaks WHERE user_b IS NOT NULL "
            "UNION SELECT user_a FROM coffee_break_ties WHERE user_a IS NOT NULL "
            "UNION SELECT user_b FROM coffee_break_ties WHERE user_b IS NOT NULL"
        )
        return {str(r["user_id"]) for r in rows}

    async def forget(self, user_id: str, keep_places: Iterable[str] = ()) -> None:
        """Offers go; in breaks and ties the person becomes a placeholder (the same
        convention as the coffee matches, one placeholder for all of the person's rows),
        so the other person's history and the tie counts stay whole. Department and
        municipality stay only if they are one of `keep_places` (the configured
        directory); a name the person typed in themselves goes."""
        placeholder = FORGOTTEN_PREFIX + secrets.token_hex(8)
        keep = list(dict.fromkeys(keep_places))
        marks = ",".join("?" * len(keep)) or "NULL"
        async with self.db.transaction("coffee_breaks.forget") as conn:
            await conn.execute("DELETE FROM coffee_break_offers WHERE user_id = ?", (user_id,))
            for side in ("a", "b"):
                await conn.execute(
                    f"UPDATE coffee_breaks SET user_{side} = ? WHERE user_{side} = ?",
                    (placeholder, user_id),
                )
                await conn.execute(
                    f"UPDATE coffee_break_ties SET user_{side} = ?, "
                    f"department_{side} = CASE WHEN department_{side} IN ({marks}) "
                    f"THEN department_{side} END, "
                    f"municipality_{side} = CASE WHEN municipality_{side} IN ({marks}) "
                    f"THEN municipality_{side} END "
                    f"WHERE user_{side} = ?",
                    (placeholder, *keep, *keep, user_id),
                )

    # -- retention -----------------------------------------------------------------------

    async def prune(self, breaks_before: float, offers_before: float) -> int:
        """Delete breaks (with their ties) and closed offers older than the cut-offs."""
        async with self.db.transaction("coffee_breaks.prune") as conn:
            await conn.execute(
                "DELETE FROM coffee_break_offers WHERE status != 'open' AND created_at < ?",
                (offers_before,),
            )
            await conn.execute(
                "DELETE FROM coffee_break_ties WHERE break_id IN "
                "(SELECT id FROM coffee_breaks WHERE created_at < ?)",
                (breaks_before,),
            )
            cur = await conn.execute(
                "DELETE FROM coffee_breaks WHERE created_at < ?", (breaks_before,)
            )
            return cur.rowcount


def is_forgotten(person: str | None) -> bool:
    return person is None or person.startswith(FORGOTTEN_PREFIX)


def _shown(person: str | None) -> str | None:
    """A forgotten person is exported as null ("a former person")."""
    return None if is_forgotten(person) else person


def _blank_to_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _offer(row: Row) -> BreakOffer:
    return from_row(BreakOffer, row)


def _break(row: Row) -> CoffeeBreak:
    return from_row(CoffeeBreak, row, followup_sent=bool(row["followup_sent"]))
