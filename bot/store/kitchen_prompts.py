"""Kaffeeküche prompt store: prompt rotation per room and the suggestions people make
for new prompts. Tables in migrations/0006_kitchen.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.store.db import Database

SuggestionStatus = Literal["pending", "accepted", "rejected"]


@dataclass(frozen=True)
class Suggestion:
    id: int
    text: str
    suggested_by: str | None
    status: SuggestionStatus
    created_at: float


class PromptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def room_state(self, room_id: str) -> tuple[int, float | None]:
        """(current cycle, last slot served) of a room."""
        row = await self.db.fetchone(
            "SELECT cycle, last_slot FROM kitchen_rooms WHERE room_id = ?", (room_id,)
        )
        if row is None:
            return 0, None
        return int(row[0]), None if row[1] is None else float(row[1])

    async def posted_in_cycle(self, room_id: str, cycle: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT prompt_id FROM kitchen_posted WHERE room_id = ? AND cycle = ?",
            (room_id, cycle),
        )
        return {str(r[0]) for r in rows}

    async def ever_posted(self, room_id: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT prompt_id FROM kitchen_posted WHERE room_id = ?", (room_id,)
        )
        return {str(r[0]) for r in rows}

    async def last_effect_key(self, room_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT effect_key FROM kitchen_posted WHERE room_id = ? ORDER BY slot DESC LIMIT 1",
            (room_id,),
        )
        return None if row is None else str(row[0])

    async def record_post(
        self,
        room_id: str,
        cycle: int,
        prompt_id: str,
        slot: float,
        effect_key: str,
        now: float,
    ) -> None:
        async with self.db.transaction("kitchen_prompts.record_post") as conn:
            await conn.execute(
                "INSERT INTO kitchen_rooms (room_id, cycle, last_slot) VALUES (?, ?, ?) "
                "ON CONFLICT(room_id) DO UPDATE SET cycle = excluded.cycle, "
                "last_slot = excluded.last_slot",
                (room_id, cycle, slot),
            )
            await conn.execute(
                "INSERT OR IGNORE INTO kitchen_posted "
                "(room_id, cycle, prompt_id, slot, effect_key, posted_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (room_id, cycle, prompt_id, slot, effect_key, now),
            )

    async def skip_slot(self, room_id: str, slot: float) -> None:
        """Mark a slot as served without posting (nothing to post, or too late)."""
        await self.db.execute(
            "INSERT INTO kitchen_rooms (room_id, cycle, last_slot) VALUES (?, 0, ?) "
            "ON CONFLICT(room_id) DO UPDATE SET last_slot = excluded.last_slot",
            (room_id, slot),
        )

    # -- suggestions ---------------------------------------------------------------------

    async def add_suggestion(self, text: str, user_id: str, now: float) -> int:
        async with self.db.transaction("kitchen_prompts.add_suggestion") as conn:
            cur = await conn.execute(
                "INSERT INTO kitchen_suggestions (text, suggested_by, created_at) VALUES (?, ?, ?)",
                (text, user_id, now),
            )
            return int(cur.lastrowid or 0)

    async def suggestion(self, suggestion_id: int) -> Suggestion | None:
        row = await self.db.fetchone(
            "SELECT id, text, suggested_by, status, created_at FROM kitchen_suggestions "
            "WHERE id = ?",
            (suggestion_id,),
        )
        return None if row is None else _suggestion(row)

    async def suggestions(self, status: SuggestionStatus) -> list[Suggestion]:
        rows = await self.db.fetchall(
            "SELECT id, text, suggested_by, status, created_at FROM kitchen_suggestions "
            "WHERE status = ? ORDER BY id",
            (status,),
        )
        return [_suggestion(r) for r in rows]

    async def pending_count_by(self, user_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM kitchen_suggestions "
            "WHERE suggested_by = ? AND status = 'pending'",
            (user_id,),
        )
        return int(row[0]) if row else 0

    async def same_text_exists(self, text: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM kitchen_suggestions WHERE lower(text) = lower(?) "
            "AND status IN ('pending', 'accepted')",
            (text,),
        )
        return row is not None

    async def decide(
        self, suggestion_id: int, status: SuggestionStatus, admin: str, now: float
    ) -> bool:
        """Accept or reject a pending suggestion; False if it was not pending."""
        changed = await self.db.execute(
            "UPDATE kitchen_suggestions SET status = ?, decided_at = ?, decided_by = ? "
            "WHERE id = ? AND status = 'pending'",
            (status, now, admin, suggestion_id),
        )
        return changed == 1

    # -- personal data -------------------------------------------------------------------

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT id, text, status, created_at FROM kitchen_suggestions "
            "WHERE suggested_by = ? ORDER BY id",
            (user_id,),
        )
        return [{"id": r[0], "text": r[1], "status": r[2], "suggested_at": r[3]} for r in rows]

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT suggested_by FROM kitchen_suggestions WHERE suggested_by IS NOT NULL "
            "UNION SELECT decided_by FROM kitchen_suggestions WHERE decided_by IS NOT NULL"
        )
        return {str(r[0]) for r in rows}

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction("kitchen_prompts.forget") as conn:
            await conn.execute(
                "DELETE FROM kitchen_suggestions "
                "WHERE suggested_by = ? AND status IN ('pending', 'rejected')",
                (user_id,),
            )
            await conn.execute(
                "UPDATE kitchen_suggestions SET suggested_by = NULL WHERE suggested_by = ?",
                (user_id,),
            )
            await conn.execute(
                "UPDATE kitchen_suggestions SET decided_by = NULL WHERE decided_by = ?",
                (user_id,),
            )


def _suggestion(row: Any) -> Suggestion:
    return Suggestion(
        id=int(row[0]),
        text=str(row[1]),
        suggested_by=None if row[2] is None else str(row[2]),
        status=row[3],
        created_at=float(row[4]),
    )
