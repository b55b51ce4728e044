"""Hospitation offers, their places, announcements, wishes, dialogs, feedback and ties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Literal

import aiosqlite

from bot.domain.dates import When
from bot.domain.hospitation import Seats
from bot.store.db import Database

SeatState = Literal["confirmed", "waiting"]
Role = Literal["host", "participant"]

_OFFER_COLUMNS = (
    "id, host, host_name, department, municipality, title, description, start_date, "
    "end_date, start_time, end_time, capacity, status, cancelled_by, version, created_at"
)


@dataclass(frozen=True)
class Offer:
    id: str
    host: str | None  # None once the host asked to be forgotten
    host_name: str | None
    department: str | None
    municipality: str | None
    title: str
    description: str | None
    when: When
    capacity: int
    status: Literal["open", "cancelled"]
    cancelled_by: Literal["host", "forgotten"] | None
    version: int
    created_at: float

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class SeatRow:
    offer_id: str
    user_id: str
    state: SeatState
    reminded: bool


@dataclass(frozen=True)
class Wish:
    id: int
    user_id: str
    area: str


@dataclass(frozen=True)
class Dialog:
    user_id: str
    step: Literal["title", "date", "places", "description"]
    title: str | None
    when_text: str | None
    places: str | None
    updated_at: float


@dataclass(frozen=True)
class Feedback:
    offer_id: str
    user_id: str
    role: Role
    took_place: bool | None


@dataclass(frozen=True)
class Tie:
    offer_id: str
    host: str | None
    participant: str | None
    happened_on: date
    host_department: str | None = None
    host_municipality: str | None = None
    participant_department: str | None = None
    participant_municipality: str | None = None


def _time(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


def _offer(row: aiosqlite.Row) -> Offer:
    return Offer(
        id=row[0],
        host=row[1],
        host_name=row[2],
        department=row[3],
        municipality=row[4],
        title=row[5],
        description=row[6],
        when=When(
            date.fromisoformat(row[7]),
            date.fromisoformat(row[8]),
            _time(row[9]),
            _time(row[10]),
        ),
        capacity=int(row[11]),
        status=row[12],
        cancelled_by=row[13],
        version=int(row[14]),
        created_at=float(row[15]),
    )


class HospitationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- offers --------------------------------------------------------------------------

    async def offer_id_taken(self, offer_id: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM hospitation_offers WHERE id = ?", (offer_id,))
        return row is not None

    async def insert_offer(self, offer: Offer) -> None:
        when = offer.when
        await self.db.execute(
            f"INSERT INTO hospitation_offers ({_OFFER_COLUMNS}) "
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
        )

    async def offer(self, offer_id: str) -> Offer | None:
        row = await self.db.fetchone(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers WHERE id = ?", (offer_id,)
        )
        return None if row is None else _offer(row)

    async def open_offers_from(self, first_day: date) -> list[Offer]:
        """Offers not cancelled that start on `first_day` or later, soonest first."""
        rows = await self.db.fetchall(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers "
            "WHERE status = 'open' AND start_date >= ? ORDER BY start_date, start_time, id",
            (first_day.isoformat(),),
        )
        return [_offer(r) for r in rows]

    async def offers_of_host(self, host: str) -> list[Offer]:
        rows = await self.db.fetchall(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers WHERE host = ? "
            "ORDER BY start_date, id",
            (host,),
        )
        return [_offer(r) for r in rows]

    async def bump_version(self, offer_id: str) -> int:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE hospitation_offers SET version = version + 1 WHERE id = ?", (offer_id,)
            )
            async with conn.execute(
                "SELECT version FROM hospitation_offers WHERE id = ?", (offer_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def cancel_offer(
        self, offer_id: str, by: Literal["host", "forgotten"], now: float
    ) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET status = 'cancelled', cancelled_by = ?, "
            "cancelled_at = ? WHERE id = ?",
            (by, now, offer_id),
        )

    # -- seats ---------------------------------------------------------------------------

    async def seat_rows(self, offer_id: str) -> list[SeatRow]:
        rows = await self.db.fetchall(
            "SELECT offer_id, user_id, state, reminded FROM hospitation_seats "
            "WHERE offer_id = ? ORDER BY seq",
            (offer_id,),
        )
        return [SeatRow(r[0], r[1], r[2], bool(r[3])) for r in rows]

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
        )

    async def remove_seat(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM hospitation_seats WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
        )

    async def confirm_seat(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_seats SET state = 'confirmed' WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
        )

    async def seats_of_user(self, user_id: str) -> list[tuple[Offer, SeatState]]:
        rows = await self.db.fetchall(
            f"SELECT {', '.join('o.' + c.strip() for c in _OFFER_COLUMNS.split(','))}, s.state "
            "FROM hospitation_seats s JOIN hospitation_offers o ON o.id = s.offer_id "
            "WHERE s.user_id = ? ORDER BY o.start_date, o.id",
            (user_id,),
        )
        return [(_offer(r), r[16]) for r in rows]

    async def mark_seat_reminded(self, offer_id: str, user_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_seats SET reminded = 1 WHERE offer_id = ? AND user_id = ?",
            (offer_id, user_id),
        )

    # -- announcements -------------------------------------------------------------------

    async def add_announcement(self, offer_id: str, room_id: str, effect_key: str) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO hospitation_announcements (offer_id, room_id, effect_key) "
            "VALUES (?, ?, ?)",
            (offer_id, room_id, effect_key),
        )

    async def announcements(self, offer_id: str) -> list[tuple[str, str]]:
        """(room_id, effect_key of the post) per room the offer was announced in."""
        rows = await self.db.fetchall(
            "SELECT room_id, effect_key FROM hospitation_announcements WHERE offer_id = ? "
            "ORDER BY room_id",
            (offer_id,),
        )
        return [(r[0], r[1]) for r in rows]

    # -- jobs ----------------------------------------------------------------------------

    async def offers_with_unchecked_wishes(self) -> list[Offer]:
        rows = await self.db.fetchall(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers "
            "WHERE wishes_checked = 0 ORDER BY created_at"
        )
        return [_offer(r) for r in rows]

    async def mark_wishes_checked(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET wishes_checked = 1 WHERE id = ?", (offer_id,)
        )

    async def offers_needing_reminders(self, first_day: date, last_day: date) -> list[Offer]:
        """Open offers starting in [first_day, last_day] with someone not yet reminded."""
        rows = await self.db.fetchall(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers o "
            "WHERE status = 'open' AND start_date BETWEEN ? AND ? AND (host_reminded = 0 "
            "OR EXISTS (SELECT 1 FROM hospitation_seats s WHERE s.offer_id = o.id "
            "AND s.state = 'confirmed' AND s.reminded = 0)) ORDER BY start_date, id",
            (first_day.isoformat(), last_day.isoformat()),
        )
        return [_offer(r) for r in rows]

    async def host_reminded(self, offer_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT host_reminded FROM hospitation_offers WHERE id = ?", (offer_id,)
        )
        return row is not None and bool(row[0])

    async def mark_host_reminded(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET host_reminded = 1 WHERE id = ?", (offer_id,)
        )

    async def offers_needing_feedback(self, ended_by: date) -> list[Offer]:
        """Open offers whose last day is `ended_by` or earlier and not yet asked about."""
        rows = await self.db.fetchall(
            f"SELECT {_OFFER_COLUMNS} FROM hospitation_offers "
            "WHERE status = 'open' AND feedback_asked = 0 AND end_date <= ? "
            "ORDER BY end_date, id",
            (ended_by.isoformat(),),
        )
        return [_offer(r) for r in rows]

    async def mark_feedback_asked(self, offer_id: str) -> None:
        await self.db.execute(
            "UPDATE hospitation_offers SET feedback_asked = 1 WHERE id = ?", (offer_id,)
        )

    # -- feedback and ties ---------------------------------------------------------------

    async def ask_feedback(self, offer_id: str, user_id: str, role: Role, now: float) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO hospitation_feedback (offer_id, user_id, role, asked_at) "
            "VALUES (?, ?, ?, ?)",
            (offer_id, user_id, role, now),
        )

    async def feedback(self, offer_id: str) -> list[Feedback]:
        rows = await self.db.fetchall(
            "SELECT offer_id, user_id, role, took_place FROM hospitation_feedback "
            "WHERE offer_id = ? ORDER BY role, user_id",
            (offer_id,),
        )
        return [Feedback(r[0], r[1], r[2], None if r[3] is None else bool(r[3])) for r in rows]

    async def set_feedback(
        self, offer_id: str, user_id: str, took_place: bool | None, now: float
    ) -> bool:
        """Record (or with None: take back) an answer; False if the person was not asked."""
        changed = await self.db.execute(
            "UPDATE hospitation_feedback SET took_place = ?, answered_at = ? "
            "WHERE offer_id = ? AND user_id = ?",
            (None if took_place is None else int(took_place), now, offer_id, user_id),
        )
        return changed > 0

    async def save_tie(self, tie: Tie, now: float) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO hospitation_ties (offer_id, host, participant, happened_on, "
            "host_department, host_municipality, participant_department, "
            "participant_municipality, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        )

    async def delete_tie(self, offer_id: str, participant: str) -> None:
        await self.db.execute(
            "DELETE FROM hospitation_ties WHERE offer_id = ? AND participant = ?",
            (offer_id, participant),
        )

    async def ties(self) -> list[Tie]:
        rows = await self.db.fetchall(
            "SELECT offer_id, host, participant, happened_on, host_department, "
            "host_municipality, participant_department, participant_municipality "
            "FROM hospitation_ties ORDER BY happened_on, offer_id, id"
        )
        return [
            Tie(r[0], r[1], r[2], date.fromisoformat(r[3]), r[4], r[5], r[6], r[7]) for r in rows
        ]

    # -- wishes --------------------------------------------------------------------------

    async def add_wish(self, user_id: str, area: str, now: float) -> bool:
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO hospitation_wishes (user_id, area, created_at) VALUES (?, ?, ?)",
            (user_id, area, now),
        )
        return changed > 0

    async def wishes_of(self, user_id: str) -> list[Wish]:
        rows = await self.db.fetchall(
            "SELECT id, user_id, area FROM hospitation_wishes WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [Wish(r[0], r[1], r[2]) for r in rows]

    async def delete_wish(self, user_id: str, wish_id: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM hospitation_wishes WHERE user_id = ? AND id = ?", (user_id, wish_id)
        )
        return changed > 0

    async def delete_wishes(self, user_id: str) -> int:
        return await self.db.execute("DELETE FROM hospitation_wishes WHERE user_id = ?", (user_id,))

    async def all_wishes(self) -> list[Wish]:
        rows = await self.db.fetchall(
            "SELECT id, user_id, area FROM hospitation_wishes ORDER BY id"
        )
        return [Wish(r[0], r[1], r[2]) for r in rows]

    # -- guided dialog -------------------------------------------------------------------

    async def dialog(self, user_id: str) -> Dialog | None:
        row = await self.db.fetchone(
            "SELECT user_id, step, title, when_text, places, updated_at "
            "FROM hospitation_dialogs WHERE user_id = ?",
            (user_id,),
        )
        return None if row is None else Dialog(row[0], row[1], row[2], row[3], row[4], row[5])

    async def save_dialog(self, dialog: Dialog) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_dialogs (user_id, step, title, when_text, places, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
            "step = excluded.step, title = excluded.title, when_text = excluded.when_text, "
            "places = excluded.places, updated_at = excluded.updated_at",
            (
                dialog.user_id,
                dialog.step,
                dialog.title,
                dialog.when_text,
                dialog.places,
                dialog.updated_at,
            ),
        )

    async def delete_dialog(self, user_id: str) -> bool:
        changed = await self.db.execute(
            "DELETE FROM hospitation_dialogs WHERE user_id = ?", (user_id,)
        )
        return changed > 0

    # -- forgetting ----------------------------------------------------------------------

    async def wipe_host(self, host: str) -> None:
        """Remove a forgotten host from every offer of theirs; the offers stay as history."""
        await self.db.execute(
            "UPDATE hospitation_offers SET host = NULL, host_name = NULL, title = '', "
            "description = NULL WHERE host = ?",
            (host,),
        )

    async def forget_participant(self, user_id: str) -> None:
        """Seats, feedback and tie entries of a forgotten person (run after the seats of
        upcoming offers were cancelled properly, so waiting people moved up)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM hospitation_seats WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_feedback WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_dialogs WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM hospitation_wishes WHERE user_id = ?", (user_id,))
            await conn.execute(
                "UPDATE hospitation_ties SET participant = NULL WHERE participant = ?",
                (user_id,),
            )
            await conn.execute("UPDATE hospitation_ties SET host = NULL WHERE host = ?", (user_id,))

    async def feedback_of_user(self, user_id: str) -> list[Feedback]:
        rows = await self.db.fetchall(
            "SELECT offer_id, user_id, role, took_place FROM hospitation_feedback "
            "WHERE user_id = ? ORDER BY offer_id",
            (user_id,),
        )
        return [Feedback(r[0], r[1], r[2], None if r[3] is None else bool(r[3])) for r in rows]

    async def ties_of_user(self, user_id: str) -> list[Tie]:
        rows = await self.db.fetchall(
            "SELECT offer_id, host, participant, happened_on, host_department, "
            "host_municipality, participant_department, participant_municipality "
            "FROM hospitation_ties WHERE host = ? OR participant = ? ORDER BY happened_on, id",
            (user_id, user_id),
        )
        return [
            Tie(r[0], r[1], r[2], date.fromisoformat(r[3]), r[4], r[5], r[6], r[7]) for r in rows
        ]
