"""Bridge contacts and availability windows of bridge persons."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Database, Row
from bot.store.portable import ascii_lower
from bot.store.rows import from_row

_COLUMNS = "id, user_id, organisation, sector, created_at, confirmed_at, reminded_at"


@dataclass(frozen=True)
class StoredContact:
    id: str
    user_id: str
    organisation: str
    sector: str
    created_at: float
    confirmed_at: float
    reminded_at: float | None = None


def _contact(r: Row) -> StoredContact:
    return from_row(
        StoredContact, r, created_at=float(r["created_at"]), confirmed_at=float(r["confirmed_at"])
    )


class ContactStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, contact: StoredContact) -> bool:
        """False if the ID is taken already (the caller draws a new one)."""
        count = await self.db.execute(
            f"INSERT INTO crisis_contacts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                contact.id,
                contact.user_id,
                contact.organisation,
                contact.sector,
                contact.created_at,
                contact.confirmed_at,
                contact.reminded_at,
            ),
            name="contacts.add",
        )
        return count == 1

    async def get(self, contact_id: str) -> StoredContact | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM crisis_contacts WHERE id = ?", (contact_id,)
        )
        return None if row is None else _contact(row)

    async def of_user(self, user_id: str) -> list[StoredContact]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM crisis_contacts WHERE user_id = ? ORDER BY created_at, id",
            (user_id,),
        )
        return [_contact(r) for r in rows]

    async def find_same(self, user_id: str, organisation: str, sector: str) -> StoredContact | None:
        """The person's contact for this organisation (A-Z case ignored, compared in Python:
        `lower()` folds every letter in PostgreSQL, A-Z only in SQLite) and sector."""
        wanted = ascii_lower(organisation)
        return next(
            (
                c
                for c in await self.of_user(user_id)
                if c.sector == sector and ascii_lower(c.organisation) == wanted
            ),
            None,
        )

    async def confirmed_since(self, since: float) -> list[StoredContact]:
        """Every contact confirmed at or after `since` (i.e. not expired), oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM crisis_contacts WHERE confirmed_at >= ? "
            "ORDER BY user_id, created_at, id",
            (since,),
        )
        return [_contact(r) for r in rows]

    async def all(self) -> list[StoredContact]:
        """Every contact, expired or not (the texts whose vectors are kept)."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM crisis_contacts ORDER BY id")
        return [_contact(r) for r in rows]

    async def confirmed_before(self, before: float) -> list[StoredContact]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM crisis_contacts WHERE confirmed_at < ? ORDER BY id",
            (before,),
        )
        return [_contact(r) for r in rows]

    async def delete(self, contact_id: str, user_id: str) -> bool:
        """Only the owner's own contact; False otherwise (without saying why)."""
        count = await self.db.execute(
            "DELETE FROM crisis_contacts WHERE id = ? AND user_id = ?",
            (contact_id, user_id),
            name="contacts.delete",
        )
        return count == 1

    async def confirm(self, contact_id: str, user_id: str, at: float) -> bool:
        count = await self.db.execute(
            "UPDATE crisis_contacts SET confirmed_at = ?, reminded_at = NULL "
            "WHERE id = ? AND user_id = ?",
            (at, contact_id, user_id),
            name="contacts.confirm",
        )
        return count == 1

    async def mark_reminded(self, contact_id: str, at: float) -> None:
        await self.db.execute(
            "UPDATE crisis_contacts SET reminded_at = ? WHERE id = ?",
            (at, contact_id),
            name="contacts.mark_reminded",
        )

    async def live_per_sector(self, since: float) -> dict[str, int]:
        """How many different people hold a contact confirmed since `since`, per sector."""
        rows = await self.db.fetchall(
            "SELECT sector, COUNT(DISTINCT user_id) AS people FROM crisis_contacts "
            "WHERE confirmed_at >= ? GROUP BY sector",
            (since,),
        )
        return {str(r["sector"]): int(r["people"]) for r in rows}

    async def availability(self, user_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT window_text FROM crisis_availability WHERE user_id = ?", (user_id,)
        )
        return None if row is None else str(row["window_text"])

    async def availabilities(self, user_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        # SQLite limits the number of host parameters; stay well below it.
        for start in range(0, len(user_ids), 500):
            chunk = user_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT user_id, window_text FROM crisis_availability WHERE user_id IN ({marks})",
                chunk,
            )
            found.update({str(r["user_id"]): str(r["window_text"]) for r in rows})
        return found

    async def set_availability(self, user_id: str, window_text: str, at: float) -> None:
        await self.db.execute(
            "INSERT INTO crisis_availability (user_id, window_text, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET window_text = excluded.window_text, "
            "updated_at = excluded.updated_at",
            (user_id, window_text, at),
            name="contacts.set_availability",
        )

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM crisis_contacts UNION SELECT user_id FROM crisis_availability"
        )
        return {str(r["user_id"]) for r in rows}

    async def forget(self, user_id: str) -> None:
        async with self.db.transaction("contacts.forget") as conn:
            await conn.execute("DELETE FROM crisis_contacts WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM crisis_availability WHERE user_id = ?", (user_id,))
