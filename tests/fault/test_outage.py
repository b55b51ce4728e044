"""Homeserver outages: the bot keeps running, only probes the homeserver (at most once a
second) while it is away, and once it is back answers within seconds and delivers every
reply that was queued, each exactly once.

- 10 s behind a counting reverse proxy that answers 502 while Synapse is down: every
  request of the bot is counted, /healthz says "unreachable" with 503 meanwhile; the clock
  runs from Synapse's return to the next command's answer (tests/support/outage.py; the
  30 s and 120 s outages are in bench/outage.py).
- 60 s with Synapse simply gone (killed: connection refused), in the middle of 30 replies.

Synapse is the session's shared instance: the tests stop and restart it (its database
survives), like test_foundation's shorter outage test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.devserver import LocalSynapse
from tests.support.counting_proxy import CountingProxy
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.outage import PRODUCTION_SYNC, outage
from tests.support.seed import query

OUTAGE_S = 60
COMMANDS = 30
# The bar: the first command answered within 5 s of the homeserver's return.
RECOVERY_BAR_S = 5.0


def requests_while_away(metrics: dict[str, float]) -> float:
    """Failed syncs plus probes: every request the sync loop made while the homeserver was
    away."""
    return sum(
        v
        for k, v in metrics.items()
        if k.startswith(("flurfunk_sync_errors_total", "flurfunk_homeserver_probes_total"))
    )


@pytest.fixture
async def proxy(synapse: LocalSynapse) -> AsyncIterator[CountingProxy]:
    counting = await CountingProxy(synapse.url).start()
    yield counting
    await counting.close()


async def test_ten_second_outage_behind_a_gateway(
    make_bot: MakeBot, homeserver: Homeserver, synapse: LocalSynapse, proxy: CountingProxy
) -> None:
    # The production sync settings: a 30 s long-poll, backoff up to 60 s.
    bot = make_bot(config={"homeserver": {"url": proxy.url}, "sync": PRODUCTION_SYNC})
    await bot.start_and_wait()
    run = await outage(bot, proxy, homeserver, synapse, down_s=10)

    assert run.queued >= 1, "no reply was waiting in the outbox when the homeserver went down"
    # The sync loop (long-polls and probes) makes at most one request a second while the
    # homeserver is away, and the outbox waits for its verdict: in all, at most the sends
    # that were under way when it went (the outbox's concurrency) on top.
    assert 1 <= run.sync_loop_while_down <= run.down_s + 1, run
    assert run.requests_while_down <= run.down_s + 1 + 4, run
    status, body = run.health_down
    assert status == 503, body
    assert body["status"] == "unhealthy" and body["homeserver_reachable"] is False, body
    # A command sent after the homeserver's return is answered within the bar,
    # and what waited in the outbox goes out as soon as the homeserver answers again.
    assert run.first_answer_s <= RECOVERY_BAR_S, run
    assert run.all_answered_s <= RECOVERY_BAR_S, run
    assert run.lost == [] and run.doubled == [], run
    status, body = run.health_back
    assert status == 200 and body["homeserver_reachable"] is True, body
    assert body["outbox_backlog"] == 0, body
    metrics = bot.metrics()
    assert metrics["flurfunk_homeserver_outages_total"] == 1
    assert metrics['flurfunk_homeserver_probes_total{result="answered"}'] == 1
    assert 0 < metrics["flurfunk_recovery_seconds_sum"] <= RECOVERY_BAR_S


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
    await asyncio.to_thread(synapse.kill)
    stopped = time.monotonic()
    queued = replies("pending")
    await asyncio.sleep(OUTAGE_S - (time.monotonic() - stopped))
    during = bot.metrics()
    assert bot.process is not None and bot.process.poll() is None, bot.log_tail()
    await asyncio.to_thread(synapse.start)
    restarted = time.monotonic()

    requests = requests_while_away(during) - requests_while_away(before)
    assert 1 <= requests <= OUTAGE_S + 1, f"{requests} syncs and probes in {OUTAGE_S} s"
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
