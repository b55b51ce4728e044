"""What the chat layer keeps about a person apart from DMs and the outbox: the language
they chose (`language_choice`) and their reactions on our messages (`reactions`)."""

from __future__ import annotations

from bot.store.db import Database


class ChatTraceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def language(self, user_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT language FROM language_choice WHERE user_id = ?", (user_id,)
        )
        return None if row is None else str(row[0])

    async def reactions_of(self, user_id: str) -> list[tuple[str, str]]:
        """(emoji, outbox key of the message reacted to) of the person's reactions."""
        rows = await self.db.fetchall(
            "SELECT emoji, target_key FROM reactions WHERE sender = ? ORDER BY rowid", (user_id,)
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    async def user_ids(self) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT user_id FROM language_choice UNION SELECT sender FROM reactions"
        )
        return {str(r[0]) for r in rows}

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction("chat_traces.forget") as conn:
            await conn.execute("DELETE FROM language_choice WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM reactions WHERE sender = ?", (user_id,))
