"""An outbox item's ID is never given to another item: the sender records a delivery by
ID a moment after the send, and `!vergessen` may delete the item in between. With a reused
ID the goodbye after `!vergessen` looked delivered and never went out."""

from __future__ import annotations

from pathlib import Path

from bot.store.db import Database
from bot.store.outbox import Outbox

ERIKA = "@erika:rathaus.example"


async def test_a_deleted_items_id_is_not_reused(tmp_path: Path) -> None:
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    try:
        outbox = Outbox(db)
        content = {"content": {"msgtype": "m.notice", "body": "Gespeichert"}}
        await outbox.enqueue("reply:1", "message", "dm", ERIKA, content)
        [sent] = (await outbox.heads()).items
        # Sent; before the delivery is recorded, the person is forgotten ...
        await outbox.forget_user(ERIKA)
        await outbox.enqueue("forgot:1", "message", "room", "!dm:x", content)
        [goodbye] = (await outbox.heads()).items
        assert goodbye.id != sent.id
        # ... and the late record of the first send touches nothing else.
        await outbox.mark_sent(sent.id, "$e", "!dm:x")
        assert await outbox.status("forgot:1") == "pending"
    finally:
        await db.close()
