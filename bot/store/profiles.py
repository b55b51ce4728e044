"""Profiles in the store: one row per person (see migration 0002).

Other features read profiles through `ProfileRepository.get`, `eligible_for_coffee` and
`all_active`; those signatures are kept stable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.domain.profile import Profile
from bot.store.db import Database, Row
from bot.store.rows import from_row

__all__ = ["Profile", "ProfileRepository", "from_epoch", "to_epoch"]

# Named after the fields of Profile (read by `_row`).
_COLUMNS = (
    "p.id, p.user_id, p.display_name, p.department, p.municipality, p.tasks, p.topics, "
    "p.languages, p.availability, p.coffee, p.coffee_paused_until, p.confirmed, p.source, "
    "p.created_at, p.updated_at, p.last_seen_at, p.onboarded_at, l.language AS ui_language, "
    "p.findable"
)
_SELECT = f"SELECT {_COLUMNS} FROM profiles p LEFT JOIN language_choice l ON l.user_id = p.user_id"
# Columns `update` may change, with how a Python value is stored.
_WRITABLE = {
    "display_name": "text",
    "department": "text",
    "municipality": "text",
    "tasks": "text",
    "topics": "list",
    "languages": "list",
    "availability": "text",
    "coffee": "bool",
    "coffee_paused_until": "time",
    "confirmed": "bool",
    "source": "text",
    "last_seen_at": "time",
    "onboarded_at": "time",
    "findable": "bool",
}


def to_epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return value.timestamp()
    return float(value)


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _now_epoch(now: datetime | float | None) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    epoch = to_epoch(now)
    assert epoch is not None
    return epoch


def _row(row: Row) -> Profile:
    created = from_epoch(row["created_at"])
    updated = from_epoch(row["updated_at"])
    assert created is not None and updated is not None
    return from_row(
        Profile,
        row,
        topics=tuple(json.loads(row["topics"])),
        languages=tuple(json.loads(row["languages"])),
        coffee=bool(row["coffee"]),
        coffee_paused_until=from_epoch(row["coffee_paused_until"]),
        confirmed=bool(row["confirmed"]),
        created_at=created,
        updated_at=updated,
        last_seen_at=from_epoch(row["last_seen_at"]),
        onboarded_at=from_epoch(row["onboarded_at"]),
        findable=bool(row["findable"]),
    )


def _stored(kind: str, value: Any) -> Any:
    if value is None:
        return "[]" if kind == "list" else None
    if kind == "list":
        return json.dumps(list(value), ensure_ascii=False)
    if kind == "bool":
        return 1 if value else 0
    if kind == "time":
        return to_epoch(value)
    return str(value)


class ProfileRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads (stable API for other features) -------------------------------------------

    async def get(self, user_id: str) -> Profile | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE p.user_id = ?", (user_id,))
        return None if row is None else _row(row)

    async def get_by_id(self, profile_id: int) -> Profile | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE p.id = ?", (profile_id,))
        return None if row is None else _row(row)

    async def get_many(self, user_ids: Iterable[str]) -> dict[str, Profile]:
        wanted = sorted(set(user_ids))
        found: dict[str, Profile] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(f"{_SELECT} WHERE p.user_id IN ({marks})", chunk)
            for row in rows:
                profile = _row(row)
                found[profile.user_id] = profile
        return found

    async def eligible_for_coffee(self, now: datetime | float | None = None) -> list[Profile]:
        """Confirmed, opted in, and not paused (a pause ends by itself)."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE p.confirmed = 1 AND p.coffee = 1 "
            "AND (p.coffee_paused_until IS NULL OR p.coffee_paused_until <= ?) ORDER BY p.id",
            (_now_epoch(now),),
        )
        return [_row(r) for r in rows]

    async def all_active(self) -> list[Profile]:
        """Everyone who takes part (confirmed in chat); imported-only profiles are left out."""
        rows = await self.db.fetchall(f"{_SELECT} WHERE p.confirmed = 1 ORDER BY p.id")
        return [_row(r) for r in rows]

    async def all(self) -> list[Profile]:
        rows = await self.db.fetchall(f"{_SELECT} ORDER BY p.id")
        return [_row(r) for r in rows]

    async def user_ids(self) -> list[str]:
        rows = await self.db.fetchall("SELECT user_id FROM profiles ORDER BY id")
        return [str(r["user_id"]) for r in rows]

    async def inactive_before(self, cutoff: datetime | float) -> list[str]:
        """People whose last command (or, never seen, whose profile's creation) is older."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM profiles WHERE COALESCE(last_seen_at, created_at) < ? ORDER BY id",
            (_now_epoch(cutoff),),
        )
        return [str(r["user_id"]) for r in rows]

    async def last_seen(self) -> dict[str, float]:
        """Per profile: the last command, or (never seen) the profile's creation."""
        rows = await self.db.fetchall(
            "SELECT user_id, COALESCE(last_seen_at, created_at) AS seen_at FROM profiles"
        )
        return {str(r["user_id"]): float(r["seen_at"]) for r in rows}

    async def count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS people FROM profiles")
        return int(row["people"]) if row else 0

    # -- writes --------------------------------------------------------------------------

    async def create(
        self,
        user_id: str,
        now: datetime | float | None = None,
        *,
        source: str = "chat",
        confirmed: bool = False,
    ) -> Profile:
        """The person's profile, created empty if there is none yet."""
        stamp = _now_epoch(now)
        await self.db.execute(
            "INSERT INTO profiles (user_id, source, confirmed, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, source, 1 if confirmed else 0, stamp, stamp),
            name="profiles.create",
        )
        profile = await self.get(user_id)
        assert profile is not None
        return profile

    async def update(
        self, user_id: str, now: datetime | float | None = None, **changes: Any
    ) -> Profile | None:
        """Set the given columns (see `_WRITABLE`) and `updated_at`; None if no profile."""
        unknown = set(changes) - set(_WRITABLE)
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            values = [_stored(_WRITABLE[name], value) for name, value in changes.items()]
            await self.db.execute(
                f"UPDATE profiles SET {assignments}, updated_at = ? WHERE user_id = ?",
                (*values, _now_epoch(now), user_id),
                name="profiles.update",
            )
        return await self.get(user_id)

    async def touch(self, user_id: str, now: datetime | float | None = None) -> None:
        """Remember that the person used the bot (for the inactivity retention limit)."""
        await self.db.execute(
            "UPDATE profiles SET last_seen_at = ? WHERE user_id = ?",
            (_now_epoch(now), user_id),
            name="profiles.touch",
        )

    async def delete(self, user_id: str) -> bool:
        return (
            await self.db.execute(
                "DELETE FROM profiles WHERE user_id = ?", (user_id,), name="profiles.delete"
            )
            > 0
        )

    async def export(self, user_id: str) -> dict[str, Any] | None:
        """The raw row, for `!meinedaten`: every column, times as ISO 8601."""
        row = await self.db.fetchone("SELECT * FROM profiles WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        data: dict[str, Any] = {}
        for key in row.keys():  # noqa: SIM118 - a sqlite3.Row is not a mapping
            value = row[key]
            if key in ("topics", "languages"):
                value = json.loads(value)
            elif key in ("coffee", "confirmed", "findable"):
                value = bool(value)
            elif key.endswith("_at") or key.endswith("_until"):
                stamp = from_epoch(value)
                value = None if stamp is None else stamp.isoformat()
            data[key] = value
        return data
