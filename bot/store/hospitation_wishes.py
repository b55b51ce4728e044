"""Hospitation wishes (areas someone would like to shadow) and the saved state of the
guided `!hospitation anbieten` dialog."""

from __future__ import annotations

from bot.store.db import Database
from bot.store.hospitation_rows import HospitationDialog, Wish
from bot.store.rows import from_row


class HospitationWishesAndDialogs:
    """The hospitation_wishes and hospitation_dialogs tables; mixed into HospitationStore."""

    db: Database

    # -- wishes --------------------------------------------------------------------------

    async def add_wish(self, user_id: str, area: str, now: float) -> bool:
        changed = await self.db.execute(
            "INSERT INTO hospitation_wishes (user_id, area, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (user_id, area, now),
            name="hospitation_wishes.add_wish",
        )
        return changed > 0

    async def wishes_of(self, user_id: str) -> list[Wish]:
        rows = await self.db.fetchall(
            "SELECT id, user_id, area FROM hospitation_wishes WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [from_row(Wish, r) for r in rows]

    async def delete_wish(self, user_id: str, wish_id: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM hospitation_wishes WHERE user_id = ? AND id = ?",
            (user_id, wish_id),
            name="hospitation_wishes.delete_wish",
        )
        return changed > 0

    async def delete_wishes(self, user_id: str) -> int:
        return await self.db.execute(
            "DELETE FROM hospitation_wishes WHERE user_id = ?",
            (user_id,),
            name="hospitation_wishes.delete_wishes",
        )

    async def all_wishes(self) -> list[Wish]:
        rows = await self.db.fetchall(
            "SELECT id, user_id, area FROM hospitation_wishes ORDER BY id"
        )
        return [from_row(Wish, r) for r in rows]

    # -- guided dialog -------------------------------------------------------------------

    async def dialog(self, user_id: str) -> HospitationDialog | None:
        row = await self.db.fetchone(
            "SELECT user_id, step, title, when_text, places, updated_at "
            "FROM hospitation_dialogs WHERE user_id = ?",
            (user_id,),
        )
        return None if row is None else from_row(HospitationDialog, row)

    async def save_dialog(self, dialog: HospitationDialog) -> None:
        await self.db.execute(
            "INSERT INTO hospitation_dialogs (user_id, step, title, when_text, places, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
            "step = excluded.step, title = excluded.title, when_text = excluded.when_text, "
            "places = excluded.places, updated_at = excluded.updated_at",
            (
                dialog.user_id,
                dialog.step,
                dialog.title,
                dialog.when_text,
                dialog.places,
                dialog.updated_at,
            ),
            name="hospitation_wishes.save_dialog",
        )

    async def delete_dialog(self, user_id: str) -> bool:
        changed = await self.db.execute(
            "DELETE FROM hospitation_dialogs WHERE user_id = ?",
            (user_id,),
            name="hospitation_wishes.delete_dialog",
        )
        return changed > 0
