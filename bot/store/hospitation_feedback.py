"""Hospitation feedback ("did it take place?") and the ties it leaves behind."""

from __future__ import annotations

from datetime import date

from bot.store.db import Database, Row
from bot.store.hospitation_rows import Feedback, HospitationTie, Role
from bot.store.rows import from_row

FEEDBACK_COLUMNS = "offer_id, user_id, role, took_place"
TIE_COLUMNS = (
    "offer_id, host, participant, happened_on, host_department, host_municipality, "
    "participant_department, participant_municipality"
)


def _feedback(row: Row) -> Feedback:
    took_place = row["took_place"]
    return from_row(Feedback, row, took_place=None if took_place is None else bool(took_place))


def _tie(row: Row) -> HospitationTie:
    return from_row(HospitationTie, row, happened_on=date.fromisoformat(row["happened_on"]))


class HospitationFeedback:
    """The hospitation_feedback and hospitation_ties tables; mixed into HospitationStore."""

    db: Database

    async def ask_feedback(self, offer_id: str, user_id: str, role: Role, now: float) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_feedback (offer_id, user_id, role, asked_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (offer_id, user_id, role, now),
            name="hospitation_feedback.ask_feedback",
        )

    async def feedback(self, offer_id: str) -> list[Feedback]:
        rows = await self.db.fetchall(
            f"SELECT {FEEDBACK_COLUMNS} FROM hospitation_feedback "
            "WHERE offer_id = ? ORDER BY role, user_id",
            (offer_id,),
        )
        return [_feedback(r) for r in rows]

    async def set_feedback(
        self, offer_id: str, user_id: str, took_place: bool | None, now: float
    ) -> bool:
        """Record (or with None: take back) an answer; False if the person was not asked."""
        changed = await self.db.execute(
            "UPDATE hospitation_feedback SET took_place = ?, answered_at = ? "
            "WHERE offer_id = ? AND user_id = ?",
            (None if took_place is None else int(took_place), now, offer_id, user_id),
            name="hospitation_feedback.set_feedback",
        )
        return changed > 0

    async def save_tie(self, tie: HospitationTie, now: float) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_ties (offer_id, host, participant, happened_on, "
            "host_department, host_municipality, participant_department, "
            "participant_municipality, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                tie.offer_id,
                tie.host,
                tie.participant,
                tie.happened_on.isoformat(),
                tie.host_department,
                tie.host_municipality,
                tie.participant_department,
                tie.participant_municipality,
                now,
            ),
            name="hospitation_feedback.save_tie",
        )

    async def delete_tie(self, offer_id: str, participant: str) -> None:
        await self.db.execute(
            "DELETE FROM hospitation_ties WHERE offer_id = ? AND participant = ?",
            (offer_id, participant),
            name="hospitation_feedback.delete_tie",
        )

    async def ties(self) -> list[HospitationTie]:
        rows = await self.db.fetchall(
            f"SELECT {TIE_COLUMNS} FROM hospitation_ties ORDER BY happened_on, offer_id, id"
        )
        return [_tie(r) for r in rows]

    async def feedback_of_user(self, user_id: str) -> list[Feedback]:
        rows = await self.db.fetchall(
            f"SELECT {FEEDBACK_COLUMNS} FROM hospitation_feedback "
            "WHERE user_id = ? ORDER BY offer_id",
            (user_id,),
        )
        return [_feedback(r) for r in rows]

    async def ties_of_user(self, user_id: str) -> list[HospitationTie]:
        rows = await self.db.fetchall(
            f"SELECT {TIE_COLUMNS} FROM hospitation_ties "
            "WHERE host = ? OR participant = ? ORDER BY happened_on, id",
            (user_id, user_id),
        )
        return [_tie(r) for r in rows]
