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
from typing import Any, Literal

from bot.store.db import Database

Action = Literal["message", "edit", "file", "reaction", "create_room", "invite", "redact"]
TargetKind = Literal["room", "dm", "roomkey"]


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
    payload: dict[str, Any]
    attempts: int
    subject_user: str | None
    created_at: float


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
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO outbox (key, action, target_kind, target, payload, "
                "subject_user, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    action,
                    target_kind,
                    target,
                    json.dumps(payload, ensure_ascii=False),
                    subject_user,
                    not_before,
                    time.time(),
                ),
            )
            return cur.rowcount == 1

    async def due(self, limit: int = 200) -> list[OutboxItem]:
        rows = await self.db.fetchall(
            "SELECT id, key, action, target_kind, target, payload, attempts, subject_user, "
            "created_at "
            "FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (time.time(), limit),
        )
        return [
            OutboxItem(
                id=r[0],
                key=r[1],
                action=r[2],
                target_kind=r[3],
                target=r[4],
                payload=json.loads(r[5]),
                attempts=r[6],
                subject_user=r[7],
                created_at=r[8],
            )
            for r in rows
        ]

    async def next_due_at(self) -> float | None:
        row = await self.db.fetchone(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def mark_sent(self, item_id: int, event_id: str | None, room_id: str | None) -> None:
        # Files carry whole exports: drop the payload as soon as it is delivered.
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', event_id = ?, room_id = ?, sent_at = ?, "
            "payload = CASE WHEN action = 'file' THEN '{}' ELSE payload END WHERE id = ?",
            (event_id, room_id, time.time(), item_id),
        )

    async def retry_later(self, item_id: int, delay_s: float, error: str, *, count: bool) -> None:
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? "
            "WHERE id = ?",
            (1 if count else 0, time.time() + delay_s, error[:500], item_id),
        )

    async def mark_failed(self, item_id: int, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? "
            "WHERE id = ?",
            (error[:500], item_id),
        )

    async def sent_event(self, key: str) -> tuple[str, str] | None:
        """(room_id, event_id) of a delivered effect, for edits and reactions."""
        row = await self.db.fetchone(
            "SELECT room_id, event_id FROM outbox WHERE key = ? AND status = 'sent'", (key,)
        )
        if row is None or row[1] is None:
            return None
        return str(row[0]), str(row[1])

    async def status(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT status FROM outbox WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def backlog(self) -> tuple[int, float | None]:
        """How many items wait, and when the oldest of them was queued (None: none wait);
        for /healthz and /metrics."""
        row = await self.db.fetchone(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'"
        )
        if row is None or not row[0]:
            return 0, None
        return int(row[0]), float(row[1])

    async def prune(self, keep_sent_days: int) -> int:
        return await self.db.execute(
            "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
            (time.time() - keep_sent_days * 86400,),
        )

    async def forget_user(self, user_id: str) -> None:
        """Drop everything queued for or about a person who asked to be forgotten: what
        names them as subject, goes to their DM, or quotes their Matrix ID (delivered
        messages may quote it; the copies that matter live in the rooms)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE subject_user = ? OR (target_kind = 'dm' AND target = ?)",
                (user_id, user_id),
            )
            for item_id in await self._mentioning(user_id):
                await conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    async def _mentioning(self, user_id: str) -> list[int]:
        # instr finds the candidates (also longer IDs that start with this one), the
        # pattern keeps the exact ones.
        rows = await self.db.fetchall(
            "SELECT id, payload FROM outbox WHERE instr(payload, ?) > 0", (user_id,)
        )
        return [int(r[0]) for r in rows if mentions(str(r[1]), user_id)]

    async def drop_for_room(self, room_id: str) -> int:
        """Delete everything stored for one room (a forgotten person's DM)."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE target_kind = 'room' AND target = ?", (room_id,)
        )

    async def people(self) -> set[str]:
        """Everybody a stored message is about or addressed to directly."""
        rows = await self.db.fetchall(
            "SELECT subject_user FROM outbox WHERE subject_user IS NOT NULL "
            "UNION SELECT target FROM outbox WHERE target_kind = 'dm'"
        )
        return {str(r[0]) for r in rows}

    async def pending_about(self, user_id: str) -> list[dict[str, Any]]:
        """Messages not yet delivered that are about the person, for `!meinedaten`: what
        they say (text, or a file's name), when they were queued, and their state."""
        rows = await self.db.fetchall(
            "SELECT id, key, action, target_kind, target, payload, subject_user, created_at "
            "FROM outbox WHERE status = 'pending' AND (subject_user = ? OR "
            "(target_kind = 'dm' AND target = ?) OR instr(payload, ?) > 0) ORDER BY id",
            (user_id, user_id, user_id),
        )
        found = []
        for row in rows:
            payload = str(row[5])
            if row[6] != user_id and row[4] != user_id and not mentions(payload, user_id):
                continue
            found.append(_pending_export(str(row[2]), json.loads(payload), float(row[7])))
        return found

    async def drop_pending_with_prefix(self, prefix: str) -> int:
        """Delete the undelivered effects whose key starts with `prefix`."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE status = 'pending' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix),
        )

    async def blank_delivered_with_prefix(self, prefix: str) -> int:
        """Empty the payload of the delivered (or given up) effects whose key starts with
        `prefix`; event and room IDs stay for edits and reactions."""
        return await self.db.execute(
            "UPDATE outbox SET payload = '{}' WHERE status != 'pending' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix),
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
