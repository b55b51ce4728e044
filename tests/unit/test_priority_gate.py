"""The outbox's priority gate: bounded slots, waiters served by priority then arrival."""

from __future__ import annotations

import asyncio

from bot.chat.priority_gate import PriorityGate


async def test_waiters_are_served_by_priority_then_order() -> None:
    gate = PriorityGate(1)
    served: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot(1):
            await release.wait()

    async def waiter(name: str, priority: int) -> None:
        async with gate.slot(priority):
            served.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = [
        asyncio.create_task(waiter(name, prio))
        for name, prio in (("bulk1", 1), ("button", 2), ("bulk2", 1), ("reply", 0))
    ]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *tasks)
    assert served == ["reply", "bulk1", "bulk2", "button"]


async def test_never_more_than_the_slots_at_once() -> None:
    gate = PriorityGate(3)
    running = 0
    peak = 0

    async def work(i: int) -> None:
        nonlocal running, peak
        async with gate.slot(i % 3):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1

    await asyncio.gather(*(work(i) for i in range(50)))
    assert peak == 3


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    gate = PriorityGate(1)
    async with gate.slot(1):
        waiting = asyncio.create_task(gate.slot(1).__aenter__())
        await asyncio.sleep(0)
        waiting.cancel()
    async with asyncio.timeout(1):
        async with gate.slot(1):
            pass
