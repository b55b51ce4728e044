"""Admin requests for a coffee round or circle round (`!kaffee runde` and friends):
recorded once per event, answered by the follow-up job.
"""

from __future__ import annotations

from bot.store.coffee_rows import RequestRow, RoundKind
from bot.store.db import Database
from bot.store.rows import from_row


class CoffeeRequests:
    """The coffee_requests table; mixed into CoffeeStore."""

    db: Database

    async def add_request(
        self,
        event_id: str,
        kind: RoundKind,
        mode: str,
        requested_by: str,
        reply_room: str | None,
        now: float,
    ) -> bool:
        changed = await self.db.execute(
            "INSERT INTO coffee_requests (event_id, kind, mode, requested_by, "
            "reply_room, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event_id, kind, mode, requested_by, reply_room, now),
            name="coffee_requests.add_request",
        )
        return changed == 1

    async def open_requests(self, kind: RoundKind) -> list[RequestRow]:
        rows = await self.db.fetchall(
            "SELECT id, event_id, kind, mode, requested_by, reply_room, round_key, created_at "
            "FROM coffee_requests WHERE done_at IS NULL AND kind = ? ORDER BY id",
            (kind,),
        )
        return [from_row(RequestRow, r) for r in rows]

    async def set_request_key(self, request_id: int, round_key: str) -> None:
        await self.db.execute(
            "UPDATE coffee_requests SET round_key = ? WHERE id = ?",
            (round_key, request_id),
            name="coffee_requests.set_request_key",
        )

    async def finish_request(self, request_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE coffee_requests SET done_at = ? WHERE id = ?",
            (now, request_id),
            name="coffee_requests.finish_request",
        )
