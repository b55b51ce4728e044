"""Running chat dialogs (onboarding, confirmations): one row per person and kind.

The state is written in the same transaction as the answer that moved it, so a bot that
is killed mid-dialog continues exactly where the person was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.store.db import Database
from bot.store.profiles import from_epoch, to_epoch
from bot.store.rows import from_row


@dataclass(frozen=True)
class Dialog:
    user_id: str
    kind: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class DialogRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: str, kind: str) -> Dialog | None:
        row = await self.db.fetchone(
            "SELECT user_id, kind, step, data, created_at, updated_at FROM dialogs "
            "WHERE user_id = ? AND kind = ?",
            (user_id, kind),
        )
        if row is None:
            return None
        created, updated = from_epoch(row["created_at"]), from_epoch(row["updated_at"])
        assert created is not None and updated is not None
        return from_row(
            Dialog, row, data=json.loads(row["data"]), created_at=created, updated_at=updated
        )

    async def put(
        self, user_id: str, kind: str, step: str, data: dict[str, Any], now: datetime
    ) -> Dialog:
        """Start or move a dialog (its creation time is kept)."""
        stamp = to_epoch(now)
        await self.db.execute(
            "INSERT INTO dialogs (user_id, kind, step, data, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, kind) DO UPDATE SET "
            "step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
            (user_id, kind, step, json.dumps(data, ensure_ascii=False), stamp, stamp),
            name="dialogs.put",
        )
        dialog = await self.get(user_id, kind)
        assert dialog is not None
        return dialog

    async def delete(self, user_id: str, kind: str | None = None) -> int:
        if kind is None:
            return await self.db.execute(
                "DELETE FROM dialogs WHERE user_id = ?", (user_id,), name="dialogs.delete"
            )
        return await self.db.execute(
            "DELETE FROM dialogs WHERE user_id = ? AND kind = ?",
            (user_id, kind),
            name="dialogs.delete",
        )

    async def of_user(self, user_id: str) -> list[Dialog]:
        rows = await self.db.fetchall(
            "SELECT kind FROM dialogs WHERE user_id = ? ORDER BY kind", (user_id,)
        )
        found = [await self.get(user_id, str(r["kind"])) for r in rows]
        return [d for d in found if d is not None]

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall("SELECT DISTINCT user_id FROM dialogs")
        return {str(r["user_id"]) for r in rows}

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Dialogs nobody answered for long: their half-given answers are not kept."""
        return await self.db.execute(
            "DELETE FROM dialogs WHERE updated_at < ?",
            (to_epoch(cutoff),),
            name="dialogs.delete_older_than",
        )
