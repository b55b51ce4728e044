"""The outbox store's side of issue #14 / S-05: one head per target (fair due
selection), priorities by the field, given-up content dropped, stuck rows pruned."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.store.db import Database, migrations
from bot.store.outbox import CRISIS, FOLLOW_UP, NOTICE, REPLY, Outbox, priority_of

MESSAGE = {"content": {"msgtype": "m.notice", "body": "Hallo"}}


async def stuck(db: Database, count: int, target: str) -> None:
    """`count` due items for one DM target, written in one go (as a broadcast does)."""
    now = time.time()
    async with db.transaction("test") as conn:
        await conn.executemany(
            "INSERT INTO outbox (key, action, target_kind, target, payload, next_attempt_at, "
            "created_at) VALUES (?, 'message', 'dm', ?, '{}', 0, ?)",
            [(f"stuck:{i}", target, now) for i in range(count)],
        )


async def test_five_thousand_stuck_items_for_one_target_cost_one_head(db: Database) -> None:
    outbox = Outbox(db)
    await stuck(db, 5000, "@stuck:rathaus.example")
    await outbox.enqueue(
        "crisis:A-2345:ask:@anna:rathaus.example", "message", "dm", "@anna:rathaus.example", MESSAGE
    )
    due = await outbox.heads(per_target=20, limit=2000)
    by_target: dict[str, int] = {}
    for item in due.items:
        by_target[item.target] = by_target.get(item.target, 0) + 1
    assert by_target == {"@anna:rathaus.example": 1, "@stuck:rathaus.example": 20}
    # The crisis ask is the first head, before the stuck target's.
    assert due.items[0].target == "@anna:rathaus.example"
    # Even a round that can take only one item takes the other target's head first.
    [first] = (await outbox.heads(per_target=20, limit=1)).items
    assert first.priority == CRISIS


async def test_every_target_gets_its_head_before_anybody_gets_a_second(db: Database) -> None:
    outbox = Outbox(db)
    for i in range(3):
        await outbox.enqueue(f"reply:$a:{i}", "message", "dm", "@a:x", MESSAGE)
    await outbox.enqueue("reply:$b:0", "message", "dm", "@b:x", MESSAGE)
    due = await outbox.heads(per_target=20, limit=3)
    assert [i.key for i in due.items] == ["reply:$a:0", "reply:$b:0", "reply:$a:1"]
    assert due.full


async def test_a_waiting_head_holds_its_target_back_not_the_others(db: Database) -> None:
    outbox = Outbox(db)
    await outbox.enqueue("hello:1", "message", "dm", "@a:x", MESSAGE)
    await outbox.enqueue("hello:2", "message", "dm", "@a:x", MESSAGE)
    await outbox.enqueue("hello:3", "message", "dm", "@b:x", MESSAGE)
    [first] = [i for i in await outbox.due() if i.key == "hello:1"]
    await outbox.retry_later(first.id, 60, "M_UNKNOWN", count=True)
    due = await outbox.heads()
    # hello:2 must not overtake hello:1 (order per target), hello:3 is free to go.
    assert [i.key for i in due.items] == ["hello:3"]
    assert due.next_at is not None and 55 < due.next_at - time.time() <= 60


async def test_priorities_follow_the_field(db: Database) -> None:
    assert priority_of("crisis:A-2345:ask:@a:x", "message") == CRISIS
    assert priority_of("crisis:A-2345:hint:@b:x:1", "message") == CRISIS
    assert priority_of("crisis:A-2345:ask:@a:x:react:👍", "reaction") == FOLLOW_UP
    assert priority_of("crisis:A-2345:status:3", "edit") == FOLLOW_UP
    assert priority_of("reply:$event:0", "message") == REPLY
    assert priority_of("hosp:12:announce:!r:x", "message") == NOTICE
    assert priority_of("coffee:4/2:intro:create", "create_room") == NOTICE
    outbox = Outbox(db)
    await outbox.enqueue("reply:$e:0", "message", "dm", "@a:x", MESSAGE)
    await outbox.enqueue("crisis:A-1:ask:@b:x", "message", "dm", "@b:x", MESSAGE)
    await outbox.enqueue("crisis:A-1:ask:@b:x:react:👍", "reaction", "dm", "@b:x", {})
    await outbox.enqueue("kitchen:1", "message", "room", "!k:x", MESSAGE)
    due = await outbox.heads()
    assert [(i.key, i.priority) for i in due.items] == [
        ("crisis:A-1:ask:@b:x", CRISIS),
        ("reply:$e:0", REPLY),
        ("kitchen:1", NOTICE),
        ("crisis:A-1:ask:@b:x:react:👍", FOLLOW_UP),
    ]


async def test_given_up_items_lose_their_content_and_old_stuck_rows_go(db: Database) -> None:
    outbox = Outbox(db)
    await outbox.enqueue("secret:1", "message", "dm", "@a:x", MESSAGE)
    await outbox.enqueue("stuck:1", "message", "dm", "@b:x", MESSAGE)
    await outbox.enqueue("fresh:1", "message", "dm", "@c:x", MESSAGE)
    [secret] = [i for i in await outbox.due() if i.key == "secret:1"]
    await outbox.mark_failed(secret.id, "M_TOO_LARGE: event too large")
    row = await db.fetchone("SELECT status, payload FROM outbox WHERE key = 'secret:1'")
    assert row is not None and tuple(row) == ("failed", "{}")
    # A pending row older than the age limit plus the keep time is pruned with its text.
    old = time.time() - 14 * 86400 - 86400 - 60
    await db.execute(
        "UPDATE outbox SET created_at = ? WHERE key = 'stuck:1'", (old,), name="test.age_outbox"
    )
    assert await outbox.prune(keep_sent_days=14, give_up_after_s=86400) == 1
    keys = {str(r[0]) for r in await db.fetchall("SELECT key FROM outbox")}
    assert keys == {"secret:1", "fresh:1"}


async def test_deliveries_are_recorded_together(db: Database) -> None:
    outbox = Outbox(db)
    for i in range(3):
        await outbox.enqueue(f"m:{i}", "message", "dm", f"@p{i}:x", MESSAGE)
    items = await outbox.due()
    await outbox.mark_sent_many([(i.id, f"$e{i.id}", "!r:x", 1234.5) for i in items])
    assert await outbox.due() == []
    assert await outbox.sent_event("m:1") is not None
    # Each delivery keeps the time it was made, not the time it was written down.
    rows = await db.fetchall("SELECT DISTINCT sent_at FROM outbox")
    assert [r[0] for r in rows] == [1234.5]


async def test_rows_queued_before_the_priority_column_get_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = migrations()
    before = [m for m in everything if m[0] < 12]
    monkeypatch.setattr("bot.store.db.migrations", lambda *_: before)
    path = tmp_path / "old.db"
    old = Database(path)
    await old.open()
    rows = [
        ("crisis:A-1:ask:@a:x", "message"),
        ("crisis:A-1:ask:@a:x:react:👍", "reaction"),
        ("reply:$e:0", "message"),
        ("kitchen:1", "message"),
    ]
    for key, action in rows:
        await old.execute(
            "INSERT INTO outbox (key, action, target_kind, target, payload, created_at) "
            "VALUES (?, ?, 'dm', '@a:x', '{}', 0)",
            (key, action),
            name="test.seed_outbox",
        )
    await old.close()
    monkeypatch.setattr("bot.store.db.migrations", lambda *_: everything)
    new = Database(path)
    await new.open()
    try:
        found = {str(k): int(p) for k, p in await new.fetchall("SELECT key, priority FROM outbox")}
    finally:
        await new.close()
    assert found == {key: priority_of(key, action) for key, action in rows}
