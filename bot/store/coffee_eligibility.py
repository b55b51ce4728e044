"""Who takes part in the coffee matching now, read straight from the profiles table."""

from __future__ import annotations

from bot.store.db import Database


async def coffee_eligible_ids(db: Database, now: float) -> set[str]:
    """The Matrix IDs of everyone who takes part in the coffee matching now; the same
    condition as `ProfileRepository.eligible_for_coffee` (reads the profiles table owned
    by bot/store/profiles.py), without loading whole profiles."""
    rows = await db.fetchall(
        "SELECT user_id FROM profiles WHERE confirmed = 1 AND coffee = 1 "
        "AND (coffee_paused_until IS NULL OR coffee_paused_until <= ?)",
        (now,),
    )
    return {str(r["user_id"]) for r in rows}


async def count_coffee_eligible(db: Database, now: float) -> int:
    """How many people take part in the coffee matching now. Reads the profiles table
    (owned by bot/store/profiles.py) with the same condition as
    `ProfileRepository.eligible_for_coffee`, without loading every profile."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS people FROM profiles WHERE confirmed = 1 AND coffee = 1 "
        "AND (coffee_paused_until IS NULL OR coffee_paused_until <= ?)",
        (now,),
    )
    return int(row["people"]) if row else 0
