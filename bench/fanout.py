"""Crisis fan-out: one "Wer kennt wen?" request to 200 bridge persons, against raw matrix-nio.

    .venv/bin/python -m bench.fanout [--bridges 200] [--requests 50] [--rounds 3]
                                     [--database sqlite|postgres]

Starts its own Synapse (rate limits lifted, SQLite under /dev/shm) and the bot as a real
process, its store in SQLite (the default) or, with `--database postgres`, in a local
PostgreSQL (bench/backends.py). Phase 1: a request whose first tier reaches all N fitting
bridges (the DMs a broadcast sends), once with the DM rooms still to be created ("cold")
and once into the existing DM rooms ("warm"); the time runs from the crisis staff's
`!werkennt` until the bot has handed the last of the N DMs to the homeserver (its outbox
`sent_at`). Baselines in the
same run, a raw matrix-nio client with E2EE: cold, createRoom (encrypted, inviting the person)
plus the first notice once the room is synced, for the same N people, 4 at a time; warm, the
same N notices into those N rooms, one after the other and with 4 in flight (the bot's outbox
concurrency); the warm runs of bot and raw nio take turns, best of `--rounds` each. Phase 2:
the bot restarted with tier 1 = 3; the crisis staff send M requests one after another and the
clock runs until the first of the three fitting bridges (real E2EE clients) has the decrypted
DM; p50/p95/max.
Prints a markdown section for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomSendResponse, SyncResponse

from bench.backends import BACKENDS, Backends, open_store, store_target
from bench.common import crisis_bot, machine, ms
from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database
from tests.support.bot_process import BotProcess
from tests.support.live import ENCRYPTION
from tests.support.matrix_user import MatrixUser, unique_localpart

ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# How often the bench looks whether a fan-out is done. The times come from the bot's own
# `sent_at`, so this only decides when the end is noticed; each look scans the whole outbox
# (600 more rows every round) on the same two cores the bot and Synapse send with, a load
# that fell on the bot's rounds only (the raw client's rounds time themselves).
PROGRESS_POLL_S = 0.25


def contact_id(i: int) -> str:
    digits = []
    for _ in range(4):
        i, r = divmod(i, len(ID_ALPHABET))
        digits.append(ID_ALPHABET[r])
    return "K-" + "".join(digits)


async def seed_contacts(store: Database, rows: list[tuple[str, str, str]], first: int) -> None:
    """Contacts written straight into the bot's store: 200 chat dialogs would only measure
    the setup. The bot reads contacts per request, so it sees them without a restart."""
    now = time.time()
    async with store.transaction("bench.seed_contacts") as conn:
        await conn.executemany(
            "INSERT INTO crisis_contacts (id, user_id, organisation, sector, created_at, "
            "confirmed_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (contact_id(first + i), user, org, sector, now, now)
                for i, (user, org, sector) in enumerate(rows)
            ],
        )


async def outbox_progress(
    store: Database, request_id: str
) -> tuple[int, int, float | None, float | None]:
    """(asks sent, all items sent incl. reaction buttons, last ask sent_at, last item sent_at)."""
    prefix = f"crisis:{request_id}:ask:"
    # LIKE without wildcards in the keys: the same SQL on SQLite and PostgreSQL.
    asks = await store.fetchone(
        "SELECT COUNT(*) AS n, MAX(sent_at) AS last FROM outbox WHERE status = 'sent' "
        "AND key LIKE ? AND key NOT LIKE ?",
        (prefix + "%", "%:react:%"),
    )
    items = await store.fetchone(
        "SELECT COUNT(*) AS n, MAX(sent_at) AS last FROM outbox WHERE status = 'sent' "
        "AND key LIKE ?",
        (prefix + "%",),
    )
    assert asks is not None and items is not None
    return int(asks["n"]), int(items["n"]), asks["last"], items["last"]


async def wait_until(
    check: Callable[[], Awaitable[object]], limit_s: float, what: str, every_s: float = 0.02
) -> None:
    deadline = time.monotonic() + limit_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(every_s)


async def request_id(chief: MatrixUser, bot: BotProcess, room_id: str, marker: str) -> str:
    status = await chief.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: marker in m.body, timeout=120
    )
    for word in status.body.replace("*", " ").split():
        if word.startswith("A-") and len(word.rstrip(":")) == 6:
            return word.rstrip(":")
    raise AssertionError(status.body)


async def fanout(
    chief: MatrixUser, bot: BotProcess, store: Database, room_id: str, n: int, marker: str
) -> tuple[float, float, float]:
    """(last ask sent, last item sent, asks queued): seconds after `!werkennt`."""
    started = time.time()
    await chief.send_text(room_id, f"!werkennt Wer kennt jemanden bei einer Tafel? {marker}")
    rid = await request_id(chief, bot, room_id, marker)
    progress: tuple[int, int, float | None, float | None] = (0, 0, None, None)

    async def done() -> bool:
        nonlocal progress
        progress = await outbox_progress(store, rid)
        return progress[1] >= 3 * n

    await wait_until(done, 900, f"fan-out of {rid}", every_s=PROGRESS_POLL_S)
    assert progress[0] == n and progress[2] is not None and progress[3] is not None
    prefix = f"crisis:{rid}:ask:"
    row = await store.fetchone(
        "SELECT MIN(created_at) AS queued, MIN(sent_at) AS first FROM outbox WHERE key LIKE ?",
        (prefix + "%",),
    )
    assert row is not None
    queued, first = row["queued"], row["first"]
    # Where the time goes before the first send: the command's way in, routing, queuing.
    print(
        f"  {marker}: asks queued after {queued - started:.2f} s, first sent after "
        f"{first - started:.2f} s, last after {progress[2] - started:.2f} s",
        file=sys.stderr,
    )
    return progress[2] - started, progress[3] - started, queued - started


class RawSender:
    """The baseline: a bare matrix-nio client with E2EE, its own DM room per person."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    @classmethod
    async def create(cls, synapse: LocalSynapse, store: Path) -> RawSender:
        localpart = unique_localpart("raw")
        user_id = synapse.register_user(localpart, f"pw-{localpart}")
        await asyncio.to_thread(store.mkdir, parents=True, exist_ok=True)
        client = AsyncClient(
            synapse.url,
            user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        await client.login(f"pw-{localpart}")
        await client.keys_upload()
        return cls(client)

    async def cold(self, users: list[str], concurrency: int, text: str) -> tuple[float, list[str]]:
        """The cold baseline: per person createRoom (encrypted, inviting them) and, once the
        room came down the sync (nio encrypts only for rooms and members it knows), the
        first notice; `concurrency` people at a time, one sync loop beside them. Returns
        the time and the rooms (the warm baseline sends into them)."""
        synced = asyncio.Event()

        async def syncing() -> None:
            while True:
                response = await self.client.sync(timeout=300)
                assert isinstance(response, SyncResponse), response
                synced.set()

        gate = asyncio.Semaphore(concurrency)

        async def one(user: str) -> str:
            async with gate:
                response = await self.client.room_create(
                    is_direct=True, invite=[user], initial_state=[ENCRYPTION]
                )
                assert isinstance(response, RoomCreateResponse), response
                room_id = response.room_id
                while not (room_id in self.client.rooms and self.client.rooms[room_id].encrypted):
                    synced.clear()
                    await synced.wait()
                content = {"msgtype": "m.notice", "body": text, "m.mentions": {}}
                sent = await self.client.room_send(
                    room_id, "m.room.message", content, ignore_unverified_devices=True
                )
                assert isinstance(sent, RoomSendResponse), sent
                return str(room_id)

        loop = asyncio.create_task(syncing())
        try:
            started = time.perf_counter()
            rooms = await asyncio.gather(*(one(u) for u in users))
            return time.perf_counter() - started, list(rooms)
        finally:
            loop.cancel()

    async def send_all(
        self, rooms: list[str], concurrency: int, text: str, reactions: bool = False
    ) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def one(room_id: str) -> None:
            async with gate:
                content = {"msgtype": "m.notice", "body": text, "m.mentions": {}}
                sent = await self.client.room_send(
                    room_id, "m.room.message", content, ignore_unverified_devices=True
                )
                assert isinstance(sent, RoomSendResponse), sent
                for key in ("👍", "👎") if reactions else ():
                    relation = {"rel_type": "m.annotation", "event_id": sent.event_id, "key": key}
                    answer = await self.client.room_send(
                        room_id, "m.reaction", {"m.relates_to": relation}
                    )
                    assert isinstance(answer, RoomSendResponse), answer

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in rooms))
        return time.perf_counter() - started


