"""Small key/value state of the bot itself: sync token, device, filter id."""

from __future__ import annotations

import time

from bot.store.db import Database

SYNC_TOKEN = "next_batch"
# When the sync request that returned the stored token was sent (ms since the epoch, the
# bot's clock). Everything the token does not cover happened after it: the back-fill after
# downtime never goes further back than this (review finding S-09).
SYNC_TOKEN_AT = "next_batch_at_ms"


class BotState:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
            name="bot_state.set",
        )

    async def save_sync_position(self, token: str, at_ms: int) -> None:
        """The sync token and when it was asked for, together."""
        async with self.db.transaction("bot_state.save_sync_position"):
            await self.set(SYNC_TOKEN, token)
            await self.set(SYNC_TOKEN_AT, str(at_ms))

    async def sync_position(self) -> tuple[str | None, int | None]:
        """The stored sync token and when it was asked for (None: before the first sync,
        or stored by a version that did not keep the time)."""
        at = await self.get(SYNC_TOKEN_AT)
        return await self.get(SYNC_TOKEN), None if at is None else int(at)

    async def delete(self, key: str) -> None:
        await self.db.execute(
            "DELETE FROM bot_state WHERE key = ?", (key,), name="bot_state.delete"
        )


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
            "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (event_id, time.time()),
            name="processed_events.mark",
        )

    async def prune(self, older_than_s: float) -> int:
        return await self.db.execute(
            "DELETE FROM processed_events WHERE processed_at < ?",
            (time.time() - older_than_s,),
            name="processed_events.prune",
        )
