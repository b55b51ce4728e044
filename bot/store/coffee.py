"""Coffee rounds and topic circles: rounds, groups, members, "did you meet?" answers.

Both features share these tables (`coffee_rounds.kind` is 'coffee' or 'circle'). A member
is stored by Matrix ID; `!vergessen` replaces it with a neutral placeholder, the same for
all of that person's rows, so the others' history (and the no-repeat rule) stays whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from bot.store.coffee_personal_data import CoffeePersonalData
from bot.store.coffee_requests import CoffeeRequests
from bot.store.coffee_rows import (
    GROUP_COLUMNS,
    GROUP_FROM,
    ROUND_COLUMNS,
    FigureRow,
    GroupRow,
    MemberRow,
    NewGroup,
    RoundKind,
    RoundRow,
    group_row,
)
from bot.store.db import Database
from bot.store.portable import insert_id_unless_conflict
from bot.store.rows import from_row


def _met(value: int | None) -> bool | None:
    """coffee_members.met: NULL no answer, 1 yes, 0 no."""
    return None if value is None else bool(value)


class CoffeeStore(CoffeeRequests, CoffeePersonalData):
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rounds --------------------------------------------------------------------------

    async def round_by_key(self, key: str) -> RoundRow | None:
        row = await self.db.fetchone(
            f"SELECT {ROUND_COLUMNS} FROM coffee_rounds WHERE key = ?", (key,)
        )
        return None if row is None else from_row(RoundRow, row)

    async def keys_like(self, prefix: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT key FROM coffee_rounds WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return [str(r["key"]) for r in rows]

    async def last_seq(self, kind: RoundKind) -> int:
        row = await self.db.fetchone(
            "SELECT MAX(seq) AS seq FROM coffee_rounds WHERE kind = ?", (kind,)
        )
        return int(row["seq"]) if row and row["seq"] is not None else 0

    async def last_round(self, kind: RoundKind) -> RoundRow | None:
        row = await self.db.fetchone(
            f"SELECT {ROUND_COLUMNS} FROM coffee_rounds WHERE kind = ? ORDER BY seq DESC LIMIT 1",
            (kind,),
        )
        return None if row is None else from_row(RoundRow, row)

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
        async with self.db.transaction("coffee.insert_round") as conn:
            async with conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM coffee_rounds WHERE kind = ?",
                (kind,),
            ) as cur:
                row = await cur.fetchone()
            seq = int(row["seq"]) if row else 1
            round_id = await insert_id_unless_conflict(
                conn,
                "INSERT INTO coffee_rounds (kind, key, seq, trigger, started_at, "
                "people, groups, unmatched) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (kind, key, seq, trigger, started_at, people, groups, unmatched),
            )
            if round_id is None:
                return None
            return RoundRow(
                id=round_id,
                kind=kind,
                key=key,
                seq=seq,
                trigger=trigger,
                started_at=started_at,
                people=people,
                groups=groups,
                unmatched=unmatched,
            )

    async def set_pause_questions(self, round_id: int, count: int) -> None:
        await self.db.execute(
            "UPDATE coffee_rounds SET pause_questions = ? WHERE id = ?",
            (count, round_id),
            name="coffee.set_pause_questions",
        )

    async def insert_groups(self, round_id: int, groups: Sequence[NewGroup], now: float) -> None:
        """All groups of a round with their members, in few statements (rounds are big)."""
        async with self.db.transaction("coffee.insert_groups") as conn:
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
                ids = {int(r["idx"]): int(r["id"]) for r in await cur.fetchall()}
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
            "SELECT r.seq, g.id AS group_id, m.person FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = ? AND r.seq >= ? ORDER BY g.id",
            (kind, min_seq),
        )
        return [(int(r["seq"]), int(r["group_id"]), str(r["person"])) for r in rows]

    async def last_matched_seq(self, kind: RoundKind) -> dict[str, int]:
        """Per person the seq of the last round of this kind they were in a group."""
        rows = await self.db.fetchall(
            "SELECT m.person, MAX(r.seq) AS seq FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = ? GROUP BY m.person",
            (kind,),
        )
        return {str(r["person"]): int(r["seq"]) for r in rows}

    # -- groups and members --------------------------------------------------------------

    async def groups_of_round(self, round_id: int) -> list[GroupRow]:
        rows = await self.db.fetchall(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} WHERE g.round_id = ? ORDER BY g.idx",
            (round_id,),
        )
        return [group_row(r) for r in rows]

    async def members(self, group_id: int) -> list[MemberRow]:
        rows = await self.db.fetchall(
            "SELECT person, department, municipality, met FROM coffee_members "
            "WHERE group_id = ? ORDER BY rowid",
            (group_id,),
        )
        return [from_row(MemberRow, r, met=_met(r["met"])) for r in rows]

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
                found[int(r["group_id"])].append(from_row(MemberRow, r, met=_met(r["met"])))
        return found

    async def unqueued_groups(self, kind: RoundKind, limit: int) -> list[GroupRow]:
        """Groups whose room and introduction are not in the outbox yet, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} "
            "WHERE g.intro_queued_at IS NULL AND r.kind = ? ORDER BY g.id LIMIT ?",
            (kind, limit),
        )
        return [group_row(r) for r in rows]

    async def mark_intro_queued(self, group_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_groups SET intro_queued_at = ? WHERE id = ?",
            (now, group_id),
            name="coffee.mark_intro_queued",
        )

    async def figures(self, round_id: int) -> list[FigureRow]:
        rows = await self.db.fetchall(
            "SELECT g.id AS group_id, g.kind, g.similarity, g.topic, m.department, "
            "m.municipality "
            "FROM coffee_groups g JOIN coffee_members m ON m.group_id = g.id "
            "WHERE g.round_id = ? ORDER BY g.id, m.rowid",
            (round_id,),
        )
        return [from_row(FigureRow, r) for r in rows]

    async def group_by_followup_key(self, key: str) -> GroupRow | None:
        row = await self.db.fetchone(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} WHERE g.followup_key = ?", (key,)
        )
        return None if row is None else group_row(row)

    async def group_in_room(self, room_id: str) -> GroupRow | None:
        """The group whose purpose room this is (reads the foundation's purpose_rooms)."""
        row = await self.db.fetchone(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} "
            "JOIN purpose_rooms p ON p.key = g.room_key WHERE p.room_id = ?",
            (room_id,),
        )
        return None if row is None else group_row(row)

    async def latest_group_of(self, person: str) -> GroupRow | None:
        row = await self.db.fetchone(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} "
            "JOIN coffee_members m ON m.group_id = g.id WHERE m.person = ? "
            "ORDER BY g.id DESC LIMIT 1",
            (person,),
        )
        return None if row is None else group_row(row)

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
            name="coffee.set_answer",
        )
        return changed == 1

    async def withdraw_answer(self, group_id: int, person: str, emoji: str) -> bool:
        """Take back the answer given with this emoji (a later other answer stays)."""
        changed = await self.db.execute(
            "UPDATE coffee_members SET met = NULL, answer_emoji = NULL, answered_at = NULL "
            "WHERE group_id = ? AND person = ? AND answer_emoji = ?",
            (group_id, person, emoji),
            name="coffee.withdraw_answer",
        )
        return changed == 1

    # -- follow-ups ----------------------------------------------------------------------

    async def due_followups(self, now: float, limit: int = 500) -> list[GroupRow]:
        rows = await self.db.fetchall(
            f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} "
            "WHERE g.followup_sent_at IS NULL AND g.followup_due_at <= ? ORDER BY g.id LIMIT ?",
            (now, limit),
        )
        return [group_row(r) for r in rows]

    async def mark_followup_sent(self, group_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_groups SET followup_sent_at = ? WHERE id = ? "
            "AND followup_sent_at IS NULL",
            (now, group_id),
            name="coffee.mark_followup_sent",
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
            "SELECT m.person, g.id AS group_id, m.met IS NOT NULL OR EXISTS ("
            "  SELECT 1 FROM coffee_members o WHERE o.group_id = g.id AND o.met = 1"
            ") AS engaged "
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
        for r in rows:
            if r["person"] not in wanted:
                continue
            entry = out.setdefault(r["person"], (int(r["group_id"]), []))
            entry[1].append(bool(r["engaged"]))
        return [(p, newest, flags) for p, (newest, flags) in out.items()]

    async def record_pause_question(self, person: str, after_group_id: int, now: float) -> None:
        await self.db.execute(
            "INSERT INTO coffee_pause_questions (person, after_group_id, asked_at) "
            "VALUES (?, ?, ?) ON CONFLICT(person) DO UPDATE SET "
            "after_group_id = excluded.after_group_id, asked_at = excluded.asked_at",
            (person, after_group_id, now),
            name="coffee.record_pause_question",
        )

    # -- circles -------------------------------------------------------------------------

    async def recent_circles(self, min_seq: int) -> list[frozenset[str]]:
        rows = await self.db.fetchall(
            "SELECT g.id AS group_id, m.person FROM coffee_members m "
            "JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id "
            "WHERE r.kind = 'circle' AND r.seq >= ? ORDER BY g.id",
            (min_seq,),
        )
        groups: dict[int, set[str]] = {}
        for r in rows:
            groups.setdefault(int(r["group_id"]), set()).add(str(r["person"]))
        return [frozenset(g) for g in groups.values()]
