"""The admin room hears of given-up outbox items once, in aggregate, at most hourly."""

from __future__ import annotations

from bot.chat.given_up import KEY_PREFIX, GivenUpNotices
from bot.store.db import Database
from bot.store.outbox import Outbox, OutboxItem

ADMIN_ROOM = "!admin:rathaus.example"


def item(key: str) -> OutboxItem:
    return OutboxItem(
        id=1,
        key=key,
        action="message",
        target_kind="dm",
        target="@anna:rathaus.example",
        stored_payload='{"content": {"body": "geheim"}}',
        attempts=0,
        subject_user="@anna:rathaus.example",
        created_at=0.0,
    )


async def notices_in(db: Database) -> list[str]:
    rows = await db.fetchall(
        "SELECT payload FROM outbox WHERE substr(key, 1, ?) = ?", (len(KEY_PREFIX), KEY_PREFIX)
    )
    return [str(r[0]) for r in rows]


async def test_one_notice_for_a_burst_then_none_within_the_hour(db: Database) -> None:
    outbox = Outbox(db)
    notices = GivenUpNotices(outbox, ADMIN_ROOM, "de", gather_s=0.0)
    for i in range(3):
        notices.note(item(f"crisis:A-1:ask:{i}"))
    assert await notices.post_due()
    [payload] = await notices_in(db)
    assert "3 Nachrichten von Flurfunk" in payload
    assert "anna" not in payload and "geheim" not in payload
    notices.note(item("later"))
    assert not await notices.post_due()  # within the hour: it waits, counted
    assert notices.count == 1 and len(await notices_in(db)) == 1


async def test_a_restart_within_the_hour_does_not_repeat_the_notice(db: Database) -> None:
    outbox = Outbox(db)
    first = GivenUpNotices(outbox, ADMIN_ROOM, "en", gather_s=0.0)
    first.note(item("a"))
    assert await first.post_due()
    restarted = GivenUpNotices(outbox, ADMIN_ROOM, "en", gather_s=0.0)
    restarted.note(item("b"))
    assert not await restarted.post_due()
    assert len(await notices_in(db)) == 1 and restarted.count == 1


async def test_nothing_without_an_admin_room_and_no_notice_about_notices(db: Database) -> None:
    outbox = Outbox(db)
    silent = GivenUpNotices(outbox, None, "de", gather_s=0.0)
    silent.note(item("a"))
    assert not await silent.post_due()
    notices = GivenUpNotices(outbox, ADMIN_ROOM, "de", gather_s=0.0)
    notices.note(item(KEY_PREFIX + "2026-12-05T07"))
    assert notices.due_at() is None
