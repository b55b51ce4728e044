"""Row types of the hospitation tables, and how an offer row is read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Literal

from bot.domain.dates import When
from bot.store.db import Row
from bot.store.rows import from_row

SeatState = Literal["confirmed", "waiting"]
Role = Literal["host", "participant"]

OFFER_COLUMNS = (
    "id, host, host_name, department, municipality, title, description, start_date, "
    "end_date, start_time, end_time, capacity, status, cancelled_by, version, created_at"
)


@dataclass(frozen=True)
class HospitationOffer:
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
class HospitationDialog:
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
class HospitationTie:
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


def offer_row(row: Row) -> HospitationOffer:
    """An offer from a SELECT of OFFER_COLUMNS (more columns may follow)."""
    when = When(
        date.fromisoformat(row["start_date"]),
        date.fromisoformat(row["end_date"]),
        _time(row["start_time"]),
        _time(row["end_time"]),
    )
    return from_row(
        HospitationOffer,
        row,
        when=when,
        capacity=int(row["capacity"]),
        version=int(row["version"]),
        created_at=float(row["created_at"]),
    )
