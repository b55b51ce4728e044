"""Rooms the bot knows by purpose: the DM per person and rooms created for a purpose.

A purpose room's `invitees` name the people invited at creation. They are kept only until
the room is ready (everyone in its member list, see `bot.chat.sender`), are removed by
`!vergessen`, and the row itself goes once the feature row it was made for is gone
(review finding S-02). Once its work is done the bot leaves the room (`done_at`, `left_at`:
`bot.store.room_retirement`); the row stays until that retention.

A room upgrade the bot followed is recorded as `bot_state` `upgraded:<old room>` = the new
room. DMs and purpose rooms are moved to the new room in the store; rooms named in the
config (crisis room, admin room, announcement and kitchen rooms) are mapped through
`RoomUpgrades` wherever the bot uses them (review finding S-24).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from bot.store.db import Database

# Which feature owns a purpose room, by the prefix of its key: the SQL that finds the owning
# row (each feature prunes its rows after its own retention) and the SQL that lists the room
# keys of one person (every `?` is the person: the PostgreSQL adapter knows no numbered
# `?1`). A feature that opens rooms under a new prefix adds it here, and when its rooms are
# done to `bot.store.room_retirement.DONE_RULES` (the bot leaves them then); rows under a
# prefix not listed here are never pruned.
_COFFEE_GROUP = (
    "SELECT 1 FROM coffee_groups g WHERE g.room_key = purpose_rooms.key",
    "SELECT g.room_key FROM coffee_groups g JOIN coffee_members m ON m.group_id = g.id "
    "WHERE m.person = ?",
)
PURPOSE_OWNERS: dict[str, tuple[str, str]] = {
    # Coffee pairs/trios and topic circles: "coffee:<round>/<idx>", "circle:<round>/<idx>".
    "coffee:": _COFFEE_GROUP,
    "circle:": _COFFEE_GROUP,
    # Spontaneous coffee breaks: "coffeebreak:<id>".
    "coffeebreak:": (
        "SELECT 1 FROM coffee_breaks b "
        f"WHERE b.id = CAST(substr(purpose_rooms.key, {len('coffeebreak:') + 1}) AS INTEGER)",
        "SELECT 'coffeebreak:' || id FROM coffee_breaks WHERE ? IN (user_a, user_b)",
    ),
    # Crisis connections: "crisis:<request id>", the requester and the connected bridge.
    "crisis:": (
        "SELECT 1 FROM crisis_requests r "
        f"WHERE r.id = substr(purpose_rooms.key, {len('crisis:') + 1})",
        "SELECT 'crisis:' || id FROM crisis_requests WHERE requester = ? "
        "UNION SELECT 'crisis:' || request_id FROM crisis_timeline "
        "WHERE kind = 'connected' AND person = ?",
    ),
    # Colleague-search introductions: "intro:<id>", the requester and the person asked.
    "intro:": (
        "SELECT 1 FROM introductions i "
        f"WHERE i.id = CAST(substr(purpose_rooms.key, {len('intro:') + 1}) AS INTEGER)",
        "SELECT 'intro:' || id FROM introductions WHERE ? IN (requester, target)",
    ),
}
# Rooms with somebody on their invitee list; who exactly is read in Python (the list is
# JSON, and SQLite's `json_each` has no same-named twin in PostgreSQL). Few rows: a list is
# emptied once its room is ready.
_WITH_INVITEES = (
    "SELECT key, room_id, created_at, invitees FROM purpose_rooms WHERE invitees != '[]'"
)
UPGRADED = "upgraded:"


class RoomUpgrades:
    """Which room replaced which (old -> new), in memory: the role check and the sender
    look rooms up without waiting for the store."""

    def __init__(self) -> None:
        self._replacement: dict[str, str] = {}

    def note(self, old_room_id: str, new_room_id: str) -> None:
        self._replacement[old_room_id] = new_room_id

    def current(self, room_id: str) -> str:
        """The room that replaces `room_id` now (after any number of upgrades)."""
        seen = {room_id}
        while (newer := self._replacement.get(room_id)) is not None and newer not in seen:
            seen.add(newer)
            room_id = newer
        return room_id


class RoomDirectory:
    def __init__(self, db: Database, upgrades: RoomUpgrades | None = None) -> None:
        self.db = db
        self.upgrades = upgrades or RoomUpgrades()

    async def dm_room(self, user_id: str) -> str | None:
        row = await self.db.fetchone("SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,))
        return None if row is None else str(row["room_id"])

    async def dm_user(self, room_id: str) -> str | None:
        row = await self.db.fetchone("SELECT user_id FROM dm_rooms WHERE room_id = ?", (room_id,))
        return None if row is None else str(row["user_id"])

    async def set_dm_room(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET room_id = excluded.room_id",
            (user_id, room_id),
            name="rooms.set_dm_room",
        )

    async def forget_dm(self, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM dm_rooms WHERE user_id = ?", (user_id,), name="rooms.forget_dm"
        )

    async def dm_user_ids(self) -> set[str]:
        return {str(r["user_id"]) for r in await self.db.fetchall("SELECT user_id FROM dm_rooms")}

    async def replace_room(self, old_room_id: str, new_room_id: str) -> None:
        """A room was upgraded: everything that pointed at the old room follows, and the
        upgrade is recorded (`upgraded_to`, `upgrades`)."""
        async with self.db.transaction("rooms.replace_room") as conn:
            await conn.execute(
                "UPDATE dm_rooms SET room_id = ? WHERE room_id = ?", (new_room_id, old_room_id)
            )
            await conn.execute(
                "UPDATE purpose_rooms SET room_id = ? WHERE room_id = ?",
                (new_room_id, old_room_id),
            )
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (UPGRADED + old_room_id, new_room_id),
            )
        self.upgrades.note(old_room_id, new_room_id)

    async def upgraded_to(self, old_room_id: str) -> str | None:
        """The room that replaced `old_room_id` when the bot followed its upgrade."""
        row = await self.db.fetchone(
            "SELECT value FROM bot_state WHERE key = ?", (UPGRADED + old_room_id,)
        )
        return None if row is None else str(row["value"])

    async def load_upgrades(self) -> RoomUpgrades:
        """Read every recorded upgrade into `upgrades` (once at start)."""
        rows = await self.db.fetchall(
            "SELECT key, value FROM bot_state WHERE substr(key, 1, ?) = ?",
            (len(UPGRADED), UPGRADED),
        )
        for row in rows:
            self.upgrades.note(str(row["key"])[len(UPGRADED) :], str(row["value"]))
        return self.upgrades

    async def purpose_room(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT room_id FROM purpose_rooms WHERE key = ?", (key,))
        return None if row is None or row["room_id"] is None else str(row["room_id"])

    async def set_purpose_room(self, key: str, room_id: str, invitees: list[str]) -> None:
        await self.db.execute(
            "INSERT INTO purpose_rooms (key, room_id, invitees, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET room_id = excluded.room_id, "
            "invitees = excluded.invitees",
            (key, room_id, json.dumps(invitees), time.time()),
            name="rooms.set_purpose_room",
        )

    async def start_creation(self, key: str, invitees: list[str]) -> None:
        """Mark that a room for `key` is being created (room id still unknown)."""
        await self.db.execute(
            "INSERT INTO purpose_rooms (key, room_id, invitees, created_at) "
            "VALUES (?, NULL, ?, ?) ON CONFLICT DO NOTHING",
            (key, json.dumps(invitees), time.time()),
            name="rooms.start_creation",
        )

    async def creation_started(self, key: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM purpose_rooms WHERE key = ?", (key,))
        return row is not None

    async def purpose_invitees(self, key: str) -> list[str]:
        row = await self.db.fetchone("SELECT invitees FROM purpose_rooms WHERE key = ?", (key,))
        return [] if row is None else list(json.loads(row["invitees"]))

    async def purpose_room_ready(self, key: str) -> None:
        """The room for `key` is ready (everyone invited was in it): nobody's ID is needed."""
        await self.db.execute(
            "UPDATE purpose_rooms SET invitees = '[]' WHERE key = ? AND invitees != '[]'",
            (key,),
            name="rooms.purpose_room_ready",
        )

    async def purpose_rooms_of(self, user_id: str) -> list[dict[str, Any]]:
        """The purpose rooms of a person: invited to, or made for their coffee group, coffee
        break or crisis request (`!meinedaten`)."""
        keys = " UNION ".join(dict.fromkeys(keys_of for _, keys_of in PURPOSE_OWNERS.values()))
        owned = await self.db.fetchall(
            f"SELECT key, room_id, created_at FROM purpose_rooms WHERE key IN ({keys})",
            (user_id,) * keys.count("?"),
        )
        invited = [
            r
            for r in await self.db.fetchall(_WITH_INVITEES)
            if user_id in json.loads(r["invitees"])
        ]
        by_key = {str(r["key"]): r for r in (*owned, *invited)}
        rows = sorted(by_key.values(), key=lambda r: (float(r["created_at"]), str(r["key"])))
        return [
            {
                "key": str(r["key"]),
                "room_id": r["room_id"],
                "created_at": datetime.fromtimestamp(float(r["created_at"]), UTC).isoformat(),
            }
            for r in rows
        ]

    async def invitee_ids(self) -> set[str]:
        """Everybody on an invitee list (rooms not ready yet)."""
        rows = await self.db.fetchall(_WITH_INVITEES)
        return {str(user_id) for r in rows for user_id in json.loads(r["invitees"])}

    async def forget_invitee(self, user_id: str) -> None:
        """Take the person (the whole ID, exactly) off every invitee list (`!vergessen`)."""
        async with self.db.transaction("rooms.forget_invitee") as conn:
            async with conn.execute(_WITH_INVITEES) as cur:
                rows = list(await cur.fetchall())
            for row in rows:
                invitees = json.loads(row["invitees"])
                if user_id not in invitees:
                    continue
                kept = [u for u in invitees if u != user_id]
                await conn.execute(
                    "UPDATE purpose_rooms SET invitees = ? WHERE key = ?",
                    (json.dumps(kept), row["key"]),
                )

    async def prune_purpose_rooms(self) -> int:
        """Retention: delete the purpose rooms whose feature row is gone, unless something
        for the room still waits in the outbox (its creation or a message)."""
        orphaned = " OR ".join(
            f"(substr(key, 1, {len(prefix)}) = '{prefix}' AND NOT EXISTS ({owned}))"
            for prefix, (owned, _) in PURPOSE_OWNERS.items()
        )
        return await self.db.execute(
            f"DELETE FROM purpose_rooms WHERE ({orphaned}) AND NOT EXISTS (SELECT 1 FROM outbox o "
            "WHERE o.status = 'pending' AND o.target_kind = 'roomkey' "
            "AND o.target = purpose_rooms.key)",
            name="rooms.prune_purpose_rooms",
        )
