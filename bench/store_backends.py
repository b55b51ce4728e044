"""The store on PostgreSQL against SQLite, in one run (issue #16): ratios PG / SQLite.

    .venv/bin/python -m bench.store_backends [--rounds 200] [--bridges 200] [--warm 3]
                                            [--people 50000] [--only latency|fanout|round]
                                            [--write]

1. Command round trip: `bench.latency` with one bot per backend and the echo bot, all taking
   turns in blocks of 20 (`--rounds` per target); p50/p95.
2. Warm fan-out: one Synapse, one bot per backend, each in its own crisis room with the same
   `--bridges` bridge persons on file; a cold request per bot creates the DM rooms, then
   `--warm` warm requests per bot, the bots taking turns (`bench.fanout`'s clock:
   `!werkennt` until the last ask is handed to the homeserver); best and median.
3. A weekly coffee round for `--people` people end to end, as the bot runs it
   (`CoffeeService.run_round`: load the profiles and their stored phrase vectors, plan, store
   the round, queue rooms and introductions into the outbox): wall and CPU time, peak RSS.
   Each store is seeded first (profiles and vectors with one bulk insert per batch, last
   week's round run through the service, its messages marked sent), each step in a fresh
   process so that the peak RSS is the round's own.

PostgreSQL is a local cluster (bench/backends.py) with the server's defaults (fsync and
synchronous commit on), SQLite the bot's file in WAL mode with synchronous=NORMAL; both on
the same disk. Prints a markdown section; `--write` puts it into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.backends import BACKENDS, Backends, open_store, store_target
from bench.common import (
    BENCHMARKS,
    crisis_staff_bot,
    machine,
    ms,
    register_bridges,
    write_section,
)
from bench.fanout import fanout, seed_contacts
from bench.latency import measure
from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MatrixUser, unique_localpart

TITLE = "## Store backends: PostgreSQL vs SQLite (issue #16)"
ROOT = Path(__file__).resolve().parents[1]


async def latency(rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        samples, echo = await measure(Path(tmp), rounds, BACKENDS)
    return {**samples, "echo": echo}


async def warm_fanout(bridges: int, warm: int) -> dict[str, list[float]]:
    """Seconds from `!werkennt` to the last ask sent, per backend: the warm runs."""
    base = Path(tempfile.mkdtemp(prefix="flurfunk-store-fanout-"))
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    backends = Backends()
    bots: dict[str, tuple[BotProcess, str, Database]] = {}
    chief: MatrixUser | None = None
    try:
        chief = await MatrixUser.create(synapse, unique_localpart("chief"), base)
        for backend in BACKENDS:
            storage = backends.storage(backend, "fanout")
            bot, room = await crisis_staff_bot(synapse, base / backend, chief, bridges, storage)
            bots[backend] = (bot, room, await open_store(store_target(bot)))
        people = await register_bridges(synapse, bridges)
        contacts = [(p, f"Tafel Ort {i}", "Soziale Träger") for i, p in enumerate(people)]
        for _, _, store in bots.values():
            await seed_contacts(store, contacts, first=0)
        for backend, (bot, room, store) in bots.items():
            print(f"{backend}: cold run (creates the DM rooms) …", file=sys.stderr)
            await fanout(chief, bot, store, room, bridges, f"{backend}-kalt")
        found: dict[str, list[float]] = {backend: [] for backend in bots}
        for r in range(warm):
            # Each bot goes first every other round: neither always follows the other.
            order = list(bots) if r % 2 == 0 else list(reversed(bots))
            for backend in order:
                bot, room, store = bots[backend]
                print(f"{backend}: warm run {r + 1} of {warm} …", file=sys.stderr)
                asks, _, _ = await fanout(chief, bot, store, room, bridges, f"{backend}-warm-{r}")
                found[backend].append(asks)
        return found
    finally:
        if chief is not None:
            await chief.close()
        for bot, _, store in bots.values():
            await store.close()
            bot.stop()
        backends.close()
        synapse.stop()
        synapse.remove_database()
        shutil.rmtree(base, ignore_errors=True)


def step(*args: str) -> dict[str, Any]:
    """A `bench.store_round` step in a process of its own: its JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.store_round", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def coffee_round(people: int) -> dict[str, dict[str, Any]]:
    """Seed both stores, then this week's round on each: (backend -> round figures, with
    the seeding's under "seed")."""
    found: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, Backends() as backends:
        targets = {"sqlite": str(Path(tmp) / "flurfunk.db"), "postgres": backends.database("round")}
        seeds = {}
        for backend, target in targets.items():
            print(f"{backend}: seeding {people} people and last week's round …", file=sys.stderr)
            seeds[backend] = step("seed", target, "--people", str(people))
        for backend, target in targets.items():
            print(f"{backend}: this week's round …", file=sys.stderr)
            found[backend] = {**step("round", target), "seed": seeds[backend]}
    return found


def ratio(pg: float, sqlite: float) -> str:
    return f"{pg / sqlite:.2f}×"