async def first_dm(bridges: list[tuple[MatrixUser, str]], bot_id: str, marker: str) -> None:
    async def seen() -> bool:
        return any(
            marker in getattr(m, "body", "")
            for user, room in bridges
            for m in user.messages_from(bot_id, room)
        )

    await wait_until(seen, 60, f"first DM for {marker}")


async def main(n: int, requests: int, rounds: int, database: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="flurfunk-fanout-"))
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    users: list[MatrixUser] = []
    bot: BotProcess | None = None
    raw: RawSender | None = None
    store: Database | None = None
    backends = Backends()
    try:
        chief = await MatrixUser.create(synapse, unique_localpart("chief"), base)
        users.append(chief)
        storage = backends.storage(database, "fanout")
        bot, room_id, people = await crisis_bot(synapse, base, chief, n, storage)
        store = await open_store(store_target(bot))
        await seed_contacts(
            store,
            [(p, f"Tafel Ort {i}", "Soziale Träger") for i, p in enumerate(people)],
            first=0,
        )

        print("fan-out, cold (DM rooms created on the way) …", file=sys.stderr)
        cold_asks, cold_all, cold_queued = await fanout(chief, bot, store, room_id, n, "Lauf-kalt")
        print("raw matrix-nio, cold …", file=sys.stderr)
        raw = await RawSender.create(synapse, base / "raw")
        # Cold: the rooms are created on the way; afterwards megolm sessions exist in them,
        # as for the bot's warm runs.
        raw_cold, rooms = await raw.cold(list(people), 4, "Wer kennt jemanden? roh, kalt")
        raw_seq = await raw.send_all(rooms, 1, "Wer kennt jemanden bei einer Tafel? roh 1")
        # Warm runs of the bot and of raw nio take turns, best of each: a machine shared
        # with other work slows whichever runs at the wrong moment.
        warm: list[tuple[float, float, float]] = []
        raw_warm: list[tuple[float, float]] = []
        for r in range(rounds):
            print(f"fan-out, warm, round {r + 1} of {rounds}: bot, raw nio …", file=sys.stderr)
            warm.append(await fanout(chief, bot, store, room_id, n, f"Lauf-warm-{r}"))
            text = f"Wer kennt jemanden bei einer Tafel? roh 4, Runde {r}"
            raw_warm.append(
                (
                    await raw.send_all(rooms, 4, text),
                    await raw.send_all(rooms, 4, text + "+", reactions=True),
                )
            )
        warm_asks, warm_all, warm_queued = (min(w[i] for w in warm) for i in (0, 1, 2))
        warm_outbox = min(w[0] - w[2] for w in warm)
        raw_par, raw_par_reactions = (min(w[i] for w in raw_warm) for i in (0, 1))
        each = ", ".join(
            f"{b[0] / r[0]:.2f}×/{b[1] / r[1]:.2f}×" for b, r in zip(warm, raw_warm, strict=True)
        )

        print(f"latency to the first tier-1 DM, {requests} requests …", file=sys.stderr)
        bot.stop()
        await bot.wait_exit()
        bot.config["crisis"]["tier1_size"] = 3
        bot.write_config()
        await bot.start_and_wait()
        bridges: list[tuple[MatrixUser, str]] = []
        for i in range(3):
            user = await MatrixUser.create(synapse, unique_localpart(f"spedition{i}"), base)
            users.append(user)
            dm = await user.open_dm(bot.user_id)
            await user.wait_for_message(dm, sender=bot.user_id, timeout=60)  # greeting
            bridges.append((user, dm))
        await seed_contacts(
            store,
            [(u.user_id, f"Spedition Elbe {i}", "Logistik") for i, (u, _) in enumerate(bridges)],
            first=n,
        )
        latencies = []
        for i in range(requests):
            marker = f"Messung-{i:03d}"
            started = time.perf_counter()
            await chief.send_text(room_id, f"!werkennt Wer kennt eine Spedition? {marker}")
            await first_dm(bridges, bot.user_id, marker)
            latencies.append(time.perf_counter() - started)
    finally:
        for user in users:
            await user.close()
        if raw is not None:
            await raw.client.close()
        if store is not None:
            await store.close()
        if bot is not None:
            bot.stop()
        backends.close()
        synapse.stop()
        synapse.remove_database()

    command = (
        f".venv/bin/python -m bench.fanout --bridges {n} --requests {requests} --rounds {rounds}"
        + ("" if database == "sqlite" else f" --database {database}")
    )
    events = 3 * n
    rows = [
        (f"bot, cold: `!werkennt` → {n} DMs sent (creates {n} DM rooms)", cold_asks, n),
        (f"bot, cold, incl. 2 reaction buttons per DM ({events} events)", cold_all, 0),
        (
            f"raw matrix-nio, cold: createRoom (invite) + first notice for {n} people, 4 at a time",
            raw_cold,
            n,
        ),
        (f"bot, warm: `!werkennt` → {n} DMs sent into existing DM rooms", warm_asks, n),
        (f"bot, warm, incl. 2 reaction buttons per DM ({events} events)", warm_all, 0),
        (f"raw matrix-nio, {n} notices into existing DM rooms, one at a time", raw_seq, n),
        ("raw matrix-nio, the same with 4 in flight", raw_par, n),
        (
            f"raw matrix-nio, 4 in flight, incl. 2 reactions per DM ({events} events)",
            raw_par_reactions,
            0,
        ),
    ]
    table = "\n".join(
        f"| {what} | {t:.2f} s | {f'{1000 * t / per:.1f} ms' if per else ''} |"
        for what, t, per in rows
    )
    print(f"""
## Crisis fan-out

`{command}` — {time.strftime("%Y-%m-%d")}, {machine()}.
One Synapse (rate limits lifted), the bot as a real process (outbox concurrency 4,
log level WARNING, store: {database}), {n} bridge persons without client devices (so no key
sharing), every DM room encrypted.

| what | time | per DM |
|---|---:|---:|
{table}

Warm: best of {rounds} runs each, bot and raw nio taking turns. Ratio bot (warm) / raw nio
(4 in flight): **{warm_asks / raw_par:.2f}×** for the {n} DMs,
**{warm_all / raw_par_reactions:.2f}×** including the reaction buttons (per round: {each}).
Cold, bot / raw nio (createRoom + first notice, 4 at a time): **{cold_asks / raw_cold:.2f}×**.
The asks were queued {cold_queued:.2f} s (cold) and {warm_queued:.2f} s (warm, best) after
`!werkennt` (the command's way in and the routing); from then on to the last ask sent, bot /
raw nio: {(cold_asks - cold_queued) / raw_cold:.2f}× cold,
{warm_outbox / raw_par:.2f}× warm.

Time from `!werkennt` (sent by the crisis staff's client) to the first tier-1 DM decrypted by
one of the three fitting bridges (real E2EE clients), {requests} requests one after another,
{n + 3} contacts on file: p50 {ms(latencies, 50):.0f} ms,
**p95 {ms(latencies, 95):.0f} ms**, max {1000 * max(latencies):.0f} ms
(mean {1000 * statistics.mean(latencies):.0f} ms).
""")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bridges", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="warm runs of bot and raw nio")
    parser.add_argument(
        "--database", choices=BACKENDS, default="sqlite", help="the bot's store (default sqlite)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.bridges, args.requests, args.rounds, args.database))
