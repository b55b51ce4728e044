"""Small key/value state of the bot itself: sync token, device, filter id."""

from __future__ import annotations

import time

from bot.store.db import Database


class BotState:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> None:
        await self.db.execute("DELETE FROM bot_state WHERE key = ?", (key,))


class ProcessedEvents:
    """Event ids already handled; a replay of the same event is skipped."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def seen(self, event_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM processed_events WHERE event_id = ?", (event_id,)
        )
        return row is not None

    async def mark(self, event_id: str) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO processed_events (event_id, processed_at) VALUES (?, ?)",
            (event_id, time.time()),
        )

    async def prune(self, older_than_s: float) -> int:
        return await self.db.execute(
            "DELETE FROM processed_events WHERE processed_at < ?", (time.time() - older_than_s,)
        )
