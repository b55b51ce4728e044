"""A task cancelled while its transaction begins (graceful stop, a timed-out handler):
aiosqlite runs the BEGIN in its own thread anyway, and the shared connection must not stay
inside a transaction nobody ends, or every later write fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.store.bot_state import BotState
from bot.store.db import Database


async def test_a_transaction_cancelled_while_it_begins_leaves_the_store_usable(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    try:
        state = BotState(db)

        async def write() -> None:
            async with db.transaction("test"):
                await state.set("written", "yes")

        task = asyncio.create_task(write())
        await asyncio.sleep(0)  # the task now waits for its BEGIN
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        await state.set("after", "ok")
        async with db.transaction(
            "test.db_cancel.test_a_transaction_cancelled_while_it_begins_leaves_the_store_usable"
        ):
            await state.set("also", "ok")
        assert await state.get("after") == "ok" and await state.get("also") == "ok"
        assert await state.get("written") is None
    finally:
        await db.close()
