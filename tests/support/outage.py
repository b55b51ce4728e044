"""One homeserver outage, measured: shared by tests/fault/test_outage.py (10 s) and
bench/outage.py (10, 30 and 120 s).

The bot talks to Synapse through a `CountingProxy` (502 while Synapse is down, as nginx
answers), so every request it makes during the outage is counted. A colleague sends a
burst of commands; the gateway goes down as soon as the first answer is out (the others wait
in the outbox) and Synapse is stopped behind it, stays down for `down_s`, and is started
again. Then a second colleague
sends a command, and the clock runs from Synapse's return until its answer is visible
(the sync side of the recovery), and until the first colleague has every queued answer
(the outbox side).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.devserver import LocalSynapse
from tests.support.bot_process import BotProcess
from tests.support.counting_proxy import CountingProxy
from tests.support.homeserver import Homeserver, until
from tests.support.seed import query

# The bot's sync settings in production: a 30 s long-poll, backoff 1-60 s.
PRODUCTION_SYNC = {"timeout_ms": 30_000, "backoff_initial_s": 1.0, "backoff_max_s": 60.0}
# What the sync loop requests: the long-poll and the probe.
SYNC_LOOP_PATHS = ("/sync", "/versions")


@dataclass
class OutageRun:
    planned_s: float  # the outage asked for
    down_s: float  # from Synapse stopped to Synapse answering /health again
    requests_while_down: int  # bot requests reaching the proxy meanwhile
    sync_loop_while_down: int  # of them: syncs and probes
    queued: int  # answers waiting in the outbox when Synapse went down
    first_answer_s: float  # Synapse back -> the second colleague's answer visible
    all_answered_s: float  # Synapse back -> every queued answer visible
    health_down: tuple[int, dict[str, Any]]  # /healthz during the outage
    health_back: tuple[int, dict[str, Any]]  # /healthz once it is over
    lost: list[int]  # commands never answered
    doubled: list[int]  # commands answered more than once

    @property
    def rate(self) -> float:
        return self.requests_while_down / self.down_s


def healthz(bot: BotProcess) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{bot.health_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def replies(bot: BotProcess, prefix: str, status: str) -> int:
    rows = query(
        bot.database,
        "SELECT COUNT(*) FROM outbox WHERE key LIKE 'reply:%' AND status = ? AND payload LIKE ?",
        (status, f"%{prefix}%"),
    )
    return int(rows[0][0])


async def outage(
    bot: BotProcess,
    proxy: CountingProxy,
    homeserver: Homeserver,
    synapse: LocalSynapse,
    down_s: float,
    commands: int = 10,
) -> OutageRun:
    """One outage of `down_s` seconds with two fresh colleagues and their DMs; `bot` is
    running behind `proxy`."""
    user_ids = await asyncio.to_thread(homeserver.register_many, "kollegin", 2)
    user, other = [await homeserver.puppet(u) for u in user_ids]
    dm = await homeserver.open_dm(user, bot.user_id)
    other_dm = await homeserver.open_dm(other, bot.user_id)
    for who, room in ((user, dm), (other, other_dm)):
        await homeserver.wait_for_body(who, room, bot.user_id, lambda b: "Flurfunk" in b)
    tag = user_ids[0][1:].split(":", 1)[0][-8:]  # a unique word per run

    # "!hilfe <unknown topic>" is answered quoting the topic: each answer names its command.
    # The answers wait at the gateway until the bot has every command; the first goes out,
    # and the gateway goes down at once (Synapse's own shutdown takes a second or more, in
    # which the bot would send the rest).
    proxy.hold_messages()
    for i in range(commands):
        await homeserver.send_text(user, dm, f"!hilfe x{tag}n{i}")
    await until(lambda: replies(bot, tag, "pending") == commands, 30, "every command read")
    await proxy.pass_one_message()
    await until(lambda: replies(bot, tag, "sent") >= 1, 30, "the first answer", interval=0.01)
    proxy.cut()
    stopped = time.monotonic()
    queued = replies(bot, tag, "pending")
    await asyncio.to_thread(synapse.stop)
    proxy.restore()  # Synapse is gone: the gateway's own 502s from here
    await asyncio.sleep(min(3.0, down_s / 2))
    health_down = await asyncio.to_thread(healthz, bot)
    await asyncio.sleep(max(0.0, stopped + down_s - time.monotonic()))
    assert bot.process is not None and bot.process.poll() is None, bot.log_tail()
    await asyncio.to_thread(synapse.start)  # returns once Synapse answers /health
    back = time.monotonic()
    while_down = proxy.between(stopped, back)

    await homeserver.send_text(other, other_dm, f"!hilfe x{tag}frisch")

    async def answered_fresh() -> bool:
        bodies = await homeserver.bodies_from(other, other_dm, bot.user_id)
        return any(f"x{tag}frisch«" in b for b in bodies)

    await until(answered_fresh, 60, "the second colleague's answer", interval=0.05)
    first_answer_s = time.monotonic() - back
    bodies: list[str] = []

    async def seen() -> bool:
        nonlocal bodies
        bodies = await homeserver.bodies_from(user, dm, bot.user_id)
        return True

    def counts() -> list[int]:
        return [sum(f"x{tag}n{i}«" in b for b in bodies) for i in range(commands)]

    async def all_answered() -> bool:
        await seen()
        return all(counts())

    await until(all_answered, 120, "every queued answer", interval=0.1)
    all_answered_s = time.monotonic() - back
    await asyncio.sleep(2)  # an answer sent twice would be visible by now
    await seen()
    await until(lambda: healthz(bot)[0] == 200, 30, "/healthz 200 again")
    return OutageRun(
        planned_s=down_s,
        down_s=back - stopped,
        requests_while_down=len(while_down),
        sync_loop_while_down=sum(r.path.endswith(SYNC_LOOP_PATHS) for r in while_down),
        queued=queued,
        first_answer_s=first_answer_s,
        all_answered_s=all_answered_s,
        health_down=health_down,
        health_back=await asyncio.to_thread(healthz, bot),
        lost=[i for i, n in enumerate(counts()) if n == 0],
        doubled=[i for i, n in enumerate(counts()) if n > 1],
    )
