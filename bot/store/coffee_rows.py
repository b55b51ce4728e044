"""Row types of the coffee-round and topic-circle tables, and how rows are read.

A member is stored by Matrix ID; `!vergessen` replaces it with a neutral placeholder
starting with FORGOTTEN_PREFIX (see bot/store/coffee_personal_data.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from bot.store.db import Row
from bot.store.rows import from_row

RoundKind = Literal["coffee", "circle"]
GroupKind = Literal["pair", "trio", "circle"]
FORGOTTEN_PREFIX = "~forgotten:"


@dataclass(frozen=True)
class RoundRow:
    id: int
    kind: RoundKind
    key: str
    seq: int
    trigger: str
    started_at: float
    people: int
    groups: int
    unmatched: int
    pause_questions: int = 0


@dataclass(frozen=True)
class MemberRow:
    person: str
    department: str
    municipality: str
    met: bool | None


@dataclass(frozen=True)
class GroupRow:
    id: int
    round_id: int
    round_key: str
    round_kind: RoundKind
    idx: int
    kind: GroupKind
    topic: str | None
    shared: tuple[str, ...]
    room_key: str
    intro_key: str
    followup_key: str
    followup_due_at: float
    followup_sent_at: float | None
    created_at: float
    intro_queued_at: float | None = None


@dataclass(frozen=True)
class RequestRow:
    id: int
    event_id: str
    kind: RoundKind
    mode: Literal["run", "preview"]
    requested_by: str
    reply_room: str | None
    round_key: str | None
    created_at: float


@dataclass(frozen=True)
class FigureRow:
    """One member of one group of a round, for the round's aggregate figures."""

    group_id: int
    kind: GroupKind
    similarity: float | None
    topic: str | None
    department: str
    municipality: str


@dataclass(frozen=True)
class NewMember:
    person: str
    department: str
    municipality: str


@dataclass(frozen=True)
class NewGroup:
    idx: int
    kind: GroupKind
    members: tuple[NewMember, ...]
    room_key: str
    intro_key: str
    followup_key: str
    followup_due_at: float
    topic: str | None = None
    weight: float | None = None
    similarity: float | None = None
    shared: tuple[str, ...] = ()


# Named after the fields of GroupRow (read by `group_row`).
GROUP_COLUMNS = (
    "g.id, g.round_id, r.key AS round_key, r.kind AS round_kind, g.idx, g.kind, g.topic, "
    "g.shared, g.room_key, g.intro_key, g.followup_key, g.followup_due_at, "
    "g.followup_sent_at, g.created_at, g.intro_queued_at"
)
GROUP_FROM = "coffee_groups g JOIN coffee_rounds r ON r.id = g.round_id"
ROUND_COLUMNS = (
    "id, kind, key, seq, trigger, started_at, people, groups, unmatched, pause_questions"
)


def group_row(row: Row) -> GroupRow:
    return from_row(GroupRow, row, shared=tuple(json.loads(row["shared"])))


def is_placeholder(person: str) -> bool:
    return person.startswith(FORGOTTEN_PREFIX)
