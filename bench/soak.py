"""Soak: many people using the bot for a while; does it stay fast, lean and error-free?

    .venv/bin/python -m bench.soak [--users 20] [--commands 2000] [--duration 600] [--write]

Starts its own Synapse (rate limits lifted) and the bot as a real process; `--users`
people (matrix-nio clients with end-to-end encryption, as Element) each open an encrypted
DM and send their share of `--commands` mixed commands, evenly spread over `--duration`
seconds: profile fields and views, help, coffee on/off, bridge contacts (declared and
deleted again), availability, hospitation offers and the list of offers, prompt
suggestions, the language, data export, unknown commands, plain text; one of them is an
admin who previews rounds, one is crisis staff who lists requests.

Reported: command latency (send → answer decrypted by the sender) p50/p95 over the first
and the last 10 % of commands, the bot's resident memory at the start (after setting
up), after the first 10 % (warmed up) and at the end, and every error: answers that did
not come within 60 s, "error on my side" answers, undecryptable answers, failed outbox
items, failed syncs, ERROR lines in the bot's log. With `--write` the result replaces the
section "Soak" in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import sqlite3
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from nio import MegolmEvent

from bench.common import BENCHMARKS, p50_p95, write_section
from bot.devserver import LocalSynapse, free_port
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MatrixUser, unique_localpart

TITLE = "## Soak"
REPLY_TIMEOUT_S = 60.0
APOLOGY = "Fehler auf meiner Seite"
CONTACT_ID = re.compile(r"\bK-[0-9A-Z]{4}\b")
TASKS = (
    "Fördermittelanträge prüfen",
    "Bauakten digitalisieren",
    "Bußgeldverfahren bearbeiten",
    "Haushalt planen",
    "Kita-Plätze vergeben",
    "Wohngeld bewilligen",
)
TOPICS = ("Digitalisierung", "Fördermittel", "Haushalt", "Vergabe", "Bürgerservice")


@dataclass
class Sample:
    sent_at: float
    latency: float | None  # None: no answer in time
    command: str


@dataclass
class Person:
    user: MatrixUser
    room: str
    role: str  # "staff", "admin", "crisis"
    contacts: list[str] = field(default_factory=list)


def next_command(person: Person, rng: random.Random) -> tuple[str, int]:
    """(text, how many bot messages answer it)."""
    if person.role == "admin" and rng.random() < 0.1:
        return "!admin runde probe", 1
    if person.role == "crisis" and rng.random() < 0.1:
        return "!anfragen", 1
    if person.contacts and rng.random() < 0.3:
        return f"!kontakt löschen {person.contacts.pop(0)}", 1
    choices: list[tuple[float, str, int]] = [
        (8, "!hilfe", 1),
        (4, f"!hilfe {rng.choice(['profil', 'kaffee', 'kontakt', 'hospitation'])}", 1),
        (10, "!profil", 1),
        (8, f"!profil aufgaben {rng.choice(TASKS)}, {rng.choice(TASKS)}", 1),
        (6, f"!profil themen {rng.choice(TOPICS)}, {rng.choice(TOPICS)}", 1),
        (6, "!kaffee", 1),
        (5, f"!kaffee {rng.choice(['an', 'aus'])}", 1),
        (6, "!kontakte", 1),
        (6, f"!kontakt Tafel {rng.randint(1, 99)} | Soziale Träger", 1),
        (3, "!erreichbar Mo-Fr 8-17", 1),
        (6, "!hospitationen", 1),
        (
            3,
            f"!hospitation anbieten Einblick {rng.randint(1, 999)} | "
            f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2030 | 3",
            1,
        ),
        (3, f"!frage vorschlagen Was war Ihr schönstes Projekt {rng.randint(1, 99)}?", 1),
        (3, "!sprache de", 1),
        (2, "!meinedaten", 2),
        (4, "!gibtsnicht", 1),
        (4, "Guten Morgen!", 1),
    ]
    weights = [w for w, _, _ in choices]
    _, text, answers = rng.choices(choices, weights)[0]
    return text, answers


async def person_loop(
    person: Person,
    count: int,
    interval: float,
    start: float,
    rng: random.Random,
    samples: list[Sample],
    problems: Counter[str],
    bot_id: str,
) -> None:
    user = person.user
    for k in range(count):
        await asyncio.sleep(max(0.0, start + k * interval - time.monotonic()))
        text, answers = next_command(person, rng)
        sent = time.monotonic()
        await user.send_text(person.room, text)
        latency: float | None = None
        for n in range(answers):
            try:
                reply = await user.wait_for_message(
                    person.room, sender=bot_id, timeout=REPLY_TIMEOUT_S
                )
            except TimeoutError:
                problems["no answer within 60 s"] += 1
                break
            if n == 0:
                latency = time.monotonic() - sent
            body = getattr(reply, "body", "") or ""
            if APOLOGY in body:
                problems["error answer"] += 1
            found = CONTACT_ID.search(body) if text.startswith("!kontakt Tafel") else None
            if found:
                person.contacts.append(found.group(0))
        label = text.split(" ", 1)[0] if text.startswith("!") else "(plain text)"
        samples.append(Sample(sent, latency, label))


def outbox_rows(path: Path) -> Counter[str]:
    """Rows of the bot's outbox by status, read without writing."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return Counter(
            {
                status: n
                for status, n in db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            }
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def soak(users: int, commands: int, duration: float, base: Path, seed: int) -> dict:
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    people: list[Person] = []
    bot: BotProcess | None = None
    try:
        clients = [
            await MatrixUser.create(synapse, unique_localpart(f"soak{i:02d}"), base)
            for i in range(users)
        ]
        bot = BotProcess(
            synapse,
            base / "bot",
            config={
                "bot": {"admins": [clients[0].user_id]},
                "crisis": {"staff": [clients[1].user_id], "default_availability": "immer"},
                "operations": {"log_level": "INFO"},
            },
        )
        await bot.start_and_wait()
        assert bot.process is not None
        pid = bot.process.pid
        for i, user in enumerate(clients):
            room = await user.open_dm(bot.user_id)
            await user.wait_for_message(room, sender=bot.user_id, timeout=60)  # greeting
            role = "admin" if i == 0 else "crisis" if i == 1 else "staff"
            people.append(Person(user, room, role))
        await asyncio.sleep(5)
        rss_start = rss_mb(pid)
        samples: list[Sample] = []
        problems: Counter[str] = Counter()
        rss_series: list[tuple[float, float]] = []
        per_person = commands // users
        interval = duration / per_person
        began = time.monotonic()
        rng = random.Random(seed)

        async def sample_memory() -> None:
            while True:
                rss_series.append((time.monotonic() - began, rss_mb(pid)))
                await asyncio.sleep(30)

        sampler = asyncio.create_task(sample_memory())
        loops = [
            person_loop(
                person,
                per_person,
                interval,
                began + rng.uniform(0, interval),
                random.Random(rng.random()),
                samples,
                problems,
                bot.user_id,
            )
            for person in people
        ]
        warm_at = began + 0.1 * duration
        rss_warm: float | None = None
        outbox_warm: Counter[str] = Counter()

        async def warm() -> None:
            nonlocal rss_warm, outbox_warm
            await asyncio.sleep(max(0.0, warm_at - time.monotonic()))
            rss_warm = rss_mb(pid)
            outbox_warm = outbox_rows(bot.database)

        await asyncio.gather(warm(), *loops)
        took = time.monotonic() - began
        await asyncio.sleep(5)
        rss_end = rss_mb(pid)
        outbox_end = outbox_rows(bot.database)
        sampler.cancel()
        metrics = bot.metrics()
        for person in people:
            undecrypted = sum(
                isinstance(e, MegolmEvent) for e in person.user.room_events(person.room)
            )
            if undecrypted:
                problems["undecryptable answers"] += undecrypted
        with closing(sqlite3.connect(f"file:{bot.database}?mode=ro", uri=True)) as db:
            failed = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").fetchone()
        if failed[0]:
            problems["failed outbox items"] += failed[0]
        sync_errors = sum(
            v for k, v in metrics.items() if k.startswith("flurfunk_sync_errors_total")
        )
        if sync_errors:
            problems["failed syncs"] += int(sync_errors)
        log_errors = sum(
            1
            for line in bot.log_path.read_text(errors="replace").splitlines()
            if " ERROR " in line or line.startswith("Traceback")
        )
        if log_errors:
            problems["ERROR lines in the log"] += log_errors
    finally:
        for person in people:
            await person.user.close()
        if bot is not None:
            bot.stop()
        synapse.stop()
        synapse.remove_database()

    samples.sort(key=lambda s: s.sent_at)
    tenth = max(1, len(samples) // 10)
    first = [s.latency for s in samples[:tenth] if s.latency is not None]
    last = [s.latency for s in samples[-tenth:] if s.latency is not None]
    return {
        "users": users,
        "commands": len(samples),
        "took": took,
        "first": p50_p95(first),
        "last": p50_p95(last),
        "all": p50_p95([s.latency for s in samples if s.latency is not None]),
        "rss": (rss_start, rss_warm or float("nan"), rss_end),
        "rss_series": rss_series,
        "outbox": (outbox_warm, outbox_end),
        "problems": dict(problems),
        "mix": Counter(s.command for s in samples).most_common(),
    }


def row(label: str, *seconds: float) -> str:
    cells = " | ".join(f"{value * 1000:.0f} ms" for value in seconds)
    return f"| command → answer {label} | {cells} |"


def _rows(by_status: Counter[str]) -> str:
    parts = ", ".join(f"{status} {n}" for status, n in sorted(by_status.items())) or "none"
    return f"{sum(by_status.values())} ({parts})"


def section(found: dict, args: argparse.Namespace) -> str:
    p50_first, p95_first = found["first"]
    p50_last, p95_last = found["last"]
    p50_all, p95_all = found["all"]
    rss_start, rss_warm, rss_end = found["rss"]
    growth = (rss_end / rss_warm - 1) * 100
    errors = sum(found["problems"].values())
    problems = ", ".join(f"{k}: {v}" for k, v in found["problems"].items()) or "none"
    series = " → ".join(f"{rss:.0f}" for _, rss in found["rss_series"][::2])
    outbox_warm, outbox_end = found["outbox"]
    mix = ", ".join(f"`{c}` {n}" if c.startswith("!") else f"{c} {n}" for c, n in found["mix"])
    short = "" if args.duration >= 600 else " (a shortened run; the full one is the default)"
    rerun = (
        f"`.venv/bin/python -m bench.soak --users {args.users} --commands {args.commands} "
        f"--duration {args.duration:.0f} --write`"
    )
    return f"""{TITLE}

Rerun: {rerun}
(starts its own Synapse, rate limits lifted, and the bot as a real process; {found["users"]}
matrix-nio clients with end-to-end encryption send mixed commands in their encrypted DMs,
evenly spread).{short}

Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; bot,
Synapse and all clients share the machine. Measured {date.today()}.

| | first 10 % | last 10 % | all |
|---|---:|---:|---:|
{row("p50", p50_first, p50_last, p50_all)}
{row("p95", p95_first, p95_last, p95_all)}

- {found["commands"]} commands from {found["users"]} people in {found["took"] / 60:.1f} min.
- Bot memory (RSS): {rss_start:.0f} MB after start, {rss_warm:.0f} MB after the first 10 %,
  {rss_end:.0f} MB at the end: **{growth:+.1f} %** after warm-up (goal: at most +20 %).
  Every minute: {series} MB.
- Outbox rows after the first 10 % of the time: {_rows(outbox_warm)}; at the end:
  {_rows(outbox_end)}; {outbox_end["pending"]} left pending at the end. Delivered rows stay
  for `outbox.keep_sent_days` (a file's content is dropped on delivery), then the daily
  housekeeping deletes them.
- Errors: **{errors}** ({problems}).
- Mix: {mix}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flurfunk-soak-") as tmp:
        found = asyncio.run(soak(args.users, args.commands, args.duration, Path(tmp), args.seed))
    text = section(found, args)
    print(text)
    if args.write:
        write_section(BENCHMARKS, TITLE, text)


if __name__ == "__main__":
    main()
