"""Retention reaches everybody the store knows, not only people with a profile: the set of
people is the union over every personal-data owner, and activity is recorded for everybody
(review finding S-06)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.db import Database
from tests.support.harness import ADMIN, CRISIS, STAFF, Harness, dm


async def tables_mentioning(db: Database, needle: str) -> dict[str, int]:
    """Table -> number of rows that contain `needle` anywhere (every column as text)."""
    tables = [
        str(r[0])
        for r in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found: dict[str, int] = {}
    for table in tables:
        rows = await db.fetchall(f'SELECT * FROM "{table}"')
        count = sum(1 for row in rows if any(needle in str(value) for value in tuple(row)))
        if count:
            found[table] = count
    return found


async def test_retention_forgets_people_without_a_profile(tmp_path: Path) -> None:
    """S-06 (appendix E): `!sprache en`, `!erreichbar`, `!kontakt` and `!kaffeepause` without
    a profile, then retention ten years later: nothing about the person is left."""
    async with Harness.open(tmp_path) as bot:
        for line in (
            "!sprache en",
            "!erreichbar Mo-Fr 8-16",
            "!kontakt Tafel Dresden | Soziale Träger",
            "!kaffeepause",
        ):
            assert await bot.say(STAFF, dm(STAFF), line)
        assert await bot.services.profiles.repo.get(STAFF) is None
        before = await tables_mentioning(bot.db, STAFF)
        assert {"language_choice", "dm_rooms", "crisis_availability"} <= set(before), before

        later = datetime.now(UTC) + timedelta(days=3650)
        result = await bot.services.retention.run(now=later)

        assert result.inactive >= 1
        assert await tables_mentioning(bot.db, STAFF) == {}
        # People the store merely knows (a DM recorded, nothing done) are not judged by a
        # clock that started before anyone noticed them: they get the full period.
        assert await bot.services.privacy.people() >= {ADMIN, CRISIS}
        assert "dm_rooms" in await tables_mentioning(bot.db, ADMIN)


async def test_activity_is_recorded_without_a_profile(tmp_path: Path) -> None:
    """S-06: a command is activity whether or not the person has a profile."""
    async with Harness.open(tmp_path) as bot:
        await bot.say(STAFF, dm(STAFF), "!sprache en")
        assert await bot.services.profiles.repo.get(STAFF) is None
        seen = await bot.services.profiles.activity.last_seen([STAFF])
        assert STAFF in seen
        export = await bot.services.privacy.export(STAFF, datetime.now(UTC))
        assert export["sections"]["chat"]["last_activity"] is not None
