"""The coffee/circle repository on a temporary SQLite: round keys are unique, sequences per
kind, groups with members and answers, answer streaks, forgetting and retention."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import NewGroup, NewMember, RoundKind, is_placeholder
from bot.store.db import Database


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CoffeeStore]:
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    yield CoffeeStore(db)
    await db.close()


def group(key: str, idx: int, *people: str, due: float = 0.0) -> NewGroup:
    room = f"{key}/{idx}"
    return NewGroup(
        idx=idx,
        kind="pair" if len(people) == 2 else "trio",
        members=tuple(NewMember(p, f"Amt {p}", "Musterstadt") for p in people),
        room_key=room,
        intro_key=f"{room}:intro",
        followup_key=f"{room}:followup",
        followup_due_at=due,
        shared=("Fördermittel",),
    )


async def new_round(
    store: CoffeeStore, key: str, *groups: NewGroup, kind: RoundKind = "coffee"
) -> int:
    row = await store.insert_round(
        kind,
        key,
        trigger="schedule",
        started_at=time.time(),
        people=0,
        groups=len(groups),
        unmatched=0,
    )
    assert row is not None
    await store.insert_groups(row.id, list(groups), time.time())
    return row.seq


async def test_round_key_is_unique_and_seq_counts_per_kind(store: CoffeeStore) -> None:
    assert await new_round(store, "coffee:2026-W48") == 1
    again = await store.insert_round(
        "coffee",
        "coffee:2026-W48",
        trigger="admin",
        started_at=0,
        people=0,
        groups=0,
        unmatched=0,
    )
    assert again is None
    assert await new_round(store, "circle:2026-12", kind="circle") == 1
    assert await new_round(store, "coffee:2026-W49") == 2
    assert await store.last_seq("coffee") == 2
    assert await store.keys_like("coffee:2026-W4") == ["coffee:2026-W48", "coffee:2026-W49"]


async def test_groups_members_and_answers(store: CoffeeStore) -> None:
    await new_round(store, "coffee:2026-W48", group("coffee:2026-W48", 0, "@a:x", "@b:x"))
    found = await store.group_by_followup_key("coffee:2026-W48/0:followup")
    assert found is not None and found.shared == ("Fördermittel",) and found.kind == "pair"
    assert await store.is_member(found.id, "@a:x")
    assert not await store.is_member(found.id, "@c:x")
    assert await store.set_answer(found.id, "@a:x", True, "👍", 1.0)
    assert [m.met for m in await store.members(found.id)] == [True, None]
    assert not await store.withdraw_answer(found.id, "@a:x", "👎")
    assert await store.withdraw_answer(found.id, "@a:x", "👍")
    assert [m.met for m in await store.members(found.id)] == [None, None]
    assert (await store.latest_group_of("@b:x")) == found


async def test_due_followups_are_marked_once(store: CoffeeStore) -> None:
    await new_round(
        store,
        "coffee:2026-W48",
        group("coffee:2026-W48", 0, "@a:x", "@b:x", due=100.0),
        group("coffee:2026-W48", 1, "@c:x", "@d:x", due=300.0),
    )
    due = await store.due_followups(200.0)
    assert [g.idx for g in due] == [0]
    await store.mark_followup_sent(due[0].id, 200.0)
    assert await store.due_followups(200.0) == []
    assert [g.idx for g in await store.due_followups(400.0)] == [1]


async def test_history_and_last_match(store: CoffeeStore) -> None:
    await new_round(store, "coffee:1", group("coffee:1", 0, "@a:x", "@b:x"))
    await new_round(store, "coffee:2", group("coffee:2", 0, "@a:x", "@c:x", "@d:x"))
    rows = await store.memberships_since("coffee", 2)
    assert sorted(p for _, _, p in rows) == ["@a:x", "@c:x", "@d:x"]
    assert await store.last_matched_seq("coffee") == {"@a:x": 2, "@b:x": 1, "@c:x": 2, "@d:x": 2}


async def test_answer_streaks_start_after_the_last_question(store: CoffeeStore) -> None:
    for n in range(1, 5):
        await new_round(store, f"coffee:{n}", group(f"coffee:{n}", 0, "@a:x", "@b:x"))
    for g in await store.due_followups(1e12):
        await store.mark_followup_sent(g.id, 1.0)
    streaks = {p: flags for p, _, flags in await store.answer_streaks("coffee", ["@a:x"], 1)}
    assert streaks == {"@a:x": [False, False, False, False]}
    newest = await store.latest_group_of("@a:x")
    assert newest is not None
    await store.set_answer(newest.id, "@b:x", True, None, 1.0)  # b confirms: a met too
    streaks = {p: flags for p, _, flags in await store.answer_streaks("coffee", ["@a:x"], 1)}
    assert streaks["@a:x"][0] is True
    await store.record_pause_question("@a:x", newest.id, 2.0)
    assert await store.answer_streaks("coffee", ["@a:x"], 1) == []


async def test_forget_keeps_the_group_whole_with_a_placeholder(store: CoffeeStore) -> None:
    await new_round(store, "coffee:1", group("coffee:1", 0, "@a:x", "@b:x"))
    await new_round(store, "coffee:2", group("coffee:2", 0, "@a:x", "@c:x"))
    found = await store.latest_group_of("@a:x")
    assert found is not None
    await store.set_answer(found.id, "@a:x", True, "👍", 1.0)
    await store.record_pause_question("@a:x", found.id, 1.0)
    await store.forget("@a:x", keep_places=["Musterstadt"])
    assert await store.export("@a:x") == []
    people = [m.person for g in (1, 2) for m in await store.members(g)]
    placeholders = {p for p in people if is_placeholder(p)}
    assert len(placeholders) == 1 and len(people) == 4  # one placeholder for both rounds
    member = next(m for m in await store.members(found.id) if is_placeholder(m.person))
    assert (member.department, member.municipality, member.met) == ("", "Musterstadt", True)
    again = await store.group_by_followup_key(found.followup_key)
    assert again is not None and again.shared == ()
    assert await store.db.fetchone("SELECT 1 FROM coffee_pause_questions") is None


async def test_prune_deletes_old_rounds_only(store: CoffeeStore) -> None:
    await new_round(store, "coffee:old", group("coffee:old", 0, "@a:x", "@b:x"))
    await store.db.execute(
        "UPDATE coffee_rounds SET started_at = 0 WHERE key = 'coffee:old'", name="test.age_round"
    )
    await new_round(store, "coffee:new", group("coffee:new", 0, "@a:x", "@b:x"))
    assert await store.prune(86400) == 1
    assert await store.round_by_key("coffee:old") is None
    assert await store.round_by_key("coffee:new") is not None
    count = await store.db.fetchone("SELECT COUNT(*) FROM coffee_members")
    assert count is not None and count[0] == 2
