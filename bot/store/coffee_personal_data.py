"""Personal data in the coffee tables: export, `!vergessen` and retention.

A forgotten member is replaced by a neutral placeholder, the same for all of that person's
rows, so the others' history (and the no-repeat rule) stays whole.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from bot.store.coffee_rows import FORGOTTEN_PREFIX
from bot.store.db import Database


class CoffeePersonalData:
    """Export, forgetting and pruning of coffee rounds; mixed into CoffeeStore."""

    db: Database

    async def export(self, person: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT r.kind AS round_kind, r.key AS round_key, g.kind AS group_kind, g.topic, "
            "g.shared, g.created_at, "
            "(SELECT COUNT(*) FROM coffee_members o WHERE o.group_id = g.id) AS members, "
            "m.department, m.municipality, m.met, m.answered_at "
            "FROM coffee_members m JOIN coffee_groups g ON g.id = m.group_id "
            "JOIN coffee_rounds r ON r.id = g.round_id WHERE m.person = ? ORDER BY g.id",
            (person,),
        )
        out = [
            {
                "format": r["round_kind"],
                "round": r["round_key"],
                "group": r["group_kind"],
                "topic": r["topic"],
                "shared": json.loads(r["shared"]),
                "introduced_at": r["created_at"],
                "members": r["members"],
                "your_department_then": r["department"],
                "your_municipality_then": r["municipality"],
                "met": None if r["met"] is None else bool(r["met"]),
                "answered_at": r["answered_at"],
            }
            for r in rows
        ]
        asked = await self.db.fetchone(
            "SELECT asked_at FROM coffee_pause_questions WHERE person = ?", (person,)
        )
        if asked is not None:
            out.append({"asked_whether_to_pause_at": asked["asked_at"]})
        requests = await self.db.fetchall(
            "SELECT kind, mode, round_key, created_at, done_at FROM coffee_requests "
            "WHERE requested_by = ? ORDER BY id",
            (person,),
        )
        out += [
            {
                "admin_request": r["kind"],
                "mode": r["mode"],
                "round": r["round_key"],
                "at": r["created_at"],
                "done_at": r["done_at"],
            }
            for r in requests
        ]
        return out

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT person FROM coffee_members UNION SELECT person FROM coffee_pause_questions "
            "UNION SELECT requested_by FROM coffee_requests"
        )
        return {str(r["person"]) for r in rows}

    async def forget(self, person: str, keep_places: Iterable[str] = ()) -> None:
        """Replace the person by a placeholder in every group they were in.

        Department and municipality stay only if they are one of `keep_places` (the
        configured directory): a name the person typed in themselves goes. The shared words
        of their groups came partly from their own text, so they go too.
        """
        placeholder = FORGOTTEN_PREFIX + secrets.token_hex(8)
        keep = list(dict.fromkeys(keep_places))
        marks = ",".join("?" * len(keep)) or "NULL"
        async with self.db.transaction("coffee_personal_data.forget") as conn:
            await conn.execute(
                "UPDATE coffee_groups SET shared = '[]' WHERE id IN "
                "(SELECT group_id FROM coffee_members WHERE person = ?)",
                (person,),
            )
            await conn.execute(
                "UPDATE coffee_members SET person = ?, answer_emoji = NULL, "
                f"department = CASE WHEN department IN ({marks}) THEN department ELSE '' END, "
                f"municipality = CASE WHEN municipality IN ({marks}) THEN municipality ELSE '' END "
                "WHERE person = ?",
                (placeholder, *keep, *keep, person),
            )
            await conn.execute("DELETE FROM coffee_pause_questions WHERE person = ?", (person,))
            await conn.execute("DELETE FROM coffee_requests WHERE requested_by = ?", (person,))

    # -- retention -----------------------------------------------------------------------

    async def prune(self, older_than_s: float) -> int:
        """Delete rounds (with groups, members, answers) that started before the cut-off."""
        cutoff = time.time() - older_than_s
        async with self.db.transaction("coffee_personal_data.prune") as conn:
            await conn.execute(
                "DELETE FROM coffee_members WHERE group_id IN (SELECT g.id FROM coffee_groups g "
                "JOIN coffee_rounds r ON r.id = g.round_id WHERE r.started_at < ?)",
                (cutoff,),
            )
            await conn.execute(
                "DELETE FROM coffee_groups WHERE round_id IN "
                "(SELECT id FROM coffee_rounds WHERE started_at < ?)",
                (cutoff,),
            )
            cur = await conn.execute("DELETE FROM coffee_rounds WHERE started_at < ?", (cutoff,))
            await conn.execute(
                "DELETE FROM coffee_requests WHERE done_at IS NOT NULL AND done_at < ?", (cutoff,)
            )
            return cur.rowcount
