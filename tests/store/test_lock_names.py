"""/metrics names who held the store's lock, and for how long.

With one connection and one lock, a slow transaction makes every command wait; the
operator finds it by the transaction's name in `flurfunk_store_lock_seconds`.
"""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest

from bot.chat.health import Metrics
from bot.store.bot_state import BotState
from bot.store.db import Database


def observed(metrics: Metrics, name: str) -> tuple[float, float]:
    """(count, sum in seconds) of the lock histogram for one transaction name."""
    text = generate_latest(metrics.registry).decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        for part in ("count", "sum"):
            prefix = f'flurfunk_store_lock_seconds_{part}{{name="{name}"}} '
            if line.startswith(prefix):
                values[part] = float(line.removeprefix(prefix))
    return values.get("count", 0.0), values.get("sum", 0.0)


async def test_each_transaction_is_reported_under_its_name(db: Database) -> None:
    metrics = Metrics()
    db.on_lock_released.append(metrics.lock_released)
    async with db.transaction("coffee.run_round"):
        await asyncio.sleep(0.05)  # a slow holder
    await BotState(db).set("k", "v")
    async with db.transaction("coffee.run_round"):
        pass
    count, seconds = observed(metrics, "coffee.run_round")
    assert count == 2 and seconds >= 0.05
    assert observed(metrics, "read")[0] == 0  # nothing was read outside a transaction
    await BotState(db).get("k")
    assert observed(metrics, "read")[0] == 1


async def test_a_joined_transaction_counts_for_the_outer_name(db: Database) -> None:
    metrics = Metrics()
    db.on_lock_released.append(metrics.lock_released)
    async with db.transaction("privacy.forget"), db.transaction("outbox.forget_user"):
        await asyncio.sleep(0.01)
    assert observed(metrics, "privacy.forget")[0] == 1
    assert observed(metrics, "outbox.forget_user")[0] == 0
