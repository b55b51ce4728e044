"""Start-up on a large store: seconds from process start to the first command answered.

    .venv/bin/python -m bench.startup [--profiles 10000] [--outbox 50000] [--rooms 1000]
                                      [--restarts 3]

Starts its own Synapse (rate limits lifted) and two bots as real processes in the same run:
one whose store holds `--profiles` imported profiles (bench/encoding.py's seeding, no vectors:
the background job encodes them, the first answer must not wait for it), `--outbox` outbox
rows (nearly all sent, some failed, a few still pending to people's DMs) and `--rooms` rooms
the bot is joined to on the homeserver (70 % DMs recorded in `dm_rooms` and `m.direct`, 30 %
purpose rooms with two people invited, all encrypted); the other with an empty store. Both
have run before (logged in, sync position stored, a DM with an E2EE user, the seeded rooms
taken in by one unmeasured start). Then, `--restarts` times each: the user sends `!hilfe`
while the bot is down, the bot process is started, and the clock runs from the process start
to its first sync (`/healthz` answers 200) and to the answer arriving at the user.
Goal of issue #17: ≤ 10 s on the large store. Prints markdown for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.encoding import seed as seed_profiles
from bench.encoding import vectors_ready
from bot.devserver import LocalSynapse, free_port
from tests.support.bot_process import BotProcess
from tests.support.homeserver import Homeserver, q
from tests.support.live import ENCRYPTION
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.seed import seed_dm_rooms

DM_SHARE = 0.7  # of the rooms: DMs; the rest purpose rooms
SENT_SHARE, FAILED_SHARE = 0.99, 0.008  # of the outbox rows; the rest pending
CONCURRENCY = 8


async def create_rooms(
    server: Homeserver, bot: BotProcess, people: list[str], count: int
) -> tuple[dict[str, str], dict[str, str]]:
    """`count` encrypted rooms created by the bot: (person -> DM, purpose key -> room)."""
    token = bot.access_token()
    dm_count = round(count * DM_SHARE)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def create(body: dict[str, Any]) -> str:
        async with gate:
            data = await server.call_paced(
                "POST", "/_matrix/client/v3/createRoom", body, token=token
            )
            return str(data["room_id"])

    dm_bodies = [
        {"is_direct": True, "invite": [person], "preset": "trusted_private_chat"}
        for person in people[:dm_count]
    ]
    purpose_bodies = [
        {
            "name": f"Kaffee {i}",
            "invite": [people[i % len(people)], people[(i * 7 + 1) % len(people)]],
        }
        for i in range(count - dm_count)
    ]
    rooms = await asyncio.gather(
        *(create({**body, "initial_state": [ENCRYPTION]}) for body in dm_bodies + purpose_bodies)
    )
    dms = dict(zip(people[:dm_count], rooms[:dm_count], strict=True))
    purpose = {f"coffee:bench/{i}": room for i, room in enumerate(rooms[dm_count:])}
    # The DMs are the bot's in `m.direct` too, as `DirectRooms.remember` leaves them.
    path = f"/_matrix/client/v3/user/{q(bot.user_id)}/account_data/m.direct"
    direct = await server.call("GET", path, token=token, ok=(200, 404))
    direct = direct if "errcode" not in direct else {}
    direct.update({person: [room] for person, room in dms.items()})
    await server.call("PUT", path, direct, token=token)
    return dms, purpose


def seed_outbox(database: Path, rows: int, dms: dict[str, str], purpose: dict[str, str]) -> None:
    """Outbox history as months of use leave it: replies, DMs and room posts, nearly all sent."""
    people = list(dms)
    keys = list(purpose)
    now = time.time()
    sent, failed = round(rows * SENT_SHARE), round(rows * FAILED_SHARE)
    values = []
    for i in range(rows):
        person = people[i % len(people)]
        content = {"msgtype": "m.notice", "body": f"Nachricht {i}", "m.mentions": {}}
        if i % 10 == 9:
            kind, target, subject = "roomkey", keys[i % len(keys)], None
        else:
            kind, target, subject = "dm", person, person
        status = "sent" if i < sent else "failed" if i < sent + failed else "pending"
        created = now - (rows - i) * 60
        values.append(
            (
                f"bench:{i}",
                "message",
                kind,
                target,
                json.dumps({"content": content}),
                subject,
                status,
                created if status != "sent" else 0,
                created,
                f"$bench{i}" if status == "sent" else None,
                (purpose[target] if kind == "roomkey" else dms[person])
                if status == "sent"
                else None,
                created + 1 if status == "sent" else None,
            )
        )
    with sqlite3.connect(database, timeout=30) as db:
        db.executemany(
            "INSERT INTO outbox (key, action, target_kind, target, payload, subject_user, "
            "status, next_attempt_at, created_at, event_id, room_id, sent_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        db.executemany(
            "INSERT INTO purpose_rooms (key, room_id, invitees, created_at) VALUES (?, ?, '[]', ?)",
            [(key, room, now) for key, room in purpose.items()],
        )


async def seed_large(
    server: Homeserver, bot: BotProcess, profiles: int, outbox: int, rooms: int
) -> dict[str, float]:
    """Fill the (stopped) bot's store and its homeserver account; seconds per part."""
    took: dict[str, float] = {}
    started = time.perf_counter()
    people = await asyncio.to_thread(server.register_many, "kollegin", round(rooms * DM_SHARE))
    dms, purpose = await create_rooms(server, bot, people, rooms)
    took["rooms"] = time.perf_counter() - started
    started = time.perf_counter()
    await seed_profiles(bot.database, profiles)
    await seed_dm_rooms(bot.database, dms)
    await asyncio.to_thread(seed_outbox, bot.database, outbox, dms, purpose)
    took["store"] = time.perf_counter() - started
    return took


