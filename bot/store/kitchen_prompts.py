"""Kaffeeküche prompt store: prompt rotation per room and the suggestions people make
for new prompts. Tables in migrations/0006_kitchen.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.store.db import Database
from bot.store.portable import ascii_lower, insert_id
from bot.store.rows import from_row

SuggestionStatus = Literal["pending", "accepted", "rejected"]


@dataclass(frozen=True)
class Suggestion:
    id: int
    text: str
    suggested_by: str | None
    status: SuggestionStatus
    created_at: float


@dataclass(frozen=True)
class LastPost:
    prompt_id: str
    effect_key: str  # of the outbox item that posts it


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
        return int(row["cycle"]), None if row["last_slot"] is None else float(row["last_slot"])

    async def posted_in_cycle(self, room_id: str, cycle: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT prompt_id FROM kitchen_posted WHERE room_id = ? AND cycle = ?",
            (room_id, cycle),
        )
        return {str(r["prompt_id"]) for r in rows}

    async def ever_posted(self, room_id: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT prompt_id FROM kitchen_posted WHERE room_id = ?", (room_id,)
        )
        return {str(r["prompt_id"]) for r in rows}

    async def last_post(self, room_id: str) -> LastPost | None:
        """The prompt posted for the room's latest slot, if any."""
        row = await self.db.fetchone(
            "SELECT prompt_id, effect_key FROM kitchen_posted WHERE room_id = ? "
            "ORDER BY slot DESC LIMIT 1",
            (room_id,),
        )
        return None if row is None else LastPost(str(row["prompt_id"]), str(row["effect_key"]))

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
                "INSERT INTO kitchen_posted "
                "(room_id, cycle, prompt_id, slot, effect_key, posted_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (room_id, cycle, prompt_id, slot, effect_key, now),
            )

    async def skip_slot(self, room_id: str, slot: float) -> None:
        """Mark a slot as served without posting (nothing to post, or too late)."""
        await self.db.execute(
            "INSERT INTO kitchen_rooms (room_id, cycle, last_slot) VALUES (?, 0, ?) "
            "ON CONFLICT(room_id) DO UPDATE SET last_slot = excluded.last_slot",
            (room_id, slot),
            name="kitchen_prompts.skip_slot",
        )

    # -- suggestions ---------------------------------------------------------------------

    async def add_suggestion(self, text: str, user_id: str, now: float) -> int:
        async with self.db.transaction("kitchen_prompts.add_suggestion") as conn:
            return await insert_id(
                conn,
                "INSERT INTO kitchen_suggestions (text, suggested_by, created_at) VALUES (?, ?, ?)",
                (text, user_id, now),
            )

    async def suggestion(self, suggestion_id: int) -> Suggestion | None:
        row = await self.db.fetchone(
            "SELECT id, text, suggested_by, status, created_at FROM kitchen_suggestions "
            "WHERE id = ?",
            (suggestion_id,),
        )
        return None if row is None else from_row(Suggestion, row)

    async def suggestions(self, status: SuggestionStatus) -> list[Suggestion]:
        rows = await self.db.fetchall(
            "SELECT id, text, suggested_by, status, created_at FROM kitchen_suggestions "
            "WHERE status = ? ORDER BY id",
            (status,),
        )
        return [from_row(Suggestion, r) for r in rows]

    async def pending_count_by(self, user_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS pending FROM kitchen_suggestions "
            "WHERE suggested_by = ? AND status = 'pending'",
            (user_id,),
        )
        return int(row["pending"]) if row else 0

    async def same_text_exists(self, text: str) -> bool:
        """A pending or accepted suggestion with this text, ignoring the case of A-Z only
        (compared in Python: `lower()` folds every letter in PostgreSQL, A-Z only in SQLite)."""
        rows = await self.db.fetchall(
            "SELECT text FROM kitchen_suggestions WHERE status IN ('pending', 'accepted')"
        )
        wanted = ascii_lower(text)
        return any(ascii_lower(str(r["text"])) == wanted for r in rows)

    async def decide(
        self, suggestion_id: int, status: SuggestionStatus, admin: str, now: float
    ) -> bool:
        """Accept or reject a pending suggestion; False if it was not pending."""
        changed = await self.db.execute(
            "UPDATE kitchen_suggestions SET status = ?, decided_at = ?, decided_by = ? "
            "WHERE id = ? AND status = 'pending'",
            (status, now, admin, suggestion_id),
            name="kitchen_prompts.decide",
        )
        return changed == 1

    # -- personal data -------------------------------------------------------------------

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT id, text, status, created_at FROM kitchen_suggestions "
            "WHERE suggested_by = ? ORDER BY id",
            (user_id,),
        )
        return [
            {
                "id": r["id"],
                "text": r["text"],
                "status": r["status"],
                "suggested_at": r["created_at"],
            }
            for r in rows
        ]

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT suggested_by AS user_id FROM kitchen_suggestions "
            "WHERE suggested_by IS NOT NULL "
            "UNION SELECT decided_by FROM kitchen_suggestions WHERE decided_by IS NOT NULL"
        )
        return {str(r["user_id"]) for r in rows}

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
