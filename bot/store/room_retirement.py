"""Purpose rooms whose work is done, so that the bot can leave them (`bot.chat.room_retirement`).

Without this the bot stays in every room it ever created: a 1,000-person deployment adds
~500 coffee rooms a week, and each stays in the bot's sync, memory and start-up. A room is
*done* when its feature has nothing more to do in it; the rule per key prefix:

| prefix          | done when                                                             |
|-----------------|-----------------------------------------------------------------------|
| `coffee:`       | the follow-up was asked and every member answered it, or it was asked |
| `circle:`       | `answer_s` ago (answers still work by `!getroffen` in the DM)          |
| `coffeebreak:`  | the follow-up was asked and both answered (or one was forgotten), or  |
|                 | it was due `answer_s` ago                                             |
| `intro:`        | always: the room only carries the introduction (it is opened on yes)  |
| `crisis:`       | the request is closed or expired                                      |
| any             | its feature row is gone (retention)                                   |

A prefix not listed here is never done: its rooms are kept. The network statistics read the
feature tables (`bot.store.ties`), never room membership, so nothing is lost by leaving.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.coffee_rows import FORGOTTEN_PREFIX
from bot.store.db import Database
from bot.store.rooms import PURPOSE_OWNERS
from bot.store.rows import from_row

# SQL conditions on a `purpose_rooms` row: every `?` is the answer cut-off (now minus the
# answer window; the PostgreSQL adapter knows no numbered `?1`).
_COFFEE_GROUP_DONE = (
    "EXISTS (SELECT 1 FROM coffee_groups g WHERE g.room_key = purpose_rooms.key "
    "AND g.followup_sent_at IS NOT NULL AND (g.followup_sent_at <= ? "
    "OR NOT EXISTS (SELECT 1 FROM coffee_members m WHERE m.group_id = g.id AND m.met IS NULL)))"
)
_FORGOTTEN = f"substr({{side}}, 1, {len(FORGOTTEN_PREFIX)}) = '{FORGOTTEN_PREFIX}'"
DONE_RULES: dict[str, str] = {
    "coffee:": _COFFEE_GROUP_DONE,
    "circle:": _COFFEE_GROUP_DONE,
    "coffeebreak:": (
        "EXISTS (SELECT 1 FROM coffee_breaks b "
        f"WHERE b.id = CAST(substr(purpose_rooms.key, {len('coffeebreak:') + 1}) AS INTEGER) "
        "AND b.followup_sent = 1 AND (b.followup_at <= ? "
        "OR b.user_a IS NULL OR b.user_b IS NULL "
        f"OR {_FORGOTTEN.format(side='b.user_a')} OR {_FORGOTTEN.format(side='b.user_b')} "
        "OR (b.answer_a IS NOT NULL AND b.answer_b IS NOT NULL)))"
    ),
    "intro:": "1 = 1",  # a boolean on PostgreSQL too, where a bare 1 is an integer
    "crisis:": (
        "EXISTS (SELECT 1 FROM crisis_requests r "
        f"WHERE r.id = substr(purpose_rooms.key, {len('crisis:') + 1}) AND r.active = 0)"
    ),
}
_PENDING = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.status = 'pending' AND o.target_kind = 'roomkey' "
    "AND o.target = purpose_rooms.key)"
)


@dataclass(frozen=True)
class JoinedRoom:
    key: str
    room_id: str
    created_at: float


@dataclass(frozen=True)
class OrphanedSend:
    """An outbox item still pending for a purpose room the bot has left."""

    id: int
    key: str
    action: str
    room_key: str


class RetiringRooms:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mark_done(self, now: float, answer_s: float) -> int:
        """Record every still-joined room whose work is done now; returns how many."""
        rules = " OR ".join(
            f"(substr(key, 1, {len(prefix)}) = '{prefix}' AND ({rule}))"
            for prefix, rule in DONE_RULES.items()
        )
        gone = " OR ".join(
            f"(substr(key, 1, {len(prefix)}) = '{prefix}' AND NOT EXISTS ({owned}))"
            for prefix, (owned, _) in PURPOSE_OWNERS.items()
        )
        cutoffs = (now - answer_s,) * rules.count("?")
        return await self.db.execute(
            "UPDATE purpose_rooms SET done_at = ? WHERE done_at IS NULL AND left_at IS NULL "
            f"AND room_id IS NOT NULL AND ({rules} OR {gone})",
            (now, *cutoffs),
            name="room_retirement.mark_done",
        )

    async def to_leave(self, limit: int) -> list[JoinedRoom]:
        """Done rooms the bot is still in and nothing waits for in the outbox, oldest first."""
        rows = await self.db.fetchall(
            "SELECT key, room_id, created_at FROM purpose_rooms "
            "WHERE left_at IS NULL AND done_at IS NOT NULL AND room_id IS NOT NULL "
            f"AND NOT {_PENDING} ORDER BY done_at, key LIMIT ?",
            (limit,),
        )
        return [from_row(JoinedRoom, r, created_at=float(r["created_at"])) for r in rows]

    async def joined(self) -> list[JoinedRoom]:
        """Every purpose room the bot is in according to the store."""
        rows = await self.db.fetchall(
            "SELECT key, room_id, created_at FROM purpose_rooms "
            "WHERE left_at IS NULL AND room_id IS NOT NULL ORDER BY key"
        )
        return [from_row(JoinedRoom, r, created_at=float(r["created_at"])) for r in rows]

    async def mark_left(self, key: str, now: float) -> None:
        """The bot is out of the room (left it, or found itself no longer in it)."""
        await self.db.execute(
            "UPDATE purpose_rooms SET left_at = ?, done_at = COALESCE(done_at, ?) "
            "WHERE key = ? AND left_at IS NULL",
            (now, now, key),
            name="room_retirement.mark_left",
        )

    async def is_retired(self, key: str) -> bool:
        """True once the room's work is done or the bot is out of it: nothing more may be
        addressed to it."""
        row = await self.db.fetchone(
            "SELECT 1 FROM purpose_rooms WHERE key = ? "
            "AND (done_at IS NOT NULL OR left_at IS NOT NULL)",
            (key,),
        )
        return row is not None

    async def orphaned_sends(self, limit: int) -> list[OrphanedSend]:
        """Pending outbox items addressed to a purpose room the bot has left."""
        rows = await self.db.fetchall(
            "SELECT o.id, o.key, o.action, o.target AS room_key FROM outbox o "
            "JOIN purpose_rooms p ON p.key = o.target "
            "WHERE o.status = 'pending' AND o.target_kind = 'roomkey' "
            "AND p.left_at IS NOT NULL ORDER BY o.id LIMIT ?",
            (limit,),
        )
        return [from_row(OrphanedSend, r) for r in rows]
