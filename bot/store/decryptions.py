"""Encrypted messages waiting for their keys (review finding S-10): the sync loop keeps
them here, so the wait and the answer survive a restart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database
from bot.store.rows import from_row


@dataclass(frozen=True)
class WaitingDecryption:
    event_id: str
    room_id: str
    sender: str
    session_id: str
    deadline: float  # Unix time
    event: dict[str, Any]


class PendingDecryptions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, waiting: WaitingDecryption) -> None:
        await self.db.execute(
            "INSERT INTO pending_decryptions "
            "(event_id, room_id, sender, session_id, deadline, event) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                waiting.event_id,
                waiting.room_id,
                waiting.sender,
                waiting.session_id,
                waiting.deadline,
                json.dumps(waiting.event),
            ),
            name="decryptions.add",
        )

    async def all(self) -> list[WaitingDecryption]:
        rows = await self.db.fetchall(
            "SELECT event_id, room_id, sender, session_id, deadline, event "
            "FROM pending_decryptions ORDER BY deadline"
        )
        return [
            from_row(
                WaitingDecryption, r, deadline=float(r["deadline"]), event=json.loads(r["event"])
            )
            for r in rows
        ]

    async def remove(self, event_id: str) -> None:
        await self.db.execute(
            "DELETE FROM pending_decryptions WHERE event_id = ?",
            (event_id,),
            name="decryptions.remove",
        )

    async def forget_user(self, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM pending_decryptions WHERE sender = ?",
            (user_id,),
            name="decryptions.forget_user",
        )

    async def user_ids(self) -> set[str]:
        rows = await self.db.fetchall("SELECT DISTINCT sender FROM pending_decryptions")
        return {str(r["sender"]) for r in rows}

    async def count_of(self, user_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS waiting FROM pending_decryptions WHERE sender = ?", (user_id,)
        )
        return 0 if row is None else int(row["waiting"])
