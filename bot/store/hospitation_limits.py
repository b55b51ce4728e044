"""The bookkeeping of the hospitation limits (review finding S-11): open offers per host,
sign-ups per person and offer, and the budget that coalesces the host's notices and the
announcement edits of an offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.store.db import Database
from bot.store.rows import from_row


@dataclass(frozen=True)
class NoticeBudget:
    """The host-notice token bucket of one offer and the changes not told yet."""

    offer_id: str
    tokens: float
    updated_at: float
    joined: int = 0
    left: int = 0

    @property
    def untold(self) -> bool:
        return bool(self.joined or self.left)


class HospitationLimits:
    db: Database

    async def open_offer_ids(self, host: str, first_day: date) -> list[str]:
        """The host's offers that are not cancelled and not over by `first_day`."""
        rows = await self.db.fetchall(
            "SELECT id FROM hospitation_offers WHERE host = ? AND status = 'open' "
            "AND end_date >= ? ORDER BY start_date, id",
            (host, first_day.isoformat()),
        )
        return [str(r["id"]) for r in rows]

    async def joins(self, offer_id: str, user_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT joins FROM hospitation_joins WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
        )
        return 0 if row is None else int(row["joins"])

    async def joins_of(self, user_id: str) -> dict[str, int]:
        """How often the person signed up for each offer (for `!meinedaten`)."""
        rows = await self.db.fetchall(
            "SELECT offer_id, joins FROM hospitation_joins WHERE user_id = ? ORDER BY offer_id",
            (user_id,),
        )
        return {str(r["offer_id"]): int(r["joins"]) for r in rows}

    async def count_join(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_joins (offer_id, user_id, joins) VALUES (?, ?, 1) "
            # Qualified: PostgreSQL finds a bare `joins` ambiguous (table or `excluded`).
            "ON CONFLICT (offer_id, user_id) DO UPDATE SET joins = hospitation_joins.joins + 1",
            (offer_id, user_id),
            name="hospitation_limits.count_join",
        )

    async def notice_budget(self, offer_id: str) -> NoticeBudget | None:
        row = await self.db.fetchone(
            "SELECT offer_id, tokens, updated_at, joined, left_ FROM hospitation_notices "
            "WHERE offer_id = ?",
            (offer_id,),
        )
        return None if row is None else from_row(NoticeBudget, row, left=row["left_"])

    async def save_notice_budget(self, budget: NoticeBudget) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_notices "
            "(offer_id, tokens, updated_at, joined, left_) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (offer_id) DO UPDATE SET tokens = excluded.tokens, "
            "updated_at = excluded.updated_at, joined = excluded.joined, left_ = excluded.left_",
            (budget.offer_id, budget.tokens, budget.updated_at, budget.joined, budget.left),
            name="hospitation_limits.save_notice_budget",
        )

    async def offers_with_untold_changes(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT offer_id FROM hospitation_notices WHERE joined + left_ > 0"
        )
        return [str(r["offer_id"]) for r in rows]