async def restart_to_answer(
    user: MatrixUser, bot: BotProcess, room_id: str, marker: str
) -> tuple[float, float]:
    """The bot is down; a command waits for it. Seconds from its process start to its first
    sync (healthy) and to the answer arriving at the user."""
    bot.stop()
    await user.send_text(room_id, f"!hilfe {marker}")
    started = time.perf_counter()
    bot.start()
    synced: list[float] = []
    healthy = asyncio.create_task(bot.wait_healthy(timeout=300))
    healthy.add_done_callback(lambda _: synced.append(time.perf_counter() - started))
    await user.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: marker in m.body, timeout=300
    )
    answered = time.perf_counter() - started
    await healthy
    return synced[0], answered


async def main(profiles: int, outbox: int, rooms: int, restarts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        synapse = LocalSynapse(base / "synapse", free_port())
        synapse.start()
        config = {"operations": {"log_level": "INFO"}}
        empty = BotProcess(synapse, base / "empty", config=config)
        large = BotProcess(synapse, base / "large", config=config)
        server = await Homeserver.create(synapse)
        user = await MatrixUser.create(synapse, unique_localpart("bench"), base)
        try:
            dms = {}
            for bot in (empty, large):
                await bot.start_and_wait()
                dms[bot.user_id] = await user.open_dm(bot.user_id)
                await user.wait_for_message(dms[bot.user_id], sender=bot.user_id, timeout=60)
                bot.stop()
            seeding = await seed_large(server, large, profiles, outbox, rooms)
            # The seeded rooms were created while the bot was down: its next sync takes
            # them in once (as if it had created them while running); not measured.
            for bot in (empty, large):
                await restart_to_answer(user, bot, dms[bot.user_id], "warmup")
            times: dict[str, list[tuple[float, float]]] = {empty.user_id: [], large.user_id: []}
            for n in range(restarts):
                for bot in (empty, large):
                    times[bot.user_id].append(
                        await restart_to_answer(user, bot, dms[bot.user_id], f"start{n}")
                    )
            ready = await asyncio.to_thread(vectors_ready, large.database)
        finally:
            await user.close()
            await server.close()
            for bot in (empty, large):
                bot.stop()
            synapse.stop()
            synapse.remove_database()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, python "
        f"{platform.python_version()}; seeding: rooms {seeding['rooms']:.0f} s, "
        f"store {seeding['store']:.0f} s; {ready} profiles had vectors at the end"
    )
    print(
        "| store | restarts | process start → first sync | → first answer (each) | median | ratio |"
    )
    print("|---|---|---|---|---|---|")
    baseline = statistics.median(answer for _, answer in times[empty.user_id])
    for bot, label in (
        (empty, "empty"),
        (large, f"{profiles:,} profiles, {outbox:,} outbox rows, {rooms:,} rooms"),
    ):
        runs = times[bot.user_id]
        median = statistics.median(answer for _, answer in runs)
        print(
            f"| {label} | {len(runs)} "
            f"| {statistics.median(synced for synced, _ in runs):.1f} s (median) "
            f"| {' / '.join(f'{answer:.1f}' for _, answer in runs)} s | {median:.1f} s "
            f"| {median / baseline:.2f}× |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--outbox", type=int, default=50_000)
    parser.add_argument("--rooms", type=int, default=1_000)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.profiles, args.outbox, args.rooms, args.restarts))
