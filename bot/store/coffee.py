"""Coffee rounds and topic circles: rounds, groups, members, "did you meet?" answers.

Both features share these tables (`coffee_rounds.kind` is 'coffee' or 'circle'). A member
is stored by Matrix ID; `!vergessen` replaces it with a neutral placeholder, the same for
all of that person's rows, so the others' history (and the no-repeat rule) stays whole.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.store.db import Database

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


_GROUP_COLUMNS = (
    "g.id, g.round_id, r.key, r.kind, g.idx, g.kind, g.topic, g.shared, g.room_key, "
    "g.intro_key, g.followup_key, g.followup_due_at, g.followup_sent_at, g.created_at, "
    "g.intro_queued_at"
)
_GROUP_FROM = "coffee_groups g JOIN coffee_rounds r ON r.id = g.round_id"


def _group(row: Any) -> GroupRow:
    return GroupRow(
        id=row[0],
        round_id=row[1],
        round_key=row[2],
        round_kind=row[3],
        idx=row[4],
        kind=row[5],
        topic=row[6],
        shared=tuple(json.loads(row[7])),
        room_key=row[8],
        intro_key=row[9],
        followup_key=row[10],
        followup_due_at=row[11],
        followup_sent_at=row[12],
        created_at=row[13],
        intro_queued_at=row[14],
    )


def _round(row: Any) -> RoundRow:
    return RoundRow(*row)


class CoffeeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rounds --------------------------------------------------------------------------

    async def round_by_key(self, key: str) -> RoundRow | None:
        row = await self.db.fetchone(
            "SELECT id, kind, key, seq, trigger, started_at, people, groups, unmatched, "
            "pause_questions "
            "FROM coffee_rounds WHERE key = ?",
            (key,),
        )
        return None if row is None else _round(row)

    async def keys_like(self, prefix: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT key FROM coffee_rounds WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return [str(r[0]) for r in rows]

    async def last_seq(self, kind: RoundKind) -> int:
        row = await self.db.fetchone("SELECT MAX(seq) FROM coffee_rounds WHERE kind = ?", (kind,))
        return int(row[0]) if row and row[0] is not None else 0

    async def last_round(self, kind: RoundKind) -> RoundRow | None:
        row = await self.db.fetchone(
            "SELECT id, kind, key, seq, trigger, started_at, people, groups, unmatched, "
            "pause_questions "
            "FROM coffee_rounds WHERE kind = ? ORDER BY seq DESC LIMIT 1",
            (kind,),
        )
        return None if row is None else _round(row)

    async def insert_round(
        self,
        kind: RoundKind,
        key: str,
        *,
        trigger: str,
        started_at: float,
        people: int,
        groups: int,
        unmatched: int,
    ) -> RoundRow | None:
        """The new round, or None if a round with this key exists already."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM coffee_rounds WHERE kind = ?", (kind,)
            ) as cur:
                row = await cur.fetchone()
            seq = int(row[0]) if row else 1
            cur = await conn.execute(
                "INSERT OR IGNORE INTO coffee_rounds (kind, key, seq, trigger, started_at, "
                "people, groups, unmatched) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, key, seq, trigger, started_at, people, groups, unmatched),
            )
            if cur.rowcount != 1:
                return None
            return RoundRow(
                int(cur.lastrowid or 0),
                kind,
                key,
                seq,
                trigger,
                started_at,
                people,
                groups,
                unmatched,
            )

    async def set_pause_questions(self, round_id: int, count: int) -> None:
        await self.db.execute(
            "UPDATE coffee_rounds SET pause_questions = ? WHERE id = ?", (count, round_id)
        )

    async def insert_groups(self, round_id: int, groups: Sequence[NewGroup], now: float) -> None:
        """All groups of a round with their members, in few statements (rounds are big)."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO coffee_groups (round_id, idx, kind, topic, weight, similarity, "
                "shared, room_key, intro_key, followup_key, followup_due_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        round_id,
                        group.idx,
                        group.kind,
                        group.topic,
                        group.weight,
                        group.similarity,
                        json.dumps(list(group.shared), ensure_ascii=False),
                        group.room_key,
                        group.intro_key,
                        group.followup_key,
                        group.followup_due_at,
                        now,
                    )
                    for group in groups
                ],
            )
            async with conn.execute(
                "SELECT idx, id FROM coffee_groups WHERE round_id = ?", (round_id,)
            ) as cur:
                ids = {int(r[0]): int(r[1]) for r in await cur.fetchall()}
            await conn.executemany(
                "INSERT INTO coffee_members (group_id, person, department, municipality) "
                "VALUES (?, ?, ?, ?)",
                [
                    (ids[group.idx], m.person, m.department, m.municipality)
                    for group in groups
                    for m in group.members
                ],
            )

    # -- history -------------------------------------------------------------------------

    async def memberships_since(self, kind: RoundKind, min_seq: int) -> list[tuple[int, int, str]]:
        """(round seq, group id, person) of every member of rounds with seq >= min_seq."""
        rows = await self.db.fetchall(
            "SELECT r.seq, g.id, m.person FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = ? AND r.seq >= ? ORDER BY g.id",
            (kind, min_seq),
        )
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def last_matched_seq(self, kind: RoundKind) -> dict[str, int]:
        """Per person the seq of the last round of this kind they were in a group."""
        rows = await self.db.fetchall(
            "SELECT m.person, MAX(r.seq) FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = ? GROUP BY m.person",
            (kind,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # -- groups and members --------------------------------------------------------------

    async def groups_of_round(self, round_id: int) -> list[GroupRow]:
        rows = await self.db.fetchall(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} WHERE g.round_id = ? ORDER BY g.idx",
            (round_id,),
        )
        return [_group(r) for r in rows]

    async def members(self, group_id: int) -> list[MemberRow]:
        rows = await self.db.fetchall(
            "SELECT person, department, municipality, met FROM coffee_members "
            "WHERE group_id = ? ORDER BY rowid",
            (group_id,),
        )
        return [
            MemberRow(str(r[0]), str(r[1]), str(r[2]), None if r[3] is None else bool(r[3]))
            for r in rows
        ]

    async def members_of(self, group_ids: Sequence[int]) -> dict[int, list[MemberRow]]:
        found: dict[int, list[MemberRow]] = {g: [] for g in group_ids}
        for start in range(0, len(group_ids), 500):
            chunk = list(group_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                "SELECT group_id, person, department, municipality, met FROM coffee_members "
                f"WHERE group_id IN ({marks}) ORDER BY group_id, rowid",
                chunk,
            )
            for r in rows:
                met = None if r[4] is None else bool(r[4])
                found[int(r[0])].append(MemberRow(str(r[1]), str(r[2]), str(r[3]), met))
        return found

    async def unqueued_groups(self, kind: RoundKind, limit: int) -> list[GroupRow]:
        """Groups whose room and introduction are not in the outbox yet, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} "
            "WHERE g.intro_queued_at IS NULL AND r.kind = ? ORDER BY g.id LIMIT ?",
            (kind, limit),
        )
        return [_group(r) for r in rows]

    async def mark_intro_queued(self, group_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_groups SET intro_queued_at = ? WHERE id = ?", (now, group_id)
        )

    async def figures(self, round_id: int) -> list[FigureRow]:
        rows = await self.db.fetchall(
            "SELECT g.id, g.kind, g.similarity, g.topic, m.department, m.municipality "
            "FROM coffee_groups g JOIN coffee_members m ON m.group_id = g.id "
            "WHERE g.round_id = ? ORDER BY g.id, m.rowid",
            (round_id,),
        )
        return [FigureRow(int(r[0]), r[1], r[2], r[3], str(r[4]), str(r[5])) for r in rows]

    async def group_by_followup_key(self, key: str) -> GroupRow | None:
        row = await self.db.fetchone(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} WHERE g.followup_key = ?", (key,)
        )
        return None if row is None else _group(row)

    async def group_in_room(self, room_id: str) -> GroupRow | None:
        """The group whose purpose room this is (reads the foundation's purpose_rooms)."""
        row = await self.db.fetchone(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} "
            "JOIN purpose_rooms p ON p.key = g.room_key WHERE p.room_id = ?",
            (room_id,),
        )
        return None if row is None else _group(row)

    async def latest_group_of(self, person: str) -> GroupRow | None:
        row = await self.db.fetchone(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} "
            "JOIN coffee_members m ON m.group_id = g.id WHERE m.person = ? "
            "ORDER BY g.id DESC LIMIT 1",
            (person,),
        )
        return None if row is None else _group(row)

    async def is_member(self, group_id: int, person: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM coffee_members WHERE group_id = ? AND person = ?", (group_id, person)
        )
        return row is not None

    async def set_answer(
        self, group_id: int, person: str, met: bool, emoji: str | None, now: float
    ) -> bool:
        changed = await self.db.execute(
            "UPDATE coffee_members SET met = ?, answer_emoji = ?, answered_at = ? "
            "WHERE group_id = ? AND person = ?",
            (int(met), emoji, now, group_id, person),
        )
        return changed == 1

    async def withdraw_answer(self, group_id: int, person: str, emoji: str) -> bool:
        """Take back the answer given with this emoji (a later other answer stays)."""
        changed = await self.db.execute(
            "UPDATE coffee_members SET met = NULL, answer_emoji = NULL, answered_at = NULL "
            "WHERE group_id = ? AND person = ? AND answer_emoji = ?",
            (group_id, person, emoji),
        )
        return changed == 1

    # -- follow-ups ----------------------------------------------------------------------

    async def due_followups(self, now: float, limit: int = 500) -> list[GroupRow]:
        rows = await self.db.fetchall(
            f"SELECT {_GROUP_COLUMNS} FROM {_GROUP_FROM} "
            "WHERE g.followup_sent_at IS NULL AND g.followup_due_at <= ? ORDER BY g.id LIMIT ?",
            (now, limit),
        )
        return [_group(r) for r in rows]

    async def mark_followup_sent(self, group_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_groups SET followup_sent_at = ? WHERE id = ? "
            "AND followup_sent_at IS NULL",
            (now, group_id),
        )

    async def answer_streaks(
        self, kind: RoundKind, persons: Iterable[str], min_seq: int
    ) -> list[tuple[str, int, list[bool]]]:
        """Per person (of `persons`) the groups since round `min_seq` whose follow-up was
        asked, newest first, as (person, newest group id, [engaged?, ...]).

        Engaged: the person answered, or someone in the group confirmed a meeting.
        """
        wanted = set(persons)
        rows = await self.db.fetchall(
            "SELECT m.person, g.id, m.met IS NOT NULL OR EXISTS ("
            "  SELECT 1 FROM coffee_members o WHERE o.group_id = g.id AND o.met = 1"
            "), COALESCE(q.after_group_id, 0) "
            "FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "LEFT JOIN coffee_pause_questions q ON q.person = m.person "
            "WHERE r.kind = ? AND r.seq >= ? AND g.followup_sent_at IS NOT NULL "
            "AND g.id > COALESCE(q.after_group_id, 0) "
            "ORDER BY m.person, g.id DESC",
            (kind, min_seq),
        )
        out: dict[str, tuple[int, list[bool]]] = {}
        for person, group_id, engaged, _ in rows:
            if person not in wanted:
                continue
            entry = out.setdefault(person, (int(group_id), []))
            entry[1].append(bool(engaged))
        return [(p, newest, flags) for p, (newest, flags) in out.items()]

    async def record_pause_question(self, person: str, after_group_id: int, now: float) -> None:
        await self.db.execute(
            "INSERT INTO coffee_pause_questions (person, after_group_id, asked_at) "
            "VALUES (?, ?, ?) ON CONFLICT(person) DO UPDATE SET "
            "after_group_id = excluded.after_group_id, asked_at = excluded.asked_at",
            (person, after_group_id, now),
        )

    # -- circles -------------------------------------------------------------------------

    async def recent_circles(self, min_seq: int) -> list[frozenset[str]]:
        rows = await self.db.fetchall(
            "SELECT g.id, m.person FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = 'circle' AND r.seq >= ? ORDER BY g.id",
            (min_seq,),
        )
        groups: dict[int, set[str]] = {}
        for group_id, person in rows:
            groups.setdefault(int(group_id), set()).add(str(person))
        return [frozenset(g) for g in groups.values()]

    # -- admin requests ------------------------------------------------------------------

    async def add_request(
        self,
        event_id: str,
        kind: RoundKind,
        mode: str,
        requested_by: str,
        reply_room: str | None,
        now: float,
    ) -> bool:
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO coffee_requests (event_id, kind, mode, requested_by, "
            "reply_room, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (event_id, kind, mode, requested_by, reply_room, now),
        )
        return changed == 1

    async def open_requests(self, kind: RoundKind) -> list[RequestRow]:
        rows = await self.db.fetchall(
            "SELECT id, event_id, kind, mode, requested_by, reply_room, round_key, created_at "
            "FROM coffee_requests WHERE done_at IS NULL AND kind = ? ORDER BY id",
            (kind,),
        )
        return [RequestRow(*r) for r in rows]

    async def set_request_key(self, request_id: int, round_key: str) -> None:
        await self.db.execute(
            "UPDATE coffee_requests SET round_key = ? WHERE id = ?", (round_key, request_id)
        )

    async def finish_request(self, request_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_requests SET done_at = ? WHERE id = ?", (now, request_id)
        )

    # -- personal data -------------------------------------------------------------------

    async def export(self, person: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT r.kind, r.key, g.kind, g.topic, g.shared, g.created_at, "
            "(SELECT COUNT(*) FROM coffee_members o WHERE o.group_id = g.id), "
            "m.department, m.municipality, m.met, m.answered_at "
            "FROM coffee_members m JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id WHERE m.person = ? ORDER BY g.id",
            (person,),
        )
        out = [
            {
                "format": r[0],
                "round": r[1],
                "group": r[2],
                "topic": r[3],
                "shared": json.loads(r[4]),
                "introduced_at": r[5],
                "members": r[6],
                "your_department_then": r[7],
                "your_municipality_then": r[8],
                "met": None if r[9] is None else bool(r[9]),
                "answered_at": r[10],
            }
            for r in rows
        ]
        asked = await self.db.fetchone(
            "SELECT asked_at FROM coffee_pause_questions WHERE person = ?", (person,)
        )
        if asked is not None:
            out.append({"asked_whether_to_pause_at": asked[0]})
        requests = await self.db.fetchall(
            "SELECT kind, mode, round_key, created_at, done_at FROM coffee_requests "
            "WHERE requested_by = ? ORDER BY id",
            (person,),
        )
        out += [
            {"admin_request": r[0], "mode": r[1], "round": r[2], "at": r[3], "done_at": r[4]}
            for r in requests
        ]
        return out

    async def forget(self, person: str, keep_places: Iterable[str] = ()) -> None:
        """Replace the person by a placeholder in every group they were in.

        Department and municipality stay only if they are one of `keep_places` (the
        configured directory): a name the person typed in themselves goes. The shared words
        of their groups came partly from their own text, so they go too.
        """
        placeholder = FORGOTTEN_PREFIX + secrets.token_hex(8)
        keep = list(dict.fromkeys(keep_places))
        marks = ",".join("?" * len(keep)) or "NULL"
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE coffee_groups SET shared = '[]' WHERE id IN "
                "(SELECT group_id FROM coffee_members WHERE person = ?)",
                (person,),
            )
            await conn.execute(
                "UPDATE coffee_members SET person = ?, answer_emoji = NULL, "
                f"department = CASE WHEN department IN ({marks}) THEN department ELSE '' END, "
                f"municipality = CASE WHEN municipality IN ({marks}) THEN municipality ELSE '' END "
                "WHERE person = ?",
                (placeholder, *keep, *keep, person),
            )
            await conn.execute("DELETE FROM coffee_pause_questions WHERE person = ?", (person,))
            await conn.execute("DELETE FROM coffee_requests WHERE requested_by = ?", (person,))

    # -- retention -----------------------------------------------------------------------

    async def prune(self, older_than_s: float) -> int:
        """Delete rounds (with groups, members, answers) that started before the cut-off."""
        cutoff = time.time() - older_than_s
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM coffee_members WHERE group_id IN (SELECT g.id FROM coffee_groups g "
                "JOIN coffee_rounds r ON r.id = g.round_id WHERE r.started_at < ?)",
                (cutoff,),
            )
            await conn.execute(
                "DELETE FROM coffee_groups WHERE round_id IN "
                "(SELECT id FROM coffee_rounds WHERE started_at < ?)",
                (cutoff,),
            )
            cur = await conn.execute("DELETE FROM coffee_rounds WHERE started_at < ?", (cutoff,))
            await conn.execute(
                "DELETE FROM coffee_requests WHERE done_at IS NOT NULL AND done_at < ?", (cutoff,)
            )
            return cur.rowcount


def is_placeholder(person: str) -> bool:
    return person.startswith(FORGOTTEN_PREFIX)


async def coffee_eligible_ids(db: Database, now: float) -> set[str]:
    """The Matrix IDs of everyone who takes part in the coffee matching now; the same
    condition as `ProfileRepository.eligible_for_coffee` (reads the profiles table owned
    by bot/store/profiles.py), without loading whole profiles."""
    rows = await db.fetchall(
        "SELECT user_id FROM profiles WHERE confirmed = 1 AND coffee = 1 "
        "AND (coffee_paused_until IS NULL OR coffee_paused_until <= ?)",
        (now,),
    )
    return {str(r[0]) for r in rows}


async def count_coffee_eligible(db: Database, now: float) -> int:
    """How many people take part in the coffee matching now. Reads the profiles table
    (owned by bot/store/profiles.py) with the same condition as
    `ProfileRepository.eligible_for_coffee`, without loading every profile."""
    row = await db.fetchone(
        "SELECT COUNT(*) FROM profiles WHERE confirmed = 1 AND coffee = 1 "
        "AND (coffee_paused_until IS NULL OR coffee_paused_until <= ?)",
        (now,),
    )
    return int(row[0]) if row else 0
