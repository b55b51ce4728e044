"""Encrypted messages waiting for their keys (review finding S-10): the sync loop keeps
them here, so the wait and the answer survive a restart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database


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
            "INSERT OR IGNORE INTO pending_decryptions "
            "(event_id, room_id, sender, session_id, deadline, event) VALUES (?, ?, ?, ?, ?, ?)",
            (
                waiting.event_id,
                waiting.room_id,
                waiting.sender,
                waiting.session_id,
                waiting.deadline,
                json.dumps(waiting.event),
            ),
        )

    async def all(self) -> list[WaitingDecryption]:
        rows = await self.db.fetchall(
            "SELECT event_id, room_id, sender, session_id, deadline, event "
            "FROM pending_decryptions ORDER BY deadline"
        )
        return [
            WaitingDecryption(
                str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]), json.loads(r[5])
            )
            for r in rows
        ]

    async def remove(self, event_id: str) -> None:
        await self.db.execute("DELETE FROM pending_decryptions WHERE event_id = ?", (event_id,))

    async def forget_user(self, user_id: str) -> None:
        await self.db.execute("DELETE FROM pending_decryptions WHERE sender = ?", (user_id,))

    async def user_ids(self) -> set[str]:
        rows = await self.db.fetchall("SELECT DISTINCT sender FROM pending_decryptions")
        return {str(r[0]) for r in rows}

    async def count_of(self, user_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM pending_decryptions WHERE sender = ?", (user_id,)
        )
        return 0 if row is None else int(row[0])
