"""A slow homeserver: command round trips and a crisis broadcast with every request of the bot
300 ms late, against the same bot talking to Synapse directly, in one run.

    .venv/bin/python -m bench.slow_homeserver [--rounds 100] [--bridges 50] [--delay-ms 300]

Starts its own Synapse (rate limits lifted). Round trips: two bots as real processes, one
direct and one behind a TCP proxy on loopback that delays every client-to-server chunk
(tests/support/latency_proxy.py); an E2EE user sends `!hilfe` to both in alternating blocks
(bench/latency.py's `round_trips`). Goal of issue #17: slow p50 ≤ direct p50 + 4 × delay.
Broadcast: a crisis request nobody answers goes to `--bridges` bridges, once from a direct
bot and once from a slow one (tests/support/scenarios.py's `broadcast`, which checks that each
bridge got the request and its two buttons exactly once). Prints markdown for
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ms
from bench.latency import round_trips
from bot.devserver import LocalSynapse, free_port
from tests.support.bot_process import BotProcess
from tests.support.config import deep_merge
from tests.support.homeserver import Homeserver
from tests.support.latency_proxy import LatencyProxy, behind
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.scenarios import broadcast

BLOCK = 10


async def commands(
    synapse: LocalSynapse, proxy: LatencyProxy, base: Path, bots: list[BotProcess], rounds: int
) -> tuple[list[float], list[float]]:
    """`!hilfe` round trips (seconds) to the direct bot and to the slow one."""

    def make(**kwargs: Any) -> BotProcess:
        bot = BotProcess(synapse, base / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    # Per-person limits off: the round trips are many commands of one user in a row.
    quiet = {"operations": {"log_level": "WARNING"}, "bot": {"limits": {"enabled": False}}}
    direct, slow = make(config=quiet), behind(proxy, make)(config=quiet)
    for bot in (direct, slow):
        bot.start()
    for bot in (direct, slow):
        await bot.wait_healthy(timeout=60)
    user = await MatrixUser.create(synapse, unique_localpart("bench"), base)
    try:
        rooms = {}
        for bot in (direct, slow):
            rooms[bot.user_id] = await user.open_dm(bot.user_id)
            await user.wait_for_message(rooms[bot.user_id], sender=bot.user_id, timeout=60)
        # Warm up both (olm sessions, room keys), then alternate so noise hits both alike.
        for bot in (direct, slow):
            await round_trips(user, rooms[bot.user_id], bot.user_id, 3)
        samples: dict[str, list[float]] = {direct.user_id: [], slow.user_id: []}
        for _ in range(max(1, rounds // BLOCK)):
            for bot in (direct, slow):
                samples[bot.user_id] += await round_trips(
                    user, rooms[bot.user_id], bot.user_id, BLOCK
                )
        return samples[direct.user_id], samples[slow.user_id]
    finally:
        await user.close()
        for bot in (direct, slow):
            bot.stop()


async def broadcasts(
    synapse: LocalSynapse, proxy: LatencyProxy, base: Path, bots: list[BotProcess], bridges: int
) -> tuple[float, float]:
    """Seconds from `!werkennt` to the last of `bridges` DMs sent: direct, slow."""

    def make(**kwargs: Any) -> BotProcess:
        kwargs.pop("server", None)
        # The bridges are plain HTTP clients (tests.support.homeserver): DMs stay unencrypted.
        plain = {"bot": {"encrypted_direct_chats": False}, "operations": {"log_level": "WARNING"}}
        kwargs["config"] = deep_merge(kwargs.get("config") or {}, plain)
        bot = BotProcess(synapse, base / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    server = await Homeserver.create(synapse)
    try:
        took = []
        for factory in (make, behind(proxy, make)):
            result = await broadcast(server, factory, bridges)
            bots[-1].stop()
            took.append(float(result["took"]))
        return took[0], took[1]
    finally:
        await server.close()


async def main(rounds: int, bridges: int, delay_ms: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        synapse = LocalSynapse(base / "synapse", free_port())
        synapse.start()
        proxy = await LatencyProxy(synapse.url, delay_ms / 1000).start()
        bots: list[BotProcess] = []
        try:
            direct, slow = await commands(synapse, proxy, base, bots, rounds)
            fast_fanout, slow_fanout = await broadcasts(synapse, proxy, base, bots, bridges)
        finally:
            for bot in bots:
                bot.stop()
            await proxy.close()
            synapse.stop()
            synapse.remove_database()
    d50, s50 = ms(direct, 50), ms(slow, 50)
    goal = d50 + 4 * delay_ms
    verdict = "met" if s50 <= goal else "MISSED"
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, python "
        f"{platform.python_version()}; {delay_ms} ms added to every request of the slow bot"
    )
    print("| | direct | slow | ratio | goal (direct + 4 × delay) |")
    print("|---|---|---|---|---|")
    print(
        f"| `!hilfe` p50 ({len(direct)} + {len(slow)} round trips) | {d50:.0f} ms "
        f"| {s50:.0f} ms | {s50 / d50:.2f}× | ≤ {goal:.0f} ms: {verdict} |"
    )
    print(
        f"| `!hilfe` p95 | {ms(direct, 95):.0f} ms | {ms(slow, 95):.0f} ms "
        f"| {ms(slow, 95) / ms(direct, 95):.2f}× | |"
    )
    print(
        f"| broadcast to {bridges} bridges, `!werkennt` → all DMs sent | {fast_fanout:.1f} s "
        f"| {slow_fanout:.1f} s | {slow_fanout / fast_fanout:.2f}× | completes, each once |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--bridges", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.bridges, args.delay_ms))
