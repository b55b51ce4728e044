"""Every store of personal data registers here, so `!meinedaten` exports all of it and
`!vergessen` deletes all of it. A feature that stores something about a person and does
not register an owner here is a privacy bug.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from bot.store.activity import ActivityStore
from bot.store.chat_traces import ChatTraceStore
from bot.store.db import Database
from bot.store.decryptions import PendingDecryptions
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory


class PersonalDataOwner(Protocol):
    section: str  # the key of this part in the export file

    async def export(self, user_id: str) -> Any:
        """Everything this part holds about the person, JSON-serialisable."""

    async def forget(self, user_id: str) -> None:
        """Delete it (runs inside the caller's transaction); others' history stays intact."""

    async def user_ids(self) -> set[str]:
        """Everybody this part holds something about (placeholders of forgotten people may
        be included; retention keeps only Matrix IDs). Retention judges the union over all
        owners, so nobody's data outlives the retention limits (review finding S-06)."""


def is_person(user_id: str) -> bool:
    """A Matrix ID (`@local:server`), not a placeholder such as `~forgotten:…`."""
    return user_id.startswith("@") and ":" in user_id


class ChatTraces:
    """What the Matrix layer itself keeps: language choice, DM room, reactions, when the
    person last used the bot, and queued messages."""

    section = "chat"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.traces = ChatTraceStore(db)
        self.rooms = RoomDirectory(db)
        self.outbox = Outbox(db)
        self.activity = ActivityStore(db)
        self.decryptions = PendingDecryptions(db)

    async def export(self, user_id: str) -> dict[str, Any]:
        seen = await self.activity.of_user(user_id)
        reactions = await self.traces.reactions_of(user_id)
        return {
            "language": await self.traces.language(user_id),
            "direct_chat_room": await self.rooms.dm_room(user_id),
            "answers_by_reaction": [{"emoji": emoji, "on": key} for emoji, key in reactions],
            "last_activity": None
            if seen is None
            else datetime.fromtimestamp(seen, UTC).isoformat(),
            # Queued and not delivered yet: to the person, about them, or naming them.
            "pending_messages": await self.outbox.pending_about(user_id),
            # Encrypted messages the bot still waits for keys for (S-10).
            "messages_waiting_for_keys": await self.decryptions.count_of(user_id),
        }

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction("personal_data.forget"):
            await self.traces.forget(user_id)
            await self.rooms.forget_dm(user_id)
            await self.activity.delete(user_id)
            await self.decryptions.forget_user(user_id)
            # Delivered messages may quote the person (names, introductions): drop them;
            # the copies that matter live in the rooms, not in our store. Only the whole
            # Matrix ID counts (`@al:example.org` is not in `@al:example.org.uk`, S-20).
            await self.outbox.forget_user(user_id)

    async def user_ids(self) -> set[str]:
        return (
            await self.traces.user_ids()
            | await self.rooms.dm_user_ids()
            | await self.activity.user_ids()
            | await self.outbox.people()
            | await self.decryptions.user_ids()
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

    async def user_ids(self) -> set[str]:
        return await self.rooms.invitee_ids()
