"""Hospitation offers, their places, announcements and the jobs' bookkeeping; feedback,
ties, wishes and dialogs come in from sibling mixins."""

from __future__ import annotations

from datetime import date
from typing import Literal

from bot.domain.hospitation import Seats
from bot.store.db import Database
from bot.store.hospitation_feedback import HospitationFeedback
from bot.store.hospitation_limits import HospitationLimits
from bot.store.hospitation_rows import (
    OFFER_COLUMNS,
    HospitationOffer,
    SeatRow,
    SeatState,
    offer_row,
)
from bot.store.hospitation_wishes import HospitationWishesAndDialogs
from bot.store.rows import from_row


class HospitationStore(HospitationFeedback, HospitationWishesAndDialogs, HospitationLimits):
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- offers --------------------------------------------------------------------------

    async def offer_id_taken(self, offer_id: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM hospitation_offers WHERE id = ?", (offer_id,))
        return row is not None

    async def insert_offer(self, offer: HospitationOffer) -> None:
        when = offer.when
        await self.db.execute(
            f"INSERT INTO hospitation_offers ({OFFER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                offer.id,
                offer.host,
                offer.host_name,
                offer.department,
                offer.municipality,
                offer.title,
                offer.description,
                when.start_date.isoformat(),
                when.end_date.isoformat(),
                None if when.start_time is None else f"{when.start_time:%H:%M}",
                None if when.end_time is None else f"{when.end_time:%H:%M}",
                offer.capacity,
                offer.status,
                offer.cancelled_by,
                offer.version,
                offer.created_at,
            ),
            name="hospitations.insert_offer",
        )

    async def offer(self, offer_id: str) -> HospitationOffer | None:
        row = await self.db.fetchone(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers WHERE id = ?", (offer_id,)
        )
        return None if row is None else offer_row(row)

    async def open_offers_from(self, first_day: date) -> list[HospitationOffer]:
        """Offers not cancelled that start on `first_day` or later, soonest first."""
        rows = await self.db.fetchall(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers "
            # All-day offers (no start time) first, as SQLite sorts NULL; PostgreSQL would
            # put them last without NULLS FIRST.
            "WHERE status = 'open' AND start_date >= ? "
            "ORDER BY start_date, start_time NULLS FIRST, id",
            (first_day.isoformat(),),
        )
        return [offer_row(r) for r in rows]

    async def offers_of_host(self, host: str) -> list[HospitationOffer]:
        rows = await self.db.fetchall(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers WHERE host = ? "
            "ORDER BY start_date, id",
            (host,),
        )
        return [offer_row(r) for r in rows]

    async def bump_version(self, offer_id: str) -> int:
        async with self.db.transaction("hospitations.bump_version") as conn:
            await conn.execute(
                "UPDATE hospitation_offers SET version = version + 1 WHERE id = ?", (offer_id,)
            )
            async with conn.execute(
                "SELECT version FROM hospitation_offers WHERE id = ?", (offer_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row["version"])

    async def cancel_offer(
        self, offer_id: str, by: Literal["host", "forgotten"], now: float
    ) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET status = 'cancelled', cancelled_by = ?, "
            "cancelled_at = ? WHERE id = ?",
            (by, now, offer_id),
            name="hospitations.cancel_offer",
        )

    # -- seats ---------------------------------------------------------------------------

    async def seat_rows(self, offer_id: str) -> list[SeatRow]:
        rows = await self.db.fetchall(
            "SELECT offer_id, user_id, state, reminded FROM hospitation_seats "
            "WHERE offer_id = ? ORDER BY seq",
            (offer_id,),
        )
        return [from_row(SeatRow, r, reminded=bool(r["reminded"])) for r in rows]

    async def seats(self, offer_id: str, capacity: int) -> Seats[str]:
        rows = await self.seat_rows(offer_id)
        return Seats(
            capacity,
            tuple(r.user_id for r in rows if r.state == "confirmed"),
            tuple(r.user_id for r in rows if r.state == "waiting"),
        )

    async def add_seat(self, offer_id: str, user_id: str, state: SeatState, now: float) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_seats (offer_id, user_id, state, seq, joined_at) "
            "VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM hospitation_seats "
            "WHERE offer_id = ?), ?)",
            (offer_id, user_id, state, offer_id, now),
            name="hospitations.add_seat",
        )

    async def remove_seat(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM hospitation_seats WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
            name="hospitations.remove_seat",
        )

    async def confirm_seat(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_seats SET state = 'confirmed' WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
            name="hospitations.confirm_seat",
        )

    async def seats_of_user(self, user_id: str) -> list[tuple[HospitationOffer, SeatState]]:
        rows = await self.db.fetchall(
            f"SELECT {', '.join('o.' + c.strip() for c in OFFER_COLUMNS.split(','))}, s.state "
            "FROM hospitation_seats s JOIN hospitation_offers o ON o.id = s.offer_id "
            "WHERE s.user_id = ? ORDER BY o.start_date, o.id",
            (user_id,),
        )
        return [(offer_row(r), r["state"]) for r in rows]

    async def mark_seat_reminded(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_seats SET reminded = 1 WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
            name="hospitations.mark_seat_reminded",
        )

    # -- announcements -------------------------------------------------------------------

    async def add_announcement(self, offer_id: str, room_id: str, effect_key: str) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_announcements (offer_id, room_id, effect_key) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (offer_id, room_id, effect_key),
            name="hospitations.add_announcement",
        )

    async def announcements(self, offer_id: str) -> list[tuple[str, str]]:
        """(room_id, effect_key of the post) per room the offer was announced in."""
        rows = await self.db.fetchall(
            "SELECT room_id, effect_key FROM hospitation_announcements WHERE offer_id = ? "
            "ORDER BY room_id",
            (offer_id,),
        )
        return [(r["room_id"], r["effect_key"]) for r in rows]

    # -- jobs ----------------------------------------------------------------------------

    async def offers_with_unchecked_wishes(self) -> list[HospitationOffer]:
        rows = await self.db.fetchall(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers "
            "WHERE wishes_checked = 0 ORDER BY created_at"
        )
        return [offer_row(r) for r in rows]

    async def mark_wishes_checked(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET wishes_checked = 1 WHERE id = ?",
            (offer_id,),
            name="hospitations.mark_wishes_checked",
        )

    async def offers_needing_reminders(
        self, first_day: date, last_day: date
    ) -> list[HospitationOffer]:
        """Open offers starting in [first_day, last_day] with someone not yet reminded."""
        rows = await self.db.fetchall(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers o "
            "WHERE status = 'open' AND start_date BETWEEN ? AND ? AND (host_reminded = 0 "
            "OR EXISTS (SELECT 1 FROM hospitation_seats s WHERE s.offer_id = o.id "
            "AND s.state = 'confirmed' AND s.reminded = 0)) ORDER BY start_date, id",
            (first_day.isoformat(), last_day.isoformat()),
        )
        return [offer_row(r) for r in rows]

    async def host_reminded(self, offer_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT host_reminded FROM hospitation_offers WHERE id = ?", (offer_id,)
        )
        return row is not None and bool(row["host_reminded"])

    async def mark_host_reminded(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET host_reminded = 1 WHERE id = ?",
            (offer_id,),
            name="hospitations.mark_host_reminded",
        )

    async def offers_needing_feedback(self, ended_by: date) -> list[HospitationOffer]:
        """Open offers whose last day is `ended_by` or earlier and not yet asked about."""
        rows = await self.db.fetchall(
            f"SELECT {OFFER_COLUMNS} FROM hospitation_offers "
            "WHERE status = 'open' AND feedback_asked = 0 AND end_date <= ? "
            "ORDER BY end_date, id",
            (ended_by.isoformat(),),
        )
        return [offer_row(r) for r in rows]

    async def mark_feedback_asked(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET feedback_asked = 1 WHERE id = ?",
            (offer_id,),
            name="hospitations.mark_feedback_asked",
        )

    # -- forgetting ----------------------------------------------------------------------

    async def wipe_host(self, host: str) -> None:
        """Remove a forgotten host from every offer of theirs; the offers stay as history."""
        await self.db.execute(
            "UPDATE hospitation_offers SET host = NULL, host_name = NULL, title = '', "
            "description = NULL WHERE host = ?",
            (host,),
            name="hospitations.wipe_host",
        )

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT host AS user_id FROM hospitation_offers WHERE host IS NOT NULL "
            "UNION SELECT user_id FROM hospitation_seats "
            "UNION SELECT user_id FROM hospitation_joins "
            "UNION SELECT user_id FROM hospitation_wishes "
            "UNION SELECT user_id FROM hospitation_dialogs "
            "UNION SELECT user_id FROM hospitation_feedback "
            "UNION SELECT host FROM hospitation_ties WHERE host IS NOT NULL "
            "UNION SELECT participant FROM hospitation_ties WHERE participant IS NOT NULL"
        )
        return {str(r["user_id"]) for r in rows}

    async def forget_participant(self, user_id: str) -> None:
        """Seats, feedback and tie entries of a forgotten person (run after the seats of
        upcoming offers were cancelled properly, so waiting people moved up)."""
        async with self.db.transaction("hospitations.forget_participant") as conn:
            await conn.execute("DELETE FROM hospitation_seats WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_joins WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_feedback WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_dialogs WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_wishes WHERE user_id = ?", (user_id,))
            await conn.execute(
                "UPDATE hospitation_ties SET participant = NULL WHERE participant = ?",
                (user_id,),
            )
            await conn.execute("UPDATE hospitation_ties SET host = NULL WHERE host = ?", (user_id,))
