"""The homeserver goes away for 60 s in the middle of a burst of replies: the bot keeps
running, retries its sync at most once per second, and once the homeserver is back it
delivers every reply that was queued (each exactly once) and answers new commands.

Synapse is the session's shared instance: the test stops and restarts it (its database
survives), like test_foundation's shorter outage test.
"""

from __future__ import annotations

import asyncio
import time

from bot.devserver import LocalSynapse

from .conftest import MakeBot
from .homeserver import Homeserver, until
from .seed import query

OUTAGE_S = 60
COMMANDS = 30


def sync_errors(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("flurfunk_sync_errors_total"))


async def test_sixty_second_outage_loses_nothing(
    make_bot: MakeBot, homeserver: Homeserver, synapse: LocalSynapse
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    user = homeserver.admin
    dm = await homeserver.open_dm(user, bot.user_id)
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Flurfunk" in b)

    def replies(status: str) -> int:
        rows = query(
            bot.database,
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'reply:%' AND status = ?",
            (status,),
        )
        return int(rows[0][0])

    # A burst of commands; the homeserver goes down as soon as the first answer is out,
    # so the others wait in the outbox (and perhaps some commands in the homeserver).
    for i in range(COMMANDS):
        await homeserver.send_text(user, dm, f"!hilfe nummer{i}")
    await until(lambda: replies("sent") >= 1, 30, "the first reply", interval=0.01)
    before = bot.metrics()
    synapse.stop()
    stopped = time.monotonic()
    queued = replies("pending")
    await asyncio.sleep(OUTAGE_S - (time.monotonic() - stopped))
    during = bot.metrics()
    assert bot.process is not None and bot.process.poll() is None, bot.log_tail()
    synapse.start()
    restarted = time.monotonic()

    errors = sync_errors(during) - sync_errors(before)
    assert 1 <= errors <= OUTAGE_S + 1, f"{errors} failed syncs in {OUTAGE_S} s"
    assert queued >= 1, "no reply was waiting in the outbox when the homeserver went down"

    await bot.wait_healthy(timeout=60)

    def answered() -> list[int]:
        return [
            i
            for i in range(COMMANDS)
            for body in bodies
            if f"nummer{i}«" in body  # the "unknown topic" answer quotes it
        ]

    bodies: list[str] = []

    async def all_answered() -> bool:
        nonlocal bodies
        bodies = await homeserver.bodies_from(user, dm, bot.user_id)
        return len(set(answered())) == COMMANDS

    await until(all_answered, 120, "every queued reply")
    delivered_after = time.monotonic() - restarted
    await homeserver.send_text(user, dm, "!hilfe profil")
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "!profil" in b, timeout=60)
    await asyncio.sleep(2)
    bodies = await homeserver.bodies_from(user, dm, bot.user_id)
    assert sorted(answered()) == list(range(COMMANDS)), "a reply was sent twice or lost"
    assert replies("failed") == 0
    # Everything queued goes out promptly once the homeserver is back, not after the
    # outbox's retry backoff has run out.
    assert delivered_after < 30, f"queued replies took {delivered_after:.0f} s after the outage"
