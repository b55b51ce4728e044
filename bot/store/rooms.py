"""Rooms the bot knows by purpose: the DM per person and rooms created for a purpose."""

from __future__ import annotations

import json
import time

from bot.store.db import Database


class RoomDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def dm_room(self, user_id: str) -> str | None:
        row = await self.db.fetchone("SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,))
        return None if row is None else str(row[0])

    async def dm_user(self, room_id: str) -> str | None:
        row = await self.db.fetchone("SELECT user_id FROM dm_rooms WHERE room_id = ?", (room_id,))
        return None if row is None else str(row[0])

    async def set_dm_room(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET room_id = excluded.room_id",
            (user_id, room_id),
        )

    async def forget_dm(self, user_id: str) -> None:
        await self.db.execute("DELETE FROM dm_rooms WHERE user_id = ?", (user_id,))

    async def replace_room(self, old_room_id: str, new_room_id: str) -> None:
        """A room was upgraded: everything that pointed at the old room follows."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE dm_rooms SET room_id = ? WHERE room_id = ?", (new_room_id, old_room_id)
            )
            await conn.execute(
                "UPDATE purpose_rooms SET room_id = ? WHERE room_id = ?",
                (new_room_id, old_room_id),
            )

    async def purpose_room(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT room_id FROM purpose_rooms WHERE key = ?", (key,))
        return None if row is None or row[0] is None else str(row[0])

    async def set_purpose_room(self, key: str, room_id: str, invitees: list[str]) -> None:
        await self.db.execute(
            "INSERT INTO purpose_rooms (key, room_id, invitees, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET room_id = excluded.room_id, "
            "invitees = excluded.invitees",
            (key, room_id, json.dumps(invitees), time.time()),
        )

    async def start_creation(self, key: str, invitees: list[str]) -> None:
        """Mark that a room for `key` is being created (room id still unknown)."""
        await self.db.execute(
            "INSERT OR IGNORE INTO purpose_rooms (key, room_id, invitees, created_at) "
            "VALUES (?, NULL, ?, ?)",
            (key, json.dumps(invitees), time.time()),
        )

    async def creation_started(self, key: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM purpose_rooms WHERE key = ?", (key,))
        return row is not None

    async def purpose_invitees(self, key: str) -> list[str]:
        row = await self.db.fetchone("SELECT invitees FROM purpose_rooms WHERE key = ?", (key,))
        return [] if row is None else list(json.loads(row[0]))
