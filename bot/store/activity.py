"""When each person last used the bot (see migration 0009), for the inactivity retention
limit: written for everybody, with or without a profile."""

from __future__ import annotations

from collections.abc import Iterable

from bot.store.db import Database

_CHUNK = 500


class ActivityStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def touch(self, user_id: str, at: float) -> None:
        """The person used the bot at `at` (epoch seconds); never moves backwards."""
        await self.db.execute(
            "INSERT INTO activity (user_id, last_seen_at) VALUES (?, ?) "
            # SQLite's scalar MAX(a, b) is an aggregate only in PostgreSQL: CASE on both.
            "ON CONFLICT(user_id) DO UPDATE SET last_seen_at = CASE "
            "WHEN excluded.last_seen_at > activity.last_seen_at THEN excluded.last_seen_at "
            "ELSE activity.last_seen_at END",
            (user_id, at),
            name="activity.touch",
        )

    async def note_first_seen(self, user_ids: Iterable[str], at: float) -> None:
        """Start the clock for people the store knows but never saw act (no row yet)."""
        async with self.db.transaction("activity.note_first_seen") as conn:
            for user_id in user_ids:
                await conn.execute(
                    "INSERT INTO activity (user_id, last_seen_at) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (user_id, at),
                )

    async def last_seen(self, user_ids: Iterable[str]) -> dict[str, float]:
        people = list(user_ids)
        found: dict[str, float] = {}
        for start in range(0, len(people), _CHUNK):
            chunk = people[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT user_id, last_seen_at FROM activity WHERE user_id IN ({marks})", chunk
            )
            found.update({str(r["user_id"]): float(r["last_seen_at"]) for r in rows})
        return found

    async def of_user(self, user_id: str) -> float | None:
        row = await self.db.fetchone(
            "SELECT last_seen_at FROM activity WHERE user_id = ?", (user_id,)
        )
        return None if row is None else float(row["last_seen_at"])

    async def user_ids(self) -> set[str]:
        return {str(r["user_id"]) for r in await self.db.fetchall("SELECT user_id FROM activity")}

    async def delete(self, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM activity WHERE user_id = ?", (user_id,), name="activity.delete"
        )
