"""The outbox: every side effect towards Matrix is stored before it is attempted.

A row's `key` is deterministic (derived from the triggering event or job), so enqueuing
the same effect twice is a no-op, and the transaction ID sent to the homeserver is
derived from it, so a retry after a crash is de-duplicated by the server as well.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from bot.store.db import Database, Row
from bot.store.portable import LIKE_ESCAPE, like_containing

Action = Literal["message", "edit", "file", "reaction", "create_room", "invite", "redact"]
TargetKind = Literal["room", "dm", "roomkey"]

# Who goes first when the sender's slots are full (issue #14): a crisis ask reaches its
# bridge before anybody's command is answered, answers before announcements, and reaction
# buttons and edits of a message come last (they are worth nothing before the message).
CRISIS, REPLY, NOTICE, FOLLOW_UP = 0, 1, 2, 3
# Actions that work on an earlier item's event (in that event's room).
ORIGINAL_BASED = frozenset({"edit", "reaction", "redact"})
# How many items of one target a round of the sender takes at most: its first (the head)
# and those right behind it, so one target's backlog never crowds out the others.
PER_TARGET = 20


def priority_of(key: str, action: str) -> int:
    """The priority of an effect, from its action and key (migration 0012 applies the same
    rules to older rows)."""
    if action in ORIGINAL_BASED:
        return FOLLOW_UP
    if key.startswith("crisis:"):
        return CRISIS
    if key.startswith("reply:"):
        return REPLY
    return NOTICE


def mentions(payload: str, user_id: str) -> bool:
    """Whether the stored payload names exactly this Matrix ID: as a JSON string
    (`"@al:example.org"`) or inside a text, but not as the start of a longer ID
    (`@al:example.org.uk`, `@al:example.org:8448`)."""
    pattern = re.escape(user_id) + r"(?![A-Za-z0-9_\-]|[.:\[\]][A-Za-z0-9])"
    return re.search(pattern, payload) is not None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    key: str
    action: Action
    target_kind: TargetKind
    target: str
    stored_payload: str  # JSON as stored; read through `payload`
    attempts: int
    subject_user: str | None
    created_at: float
    priority: int = NOTICE

    @cached_property
    def payload(self) -> dict[str, Any]:
        # Decoded when the item is tried: a round reads the heads of every target, most of
        # them busy in flight (the decoding was most of a round's cost in the fan-out bench).
        return dict(json.loads(self.stored_payload))


@dataclass(frozen=True)
class DueItems:
    """What a round of the sender may start: per target the due items at its head, in
    order; targets ordered fairly (every target's head before anybody's second item, heads
    by priority)."""

    items: list[OutboxItem]
    next_at: float | None  # when the earliest waiting head is due (None: none waits)
    full: bool  # the query hit its limit: more may be due than returned


_COLUMNS = "id, key, action, target_kind, target, payload, attempts, subject_user, created_at"


def _item(row: Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        key=row["key"],
        action=row["action"],
        target_kind=row["target_kind"],
        target=row["target"],
        stored_payload=row["payload"],
        attempts=row["attempts"],
        subject_user=row["subject_user"],
        created_at=row["created_at"],
        priority=row["priority"],
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(
        self,
        key: str,
        action: Action,
        target_kind: TargetKind,
        target: str,
        payload: dict[str, Any],
        *,
        subject_user: str | None = None,
        not_before: float = 0.0,
    ) -> bool:
        """Store one effect; False if an effect with this key exists already."""
        async with self.db.transaction("outbox.enqueue") as conn:
            cur = await conn.execute(
                "INSERT INTO outbox (key, action, target_kind, target, payload, "
                "subject_user, next_attempt_at, created_at, priority) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    key,
                    action,
                    target_kind,
                    target,
                    json.dumps(payload, ensure_ascii=False),
                    subject_user,
                    not_before,
                    time.time(),
                    priority_of(key, action),
                ),
            )
            return cur.rowcount == 1

    async def due(self, limit: int = 200) -> list[OutboxItem]:
        return (await self.heads(limit=limit)).items

    async def heads(self, per_target: int = PER_TARGET, limit: int = 2000) -> DueItems:
        """The first `per_target` pending items of every target (a window over each
        target's rows in id order), cut to the due prefix: an item waits while one before
        it for the same target waits. 5,000 stuck items of one target cost `per_target` rows."""
        now = time.time()
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS}, priority, next_attempt_at FROM ("
            f"SELECT {_COLUMNS}, priority, next_attempt_at, ROW_NUMBER() OVER "
            "(PARTITION BY target_kind, target ORDER BY id) AS rn "
            "FROM outbox WHERE status = 'pending') AS heads WHERE rn <= ? "
            "ORDER BY rn, priority, id LIMIT ?",
            (per_target, limit),
        )
        blocked: set[tuple[str, str]] = set()
        items: list[OutboxItem] = []
        next_at: float | None = None
        for row in rows:
            target = (str(row["target_kind"]), str(row["target"]))
            if target in blocked:
                continue
            due_at = float(row["next_attempt_at"])
            if due_at > now:
                blocked.add(target)
                next_at = due_at if next_at is None else min(next_at, due_at)
                continue
            items.append(_item(row))
        return DueItems(items, next_at, len(rows) >= limit)

    async def mark_sent(self, item_id: int, event_id: str | None, room_id: str | None) -> None:
        await self.mark_sent_many([(item_id, event_id, room_id, time.time())])

    async def mark_sent_many(self, marks: list[tuple[int, str | None, str | None, float]]) -> None:
        """Record deliveries, all in one transaction: (item id, event id, room id, when)."""
        async with self.db.transaction("outbox.mark_sent_many") as conn:
            # Files carry whole exports: drop the payload as soon as it is delivered.
            await conn.executemany(
                "UPDATE outbox SET status = 'sent', event_id = ?, room_id = ?, sent_at = ?, "
                "payload = CASE WHEN action = 'file' THEN '{}' ELSE payload END WHERE id = ?",
                [(event_id, room_id, at, item_id) for item_id, event_id, room_id, at in marks],
            )

    async def retry_later(self, item_id: int, delay_s: float, error: str, *, count: bool) -> None:
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? "
            "WHERE id = ?",
            (1 if count else 0, time.time() + delay_s, error[:500], item_id),
            name="outbox.retry_later",
        )

    async def due_now(self, error: str) -> int:
        """Make the items that wait after `error` due at once (the homeserver is back)."""
        now = time.time()
        return await self.db.execute(
            "UPDATE outbox SET next_attempt_at = ? "
            "WHERE status = 'pending' AND last_error = ? AND next_attempt_at > ?",
            (now, error, now),
            name="outbox.due_now",
        )

    async def mark_failed(self, item_id: int, error: str) -> None:
        """Give up on an item. Its content goes at once: nobody will ever read it, and it
        may be personal (S-05); the key, the error and the dates stay until `prune`."""
        await self.db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "payload = '{}' WHERE id = ?",
            (error[:500], item_id),
            name="outbox.mark_failed",
        )

    async def room_creation(self, room_key: str) -> str | None:
        """The state of the latest `create_room` item for a purpose room: "pending",
        "sent", "failed", or None when none was ever queued (or it was pruned)."""
        row = await self.db.fetchone(
            "SELECT status FROM outbox WHERE target_kind = 'roomkey' AND target = ? "
            "AND action = 'create_room' ORDER BY id DESC LIMIT 1",
            (room_key,),
        )
        return None if row is None else str(row["status"])

    async def sent_event(self, key: str) -> tuple[str, str] | None:
        """(room_id, event_id) of a delivered effect, for edits and reactions."""
        row = await self.db.fetchone(
            "SELECT room_id, event_id FROM outbox WHERE key = ? AND status = 'sent'", (key,)
        )
        if row is None or row["event_id"] is None:
            return None
        return str(row["room_id"]), str(row["event_id"])

    async def status(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT status FROM outbox WHERE key = ?", (key,))
        return None if row is None else str(row["status"])

    async def key_of_event(self, event_id: str) -> str | None:
        """The key of the delivered effect that became `event_id` (a message people react
        to); None if the event is not one of ours."""
        row = await self.db.fetchone("SELECT key FROM outbox WHERE event_id = ?", (event_id,))
        return None if row is None else str(row["key"])

    async def backlog(self) -> tuple[int, float | None]:
        """How many items wait, and when the oldest of them was queued (None: none wait);
        for /healthz and /metrics."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox "
            "WHERE status = 'pending'"
        )
        if row is None or not row["waiting"]:
            return 0, None
        return int(row["waiting"]), float(row["oldest"])

    async def prune(self, keep_sent_days: int, give_up_after_s: float) -> int:
        """Delete delivered and given-up rows after `keep_sent_days`, and pending rows
        `keep_sent_days` older than any item may wait (`give_up_after_s`): the sender
        gives up on those itself, this is the net under it (S-05)."""
        now = time.time()
        return await self.db.execute(
            "DELETE FROM outbox WHERE (status IN ('sent', 'failed') AND created_at < ?) "
            "OR (status = 'pending' AND created_at < ?)",
            (now - keep_sent_days * 86400, now - keep_sent_days * 86400 - give_up_after_s),
            name="outbox.prune",
        )

    async def forget_user(self, user_id: str) -> None:
        """Drop everything queued for or about a person who asked to be forgotten: what
        names them as subject, goes to their DM, or quotes their Matrix ID (delivered
        messages may quote it; the copies that matter live in the rooms)."""
        async with self.db.transaction("outbox.forget_user") as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE subject_user = ? OR (target_kind = 'dm' AND target = ?)",
                (user_id, user_id),
            )
            for item_id in await self._mentioning(user_id):
                await conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    async def _mentioning(self, user_id: str) -> list[int]:
        # LIKE finds the candidates (also longer IDs that start with this one, and in
        # SQLite other-case spellings), the pattern keeps the exact ones.
        rows = await self.db.fetchall(
            f"SELECT id, payload FROM outbox WHERE payload LIKE ? {LIKE_ESCAPE}",
            (like_containing(user_id),),
        )
        return [int(r["id"]) for r in rows if mentions(str(r["payload"]), user_id)]

    async def drop_for_room(self, room_id: str) -> int:
        """Delete everything stored for one room (a forgotten person's DM)."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE target_kind = 'room' AND target = ?",
            (room_id,),
            name="outbox.drop_for_room",
        )

    async def people(self) -> set[str]:
        """Everybody a stored message is about or addressed to directly."""
        rows = await self.db.fetchall(
            "SELECT subject_user AS user_id FROM outbox WHERE subject_user IS NOT NULL "
            "UNION SELECT target FROM outbox WHERE target_kind = 'dm'"
        )
        return {str(r["user_id"]) for r in rows}

    async def pending_about(self, user_id: str) -> list[dict[str, Any]]:
        """Messages not yet delivered that are about the person, for `!meinedaten`: what
        they say (text, or a file's name), when they were queued, and their state."""
        rows = await self.db.fetchall(
            "SELECT action, target, payload, subject_user, created_at "
            "FROM outbox WHERE status = 'pending' AND (subject_user = ? OR "
            f"(target_kind = 'dm' AND target = ?) OR payload LIKE ? {LIKE_ESCAPE}) ORDER BY id",
            (user_id, user_id, like_containing(user_id)),
        )
        found = []
        for row in rows:
            payload = str(row["payload"])
            if (
                row["subject_user"] != user_id
                and row["target"] != user_id
                and not mentions(payload, user_id)
            ):
                continue
            found.append(
                _pending_export(str(row["action"]), json.loads(payload), float(row["created_at"]))
            )
        return found

    async def drop_pending_with_prefix(self, prefix: str) -> int:
        """Delete the undelivered effects whose key starts with `prefix`."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE status = 'pending' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix),
            name="outbox.drop_pending_with_prefix",
        )

    async def blank_delivered_with_prefix(self, prefix: str) -> int:
        """Empty the payload of the delivered (or given up) effects whose key starts with
        `prefix`; event and room IDs stay for edits and reactions."""
        return await self.db.execute(
            "UPDATE outbox SET payload = '{}' WHERE status != 'pending' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix),
            name="outbox.blank_delivered_with_prefix",
        )


def _pending_export(action: str, payload: dict[str, Any], created_at: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": action,
        "queued_at": datetime.fromtimestamp(created_at, UTC).isoformat(),
    }
    content = payload.get("content")
    if isinstance(content, dict) and isinstance(content.get("body"), str):
        entry["text"] = content["body"]  # messages and edits
    elif action == "file":
        entry["file"] = payload.get("filename")
    elif action == "reaction":
        entry["reaction"] = payload.get("key")
    elif action == "create_room":
        entry["room"] = payload.get("name")
    return entry
