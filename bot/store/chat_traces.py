"""What the chat layer keeps about a person apart from DMs and the outbox: the language
they chose (`language_choice`) and their reactions on our messages (`reactions`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import LANGS, Lang
from bot.store.db import Database


@dataclass(frozen=True)
class ReactionRow:
    sender: str
    target_key: str  # the outbox key of the message reacted to
    emoji: str


class ChatTraceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def language(self, user_id: str) -> Lang | None:
        """The language the person chose (`!sprache`); None if they never chose one."""
        row = await self.db.fetchone(
            "SELECT language FROM language_choice WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return None
        return next((lang for lang in LANGS if lang == row["language"]), None)

    async def set_language(self, user_id: str, language: Lang) -> None:
        await self.db.execute(
            "INSERT INTO language_choice (user_id, language) VALUES (?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET language = excluded.language",
            (user_id, language),
            name="chat_traces.set_language",
        )

    async def add_reaction(self, event_id: str, reaction: ReactionRow) -> None:
        """Remember the reaction event `event_id` (a repeat of it changes nothing)."""
        await self.db.execute(
            "INSERT INTO reactions (event_id, sender, target_key, emoji) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event_id, reaction.sender, reaction.target_key, reaction.emoji),
            name="chat_traces.add_reaction",
        )

    async def reaction(self, event_id: str) -> ReactionRow | None:
        row = await self.db.fetchone(
            "SELECT sender, target_key, emoji FROM reactions WHERE event_id = ?", (event_id,)
        )
        if row is None:
            return None
        return ReactionRow(str(row["sender"]), str(row["target_key"]), str(row["emoji"]))

    async def remove_reaction(self, event_id: str) -> None:
        await self.db.execute(
            "DELETE FROM reactions WHERE event_id = ?",
            (event_id,),
            name="chat_traces.remove_reaction",
        )

    async def reactions_of(self, user_id: str) -> list[tuple[str, str]]:
        """(emoji, outbox key of the message reacted to) of the person's reactions."""
        rows = await self.db.fetchall(
            "SELECT emoji, target_key FROM reactions WHERE sender = ? ORDER BY rowid", (user_id,)
        )
        return [(str(r["emoji"]), str(r["target_key"])) for r in rows]

    async def user_ids(self) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT user_id FROM language_choice UNION SELECT sender FROM reactions"
        )
        return {str(r["user_id"]) for r in rows}

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction("chat_traces.forget") as conn:
            await conn.execute("DELETE FROM language_choice WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM reactions WHERE sender = ?", (user_id,))
