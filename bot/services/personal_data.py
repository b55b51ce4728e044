"""Every store of personal data registers here, so `!meinedaten` exports all of it and
`!vergessen` deletes all of it. A feature that stores something about a person and does
not register an owner here is a privacy bug.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.store.db import Database
from bot.store.rooms import RoomDirectory


class PersonalDataOwner(Protocol):
    section: str  # the key of this part in the export file

    async def export(self, user_id: str) -> Any:
        """Everything this part holds about the person, JSON-serialisable."""

    async def forget(self, user_id: str) -> None:
        """Delete it (runs inside the caller's transaction); others' history stays intact."""


class ChatTraces:
    """What the Matrix layer itself keeps: language choice, DM room, queued messages."""

    section = "chat"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def export(self, user_id: str) -> dict[str, Any]:
        language = await self.db.fetchone(
            "SELECT language FROM language_choice WHERE user_id = ?", (user_id,)
        )
        dm = await self.db.fetchone("SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,))
        reactions = await self.db.fetchall(
            "SELECT emoji, target_key FROM reactions WHERE sender = ?", (user_id,)
        )
        return {
            "language": None if language is None else language[0],
            "direct_chat_room": None if dm is None else dm[0],
            "answers_by_reaction": [{"emoji": r[0], "on": r[1]} for r in reactions],
        }

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM language_choice WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM dm_rooms WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM reactions WHERE sender = ?", (user_id,))
            # Delivered messages may quote the person (names, introductions): drop them;
            # the copies that matter live in the rooms, not in our store.
            await conn.execute(
                "DELETE FROM outbox WHERE subject_user = ? OR (target_kind = 'dm' AND target = ?) "
                "OR instr(payload, ?) > 0",
                (user_id, user_id, user_id),
            )


class PurposeRoomData:
    """The rooms created for a person's coffee group, coffee break or crisis connection
    (`purpose_rooms`): exported as key, room and date; forgetting takes the person off the
    invitee lists, the rooms themselves stay for the others."""

    section = "purpose_rooms"

    def __init__(self, db: Database) -> None:
        self.rooms = RoomDirectory(db)

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        return await self.rooms.purpose_rooms_of(user_id)

    async def forget(self, user_id: str) -> None:
        await self.rooms.forget_invitee(user_id)
