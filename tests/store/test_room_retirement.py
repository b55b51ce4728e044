"""The store's half of leaving done purpose rooms (issue #17): when each kind of purpose room
is done, which done rooms may be left (nothing pending for them), and what addressed to a
left room is found to fail."""

from __future__ import annotations

from bot.store.coffee import CoffeeStore
from bot.store.coffee_breaks import CoffeeBreakStore
from bot.store.coffee_rows import GroupKind, NewGroup, NewMember
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.room_retirement import RetiringRooms
from bot.store.rooms import RoomDirectory

DAY_S = 86_400.0
ANSWER_S = 14 * DAY_S
T0 = 1_800_000_000.0
A, B, C = "@a:rathaus.example", "@b:rathaus.example", "@c:rathaus.example"


async def coffee_group(
    db: Database, kind: GroupKind = "pair", people: tuple[str, ...] = (A, B)
) -> int:
    """One round with one group (room key `coffee:R/0`) whose room exists; its id."""
    store = CoffeeStore(db)
    round_row = await store.insert_round(
        "coffee",
        "coffee:R",
        trigger="schedule",
        started_at=T0,
        people=len(people),
        groups=1,
        unmatched=0,
    )
    assert round_row is not None
    members = tuple(NewMember(p, "Amt", "Stadt") for p in people)
    group = NewGroup(
        0, kind, members, "coffee:R/0", "coffee:R/0:intro", "coffee:R/0:followup", T0 + 3 * DAY_S
    )
    await store.insert_groups(round_row.id, [group], T0)
    await RoomDirectory(db).set_purpose_room("coffee:R/0", "!coffee:x", [])
    [row] = await store.groups_of_round(round_row.id)
    return row.id


