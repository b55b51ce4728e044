"""Encoding 10,000 imported profiles at first start, and what it costs the chat meanwhile.

    .venv/bin/python -m bench.encoding [--profiles 10000] [--rounds 60]

Starts its own Synapse and the bot as a real process on a store that already holds the
imported (synthetic, bench/profiles.py) profiles without vectors, as after `import-staff` with
the model switched off. A user sends `!hilfe` to the bot in an encrypted DM once a second
while it encodes; once every profile has its vectors, the same number of round trips is
measured on the idle bot. Prints the time from process start to "all vectors ready", profiles
and phrases per second, and the `!hilfe` p50/p95 during encoding against idle (goal: p95
ratio ≤ 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ms
from bench.latency import round_trips
from bench.profiles import generate
from bot.devserver import LocalSynapse, free_port
from bot.domain.phrases import split_tasks
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MatrixUser, unique_localpart

PACE_S = 1.0


async def seed(database: Path, count: int) -> int:
    """Imported profiles as `import-staff` leaves them; returns how many distinct phrases."""
    db = Database(database)
    await db.open()
    repo = ProfileRepository(db)
    now = datetime.now(UTC)
    phrases: set[str] = set()
    async with db.transaction("encoding.seed"):
        for i, synthetic in enumerate(generate(count, seed=7)):
            person = synthetic.person
            user = f"@staff{i}:bench.example"
            await repo.create(user, now, source="import", confirmed=False)
            await repo.update(user, now, tasks=person.tasks, topics=person.topics)
            phrases.update(split_tasks(person.tasks, person.topics))
    await db.close()
    return len(phrases)


async def paced(user: MatrixUser, room: str, bot: str, count: int) -> list[float]:
    """`count` round trips, one command per `PACE_S` at most: people using the bot while it
    encodes, not a flood (bench/soak.py measures floods)."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        samples += await round_trips(user, room, bot, 1)
        await asyncio.sleep(max(0.0, PACE_S - (time.perf_counter() - started)))
    return samples


def vectors_ready(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM text_vectors").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def main(profiles: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        synapse = LocalSynapse(base / "synapse", free_port())
        synapse.start()
        bot = BotProcess(synapse, base / "bot", config={"operations": {"log_level": "INFO"}})
        try:
            distinct = await seed(bot.database, profiles)
            started = time.perf_counter()
            await bot.start_and_wait()
            user = await MatrixUser.create(synapse, unique_localpart("bench"), base)
            room = await user.open_dm(bot.user_id)
            await user.wait_for_message(room, sender=bot.user_id, timeout=60)
            busy: list[float] = []
            while (ready := await asyncio.to_thread(vectors_ready, bot.database)) < profiles:
                busy += await paced(user, room, bot.user_id, 5)
            all_ready = time.perf_counter() - started
            idle = await paced(user, room, bot.user_id, max(rounds, min(len(busy), 300)))
            print(
                f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python "
                f"{platform.python_version()}; {profiles} profiles, {distinct} distinct phrases"
            )
            print(
                "| profiles | start → all vectors | profiles/s | phrases/s "
                "| !hilfe p50 busy / idle | p95 busy / idle | p95 ratio |"
            )
            print("|---|---|---|---|---|---|---|")
            print(
                f"| {ready} | {all_ready:.0f} s | {ready / all_ready:.0f} "
                f"| {distinct / all_ready:.0f} | {ms(busy, 50):.0f} / {ms(idle, 50):.0f} ms "
                f"| {ms(busy, 95):.0f} / {ms(idle, 95):.0f} ms "
                f"| {ms(busy, 95) / ms(idle, 95):.2f}× |"
            )
            print(f"({len(busy)} round trips while encoding, {len(idle)} idle)")
            await user.close()
        finally:
            bot.stop()
            synapse.stop()
            synapse.remove_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.profiles, args.rounds))