def latency_rows(found: dict[str, list[float]]) -> str:
    lines = ["| store | round trips | p50 | p95 | mean |", "|---|---:|---:|---:|---:|"]
    for name, samples in found.items():
        lines.append(
            f"| {name} | {len(samples)} | {ms(samples, 50):.1f} ms | {ms(samples, 95):.1f} ms "
            f"| {1000 * statistics.mean(samples):.1f} ms |"
        )
    pg, sq = found["postgres"], found["sqlite"]
    lines.append(
        f"\nPG / SQLite: p50 **{ratio(ms(pg, 50), ms(sq, 50))}**, "
        f"p95 **{ratio(ms(pg, 95), ms(sq, 95))}** (goal ≤ 1.1×)."
    )
    return "\n".join(lines)


def fanout_rows(found: dict[str, list[float]], bridges: int) -> str:
    lines = ["| store | warm runs | best | median | each |", "|---|---:|---:|---:|---|"]
    for name, runs in found.items():
        each = " / ".join(f"{r:.2f}" for r in runs)
        lines.append(
            f"| {name} | {len(runs)} | {min(runs):.2f} s | {statistics.median(runs):.2f} s "
            f"| {each} s |"
        )
    pg, sq = found["postgres"], found["sqlite"]
    lines.append(
        f"\n`!werkennt` → {bridges} DMs handed to the homeserver, PG / SQLite: best "
        f"**{ratio(min(pg), min(sq))}**, median "
        f"**{ratio(statistics.median(pg), statistics.median(sq))}** (goal ≤ 1.1×)."
    )
    return "\n".join(lines)


def round_rows(found: dict[str, dict[str, Any]]) -> str:
    steps = list(found["sqlite"]["steps_s"]) + [f"lock: {n}" for n in found["sqlite"]["lock_s"]]

    def value(figures: dict[str, Any], key: str) -> float:
        if key.startswith("lock: "):
            return float(figures["lock_s"].get(key.removeprefix("lock: "), 0.0))
        return float(figures["steps_s"].get(key, 0.0))

    sq, pg = found["sqlite"], found["postgres"]
    lines = ["| | SQLite | PostgreSQL | PG / SQLite |", "|---|---:|---:|---:|"]
    for label, a, b, unit in (
        ("round, wall", sq["wall_s"], pg["wall_s"], "s"),
        ("round, CPU of the bot's process", sq["cpu_s"], pg["cpu_s"], "s"),
        ("peak RSS", sq["peak_rss_mb"], pg["peak_rss_mb"], "MB"),
        *((step, value(sq, step), value(pg, step), "s") for step in steps),
        ("seeding: profiles and vectors", sq["seed"]["insert_s"], pg["seed"]["insert_s"], "s"),
    ):
        lines.append(f"| {label} | {a:.2f} {unit} | {b:.2f} {unit} | {ratio(b, a)} |")
    lines.append(
        f"\n{sq['people']:,} people, {sq['groups']:,} groups ({pg['groups']:,} on PostgreSQL), "
        f"{sq['queued']:,} outbox items queued ({pg['queued']:,}); peak RSS before the round "
        f"(store opened, model loaded): {sq['rss_before_mb']:.0f} / {pg['rss_before_mb']:.0f} MB."
    )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    parts = []
    if args.only in (None, "latency"):
        print("command round trips …", file=sys.stderr)
        found = await latency(args.rounds)
        parts.append(
            f"### Command round trip (`!hilfe` in an encrypted DM)\n\n{latency_rows(found)}"
        )
    if args.only in (None, "fanout"):
        print("warm fan-out …", file=sys.stderr)
        runs = await warm_fanout(args.bridges, args.warm)
        parts.append(f"### {args.bridges}-bridge warm fan-out\n\n{fanout_rows(runs, args.bridges)}")
    if args.only in (None, "round"):
        print("coffee round …", file=sys.stderr)
        figures = await asyncio.to_thread(coffee_round, args.people)
        parts.append(
            f"### A weekly coffee round for {args.people:,} people\n\n{round_rows(figures)}"
        )
    options = {
        "latency": f"--rounds {args.rounds}",
        "fanout": f"--bridges {args.bridges} --warm {args.warm}",
        "round": f"--people {args.people}",
    }
    used = [o for part, o in options.items() if args.only in (None, part)]
    only = f" --only {args.only}" if args.only else ""
    command = f".venv/bin/python -m bench.store_backends {' '.join(used)}{only}"
    body = "\n\n".join(parts)
    return f"{TITLE}\n\n`{command}` — {time.strftime('%Y-%m-%d')}, {machine()}.\n\n{body}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="round trips per target")
    parser.add_argument("--bridges", type=int, default=200)
    parser.add_argument("--warm", type=int, default=3, help="warm fan-out runs per backend")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--only", choices=("latency", "fanout", "round"))
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    text = asyncio.run(run(args))
    print(text)
    if args.write:
        write_section(BENCHMARKS, TITLE, text)


if __name__ == "__main__":
    main()
