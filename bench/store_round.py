"""One step of bench/store_backends.py's weekly coffee round, in a process of its own so that
its peak RSS is its own; prints one JSON line.

    .venv/bin/python -m bench.store_round seed TARGET [--people 50000]
    .venv/bin/python -m bench.store_round round TARGET

TARGET is the store: a SQLite file or a `postgresql://` URL. `seed` fills an empty store with
`--people` confirmed colleagues who take part (bench/profiles.py's synthetic population, with
their phrase vectors as the bot stores them), runs last week's round through the service and
marks its messages sent, so this week's round finds history. `round` runs this week's round
as the bot's job does and reports where the time went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.profiles import generate, with_vectors
from bot.chat.messenger import ChatMessenger
from bot.config import Config
from bot.domain.phrases import split_tasks
from bot.domain.profile import Profile
from bot.services.coffee import CoffeeService
from bot.services.encoder import load_encoder
from bot.services.followup import FollowUps
from bot.services.profile_vectors import KIND, profile_source
from bot.services.rounds import Planned
from bot.services.vectors import VectorService, text_hash
from bot.store.chat_traces import ChatTraceStore
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.profiles import ProfileRepository
from bot.store.vectors import VectorRow, VectorStore
from tests.support.config import SERVER, make_config

SEED = 1
WEEK_S = 7 * 86_400.0
NOW = 1_795_600_800.0  # a Wednesday, 10:00 Berlin: this week's round
BATCH = 5_000  # rows per INSERT transaction while seeding


def config() -> Config:
    return make_config(coffee={"enabled": True})


def user_id(i: int) -> str:
    return f"@kollegin{i:05d}:{SERVER}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Seconds per step of the round, summed (a step may run more than once).
SECONDS: dict[str, float] = defaultdict(float)


@contextmanager
def clocked(step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        SECONDS[step] += time.perf_counter() - started


class TimedCoffee(CoffeeService):
    """The bot's coffee service, timing its steps: loading the profiles, the whole plan
    (profiles, stored vectors, history, matching) and queuing the introductions."""

    async def eligible(self, now: float) -> list[Profile]:
        with clocked("load profiles"):
            return await super().eligible(now)

    async def plan(self) -> Planned:
        with clocked("plan (incl. loading)"):
            return await super().plan()

    async def queue_intros(self) -> int:
        with clocked("queue intros"):
            return await super().queue_intros()


class TimedVectors(VectorService):
    """The bot's vector service, timing how long the stored vectors take to load."""

    async def vectors(self, kind: str, texts: Any) -> Any:
        with clocked("load vectors"):
            return await super().vectors(kind, texts)


def coffee(db: Database, now: float, vectors: VectorService) -> TimedCoffee:
    """The coffee service wired as `build_services` wires it, on a fixed clock."""
    messenger = ChatMessenger(Outbox(db), ChatTraceStore(db).language, "de", lambda: None)
    clock = lambda: now  # noqa: E731
    followups = FollowUps(db, messenger, clock)
    return TimedCoffee(db, messenger, config(), followups, clock=clock, vectors=vectors)


def vector_service(db: Database) -> TimedVectors:
    encoder = load_encoder()
    if encoder is None:
        raise SystemExit("the embedding model is needed (the bot stores its vectors)")
    service = TimedVectors(db, encoder)
    service.add_source(profile_source(ProfileRepository(db)))
    return service


async def seed(target: str, people: int) -> dict[str, Any]:
    """Profiles and vectors in batches (one multi-row insert each), then last week's round."""
    db = Database(target)
    await db.open()
    try:
        started = time.perf_counter()
        population = with_vectors(generate(people, SEED))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        created = NOW - 30 * WEEK_S
        rows = [
            (
                user_id(s.person.id),
                f"Kollegin {s.person.id}",
                s.person.department,
                s.person.municipality,
                s.person.tasks,
                json.dumps(list(s.person.topics), ensure_ascii=False),
                json.dumps(sorted(s.person.languages)),
                created,
            )
            for s in population
        ]
        for start in range(0, len(rows), BATCH):
            async with db.transaction("bench.seed_profiles") as conn:
                await conn.executemany(
                    "INSERT INTO profiles (user_id, display_name, department, municipality, "
                    "tasks, topics, languages, coffee, confirmed, source, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, 'chat', ?, ?)",
                    [(*row, row[-1]) for row in rows[start : start + BATCH]],
                )
        service = vector_service(db)
        store = VectorStore(db, service.store.dimensions)
        vectors = [
            VectorRow(
                KIND,
                user_id(s.person.id),
                user_id(s.person.id),
                text_hash(service.model, True, split_tasks(s.person.tasks, s.person.topics)),
                s.person.vectors,
            )
            for s in population
            if s.person.vectors is not None
        ]
        for start in range(0, len(vectors), BATCH):
            await store.put_many(vectors[start : start + BATCH], service.model, created)
        inserted = time.perf_counter() - started
        del population, rows, vectors
        started = time.perf_counter()
        last_week = coffee(db, NOW - WEEK_S, service)
        row = await last_week.run_round("coffee:2026-W47", "schedule")
        await db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ? WHERE status = 'pending'",
            (NOW - WEEK_S + 600,),
            name="bench.mark_sent",
        )
        return {
            "people": people,
            "generate_s": generated,
            "insert_s": inserted,
            "last_round_s": time.perf_counter() - started,
            "last_round_groups": row.groups,
        }
    finally:
        await db.close()


async def this_week(target: str) -> dict[str, Any]:
    db = Database(target)
    await db.open()
    held: dict[str, float] = defaultdict(float)
    db.on_lock_released.append(lambda name, seconds: held.__setitem__(name, held[name] + seconds))
    try:
        vectors = vector_service(db)
        service = coffee(db, NOW, vectors)
        rss_before = peak_rss_mb()
        held.clear()
        SECONDS.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        row = await service.run_round("coffee:2026-W48", "schedule")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        outbox = await db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'", ())
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "people": row.people,
            "groups": row.groups,
            "queued": int(outbox["n"]) if outbox else 0,
            "peak_rss_mb": peak_rss_mb(),
            "rss_before_mb": rss_before,
            "steps_s": dict(SECONDS),
            "lock_s": dict(held),
        }
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("seed", "round"))
    parser.add_argument("target", help="a SQLite file or a postgresql:// URL")
    parser.add_argument("--people", type=int, default=50_000)
    args = parser.parse_args()
    if args.step == "seed":
        found = asyncio.run(seed(args.target, args.people))
    else:
        found = asyncio.run(this_week(args.target))
    print(json.dumps(found))


if __name__ == "__main__":
    main()