async def done_keys(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT key FROM purpose_rooms WHERE done_at IS NOT NULL ORDER BY key")
    return [str(r[0]) for r in rows]


async def test_a_coffee_room_is_done_once_everyone_answered(db: Database) -> None:
    group_id = await coffee_group(db)
    store, retiring = CoffeeStore(db), RetiringRooms(db)
    assert await retiring.mark_done(T0 + 3 * DAY_S, ANSWER_S) == 0  # follow-up not asked yet
    await store.mark_followup_sent(group_id, T0 + 3 * DAY_S)
    await store.set_answer(group_id, A, True, "👍", T0 + 3 * DAY_S)
    assert await retiring.mark_done(T0 + 4 * DAY_S, ANSWER_S) == 0  # B may still answer
    assert not await retiring.is_retired("coffee:R/0")
    await store.set_answer(group_id, B, False, "👎", T0 + 4 * DAY_S)
    assert await retiring.mark_done(T0 + 4 * DAY_S, ANSWER_S) == 1
    assert await retiring.is_retired("coffee:R/0")
    assert [r.key for r in await retiring.to_leave(10)] == ["coffee:R/0"]


async def test_an_unanswered_follow_up_expires_after_the_answer_window(db: Database) -> None:
    group_id = await coffee_group(db, "trio", (A, B, C))
    store, retiring = CoffeeStore(db), RetiringRooms(db)
    await store.mark_followup_sent(group_id, T0 + 3 * DAY_S)
    assert await retiring.mark_done(T0 + 3 * DAY_S + ANSWER_S - 1, ANSWER_S) == 0
    assert await retiring.mark_done(T0 + 3 * DAY_S + ANSWER_S, ANSWER_S) == 1
    assert await done_keys(db) == ["coffee:R/0"]
    # The answers stay in the feature tables for the statistics; the room row only says done.
    assert [m.met for m in await store.members(group_id)] == [None, None, None]


async def test_a_done_room_is_left_only_when_nothing_waits_for_it(db: Database) -> None:
    group_id = await coffee_group(db)
    store, retiring, outbox = CoffeeStore(db), RetiringRooms(db), Outbox(db)
    await store.mark_followup_sent(group_id, T0)
    await outbox.enqueue("coffee:R/0:followup", "message", "roomkey", "coffee:R/0", {})
    await retiring.mark_done(T0 + ANSWER_S, ANSWER_S)
    assert await retiring.to_leave(10) == []  # the follow-up is still being delivered
    [item] = await outbox.due()
    await outbox.mark_sent(item.id, "$e", "!coffee:x")
    assert [(r.key, r.room_id) for r in await retiring.to_leave(10)] == [
        ("coffee:R/0", "!coffee:x")
    ]
    await retiring.mark_left("coffee:R/0", T0 + ANSWER_S)
    assert await retiring.to_leave(10) == [] and await retiring.joined() == []


async def test_sends_to_a_left_room_are_found_to_fail(db: Database) -> None:
    group_id = await coffee_group(db)
    retiring, outbox = RetiringRooms(db), Outbox(db)
    await outbox.enqueue("coffee:R/0:early", "message", "roomkey", "coffee:R/0", {})
    assert await retiring.orphaned_sends(10) == []  # the room is joined: this goes out
    await CoffeeStore(db).mark_followup_sent(group_id, T0)
    await retiring.mark_done(T0 + ANSWER_S, ANSWER_S)
    assert await retiring.orphaned_sends(10) == []  # done, not left: still delivered first
    await retiring.mark_left("coffee:R/0", T0 + ANSWER_S)
    await outbox.enqueue("coffee:R/0:late", "message", "roomkey", "coffee:R/0", {})
    await outbox.enqueue("dm:late", "message", "dm", A, {})
    assert [(s.key, s.room_key) for s in await retiring.orphaned_sends(10)] == [
        ("coffee:R/0:early", "coffee:R/0"),
        ("coffee:R/0:late", "coffee:R/0"),
    ]


async def test_coffee_breaks_introductions_and_crisis_rooms(db: Database) -> None:
    rooms, retiring, breaks = RoomDirectory(db), RetiringRooms(db), CoffeeBreakStore(db)
    answered = await breaks.add_break(A, B, 15, T0, T0 + 1200)
    silent = await breaks.add_break(A, C, 15, T0, T0 + 1200)
    for break_id in (answered, silent):
        await rooms.set_purpose_room(f"coffeebreak:{break_id}", f"!b{break_id}:x", [])
        await breaks.mark_followup_sent(break_id)
    await breaks.set_answer(answered, "a", "yes")
    await breaks.set_answer(answered, "b", "no")
    await db.execute(
        "INSERT INTO crisis_requests (id, requester, text, urgent, drill, state, active, "
        "created_at) VALUES ('A-OPEN', ?, 'x', 1, 0, '{}', 1, 0), "
        "('A-DONE', ?, 'x', 1, 0, '{}', 0, 0)",
        (A, A),
        name="test.seed_crisis",
    )
    for request in ("A-OPEN", "A-DONE"):
        await rooms.set_purpose_room(f"crisis:{request}", f"!{request}:x", [])
    await db.execute(
        "INSERT INTO introductions (id, requester, target, state, created_at, expires_at) "
        "VALUES (5, ?, ?, 'accepted', 0, 0)",
        (A, B),
        name="test.seed_introduction",
    )
    await rooms.set_purpose_room("intro:5", "!intro:x", [])
    await rooms.set_purpose_room("elsewhere:1", "!e:x", [])  # a prefix without a rule
    await rooms.start_creation("intro:6", [A])  # no room yet: nothing to leave

    await retiring.mark_done(T0 + 1300, ANSWER_S)
    assert await done_keys(db) == [f"coffeebreak:{answered}", "crisis:A-DONE", "intro:5"]
    await retiring.mark_done(T0 + 1200 + ANSWER_S, ANSWER_S)
    assert f"coffeebreak:{silent}" in await done_keys(db)
    assert "crisis:A-OPEN" not in await done_keys(db)
    assert "elsewhere:1" not in await done_keys(db)


async def test_a_room_whose_feature_row_is_gone_is_done(db: Database) -> None:
    rooms, retiring = RoomDirectory(db), RetiringRooms(db)
    await rooms.set_purpose_room("coffeebreak:99", "!gone:x", [])
    await rooms.set_purpose_room("crisis:A-GONE", "!gone2:x", [])
    assert await retiring.mark_done(T0, ANSWER_S) == 2
