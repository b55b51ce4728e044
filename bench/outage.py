"""Availability: recovery after a homeserver outage of 10, 30 and 120 s.

    .venv/bin/python -m bench.outage [--durations 10 30 120] [--commands 10]

Starts its own Synapse (rate limits lifted, SQLite under /dev/shm) and the bot as a real
process with the production sync settings (30 s long-poll, backoff 1–60 s), talking to
Synapse through a counting reverse proxy that answers 502 while Synapse is down. Each
outage is the scenario of tests/support/outage.py: a colleague's burst of commands, Synapse
stopped once the first answer is out, down for the given time, started again; then one
more command. Measured: the bot's requests while Synapse was down (per second), the time
from Synapse's return to that command's answer and to the last queued answer, lost and
doubled answers. Baseline in the same run: the command round trip with Synapse up (median
of 10). Prints a markdown section for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine
from bot.devserver import LocalSynapse, free_port
from tests.support.bot_process import BotProcess
from tests.support.counting_proxy import CountingProxy
from tests.support.homeserver import Homeserver
from tests.support.outage import PRODUCTION_SYNC, OutageRun, outage

HEADER = (
    "| outage (until /health) | bot requests while down: all | of them syncs + probes | "
    "answers queued | back → new command answered (× idle) | back → all queued answered | "
    "lost / doubled | /healthz down / back |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


async def idle_round_trips(server: Homeserver, bot: BotProcess, count: int) -> list[float]:
    """`!hilfe profil` to its answer with the homeserver up, one after the other."""
    [user_id] = await asyncio.to_thread(server.register_many, "idle", 1)
    user = await server.puppet(user_id)
    dm = await server.open_dm(user, bot.user_id)
    await server.wait_for_body(user, dm, bot.user_id, lambda b: "Flurfunk" in b)
    times = []
    for i in range(count):
        began = time.monotonic()
        await server.send_text(user, dm, f"!hilfe leerlauf{i}")

        def answered(body: str, i: int = i) -> bool:
            return f"leerlauf{i}«" in body

        await server.wait_for_body(user, dm, bot.user_id, answered, timeout=30)
        times.append(time.monotonic() - began)
    return times


def section(runs: list[OutageRun], idle: list[float], machine: str, command: str) -> str:
    idle_p50 = statistics.median(idle)
    rows = "\n".join(
        f"| {run.planned_s:.0f} s ({run.down_s:.1f} s) | "
        f"{run.requests_while_down} ({run.rate:.2f}/s) | "
        f"{run.sync_loop_while_down} ({run.sync_loop_while_down / run.down_s:.2f}/s) | "
        f"{run.queued} | "
        f"{run.first_answer_s:.2f} s ({run.first_answer_s / idle_p50:.1f}×) | "
        f"{run.all_answered_s:.2f} s | {len(run.lost)} / {len(run.doubled)} | "
        f"{run.health_down[0]} / {run.health_back[0]} |"
        for run in runs
    )
    return f"""## Availability: recovery after an outage

Rerun: `{command}` (starts its own Synapse and the bot as a real process, prints this
section). Machine: {machine}; Synapse, the bot and the test client share the CPUs.

Setup: the bot with the production sync settings (30 s long-poll, backoff 1–60 s) talks to
Synapse through a counting reverse proxy that answers 502 while Synapse is down (as nginx
does). Per outage a fresh colleague sends a burst of commands; Synapse is stopped as soon as
the first answer is out (the rest wait in the outbox), stays down, and is started again
(the clock starts when it answers `/health`); a second colleague then sends a command.
Baseline in the same run: the command round trip with Synapse up, median of {len(idle)}:
**{idle_p50 * 1000:.0f} ms**.

{HEADER}
{rows}

Goals of issue #17: at most 1 request/s while down, the first command answered ≤ 5 s after
the homeserver's return, nothing lost or doubled. Before, the sync backoff grew towards
60 s during an outage (the issue measured an answer 22 s after a 25 s outage).
"""


async def main(durations: list[float], commands: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="flurfunk-outage-"))
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    proxy = await CountingProxy(synapse.url).start()
    server = await Homeserver.create(synapse)
    bot = BotProcess(
        synapse,
        base / "bot",
        config={
            "homeserver": {"url": proxy.url},
            "sync": PRODUCTION_SYNC,
            "bot": {"encrypted_direct_chats": False},  # the plain-HTTP colleague reads them
            "operations": {"log_level": "INFO"},
        },
    )
    try:
        await bot.start_and_wait()
        idle = await idle_round_trips(server, bot, 10)
        runs = []
        for down_s in durations:
            print(f"outage of {down_s:.0f} s …", file=sys.stderr)
            runs.append(await outage(bot, proxy, server, synapse, down_s, commands))
            print(runs[-1], file=sys.stderr)
        command = "python -m bench.outage --durations " + " ".join(f"{d:g}" for d in durations)
        print(section(runs, idle, machine(), command))
    finally:
        bot.stop()
        await server.close()
        await proxy.close()
        synapse.stop()
        synapse.remove_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[10.0, 30.0, 120.0])
    parser.add_argument("--commands", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.durations, args.commands))
