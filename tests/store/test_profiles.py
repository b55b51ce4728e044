"""Profile and dialog repositories on a temporary SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store.db import Database
from bot.store.dialogs import DialogRepository
from bot.store.profiles import ProfileRepository

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = "@alice:rathaus.example"
BOB = "@bob:rathaus.example"
CARLA = "@carla:kreis.example"


async def test_create_get_update(db: Database) -> None:
    repo = ProfileRepository(db)
    assert await repo.get(ALICE) is None
    created = await repo.create(ALICE, NOW, confirmed=True)
    assert created.user_id == ALICE and created.confirmed and created.source == "chat"
    assert created.created_at == NOW and created.topics == () and not created.coffee
    again = await repo.create(ALICE, NOW + timedelta(days=1))
    assert again.id == created.id and again.created_at == NOW  # idempotent
    later = NOW + timedelta(hours=1)
    updated = await repo.update(
        ALICE,
        later,
        department="Gesundheitsamt",
        topics=("Wohngeld", "Digitalisierung"),
        languages=("de", "tr"),
        tasks="Ich bearbeite Wohngeldanträge",
    )
    assert updated is not None
    assert updated.department == "Gesundheitsamt"
    assert updated.topics == ("Wohngeld", "Digitalisierung")
    assert updated.languages == ("de", "tr")
    assert updated.updated_at == later and updated.created_at == NOW
    cleared = await repo.update(ALICE, later, topics=(), department=None)
    assert cleared is not None and cleared.topics == () and cleared.department is None
    with pytest.raises(ValueError):
        await repo.update(ALICE, later, created_at=NOW)
    assert await repo.update(BOB, later, tasks="x") is None


async def test_ui_language_is_joined_from_language_choice(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW)
    profile = await repo.get(ALICE)
    assert profile is not None and profile.ui_language is None
    await db.execute(
        "INSERT INTO language_choice (user_id, language) VALUES (?, 'en')",
        (ALICE,),
        name="test.choose_language",
    )
    profile = await repo.get(ALICE)
    assert profile is not None and profile.ui_language == "en"


async def test_eligible_for_coffee(db: Database) -> None:
    repo = ProfileRepository(db)
    for user in (ALICE, BOB, CARLA, "@dora:rathaus.example"):
        await repo.create(user, NOW, confirmed=True)
        await repo.update(user, NOW, coffee=True)
    await repo.update(BOB, NOW, coffee_paused_until=NOW + timedelta(weeks=2))
    await repo.update(CARLA, NOW, coffee=False)
    await repo.update("@dora:rathaus.example", NOW, confirmed=False)  # imported-only
    eligible = [p.user_id for p in await repo.eligible_for_coffee(NOW)]
    assert eligible == [ALICE]
    # The pause ends by itself; epoch floats work as well as datetimes.
    later = NOW + timedelta(weeks=2, seconds=1)
    assert [p.user_id for p in await repo.eligible_for_coffee(later.timestamp())] == [ALICE, BOB]
    assert all(p.coffee_eligible(later) for p in await repo.eligible_for_coffee(later))


async def test_all_active_leaves_out_imported(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW, confirmed=True)
    await repo.create(BOB, NOW, source="import")
    assert [p.user_id for p in await repo.all_active()] == [ALICE]
    assert [p.user_id for p in await repo.all()] == [ALICE, BOB]
    assert set(await repo.get_many([ALICE, BOB, CARLA])) == {ALICE, BOB}


async def test_activity_and_inactivity(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW - timedelta(days=400))
    await repo.create(BOB, NOW - timedelta(days=400))
    await repo.create(CARLA, NOW - timedelta(days=10))
    await repo.touch(BOB, NOW - timedelta(days=5))
    await repo.touch("@nobody:x.example", NOW)  # no profile: nothing happens
    assert await repo.inactive_before(NOW - timedelta(days=365)) == [ALICE]
    bob = await repo.get(BOB)
    assert bob is not None and bob.last_seen_at == NOW - timedelta(days=5)


async def test_ids_are_never_reused(db: Database) -> None:
    repo = ProfileRepository(db)
    first = await repo.create(ALICE, NOW)
    assert await repo.delete(ALICE)
    second = await repo.create(BOB, NOW)
    assert second.id > first.id


async def test_export_is_plain_json_data(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW, confirmed=True)
    await repo.update(ALICE, NOW, topics=("Wohngeld",), coffee=True)
    data = await repo.export(ALICE)
    assert data is not None
    assert data["user_id"] == ALICE and data["topics"] == ["Wohngeld"] and data["coffee"] is True
    assert data["created_at"] == NOW.isoformat()
    assert await repo.export(BOB) is None


async def test_dialogs(db: Database) -> None:
    dialogs = DialogRepository(db)
    assert await dialogs.get(ALICE, "onboarding") is None
    await dialogs.put(ALICE, "onboarding", "department", {"answers": {}}, NOW)
    moved = await dialogs.put(
        ALICE, "onboarding", "tasks", {"answers": {"department": "Jugendamt"}}, NOW + timedelta(1)
    )
    assert moved.step == "tasks" and moved.data["answers"]["department"] == "Jugendamt"
    assert moved.created_at == NOW and moved.updated_at == NOW + timedelta(1)
    await dialogs.put(ALICE, "forget", "confirm", {}, NOW)
    await dialogs.put(BOB, "onboarding", "department", {}, NOW - timedelta(days=40))
    assert [d.kind for d in await dialogs.of_user(ALICE)] == ["forget", "onboarding"]
    assert await dialogs.delete_older_than(NOW - timedelta(days=30)) == 1
    assert await dialogs.delete(ALICE, "forget") == 1
    assert await dialogs.delete(ALICE) == 1
    assert await dialogs.of_user(ALICE) == []
