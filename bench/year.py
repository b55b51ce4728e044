"""A simulated year of weekly coffee rounds: does the bot stay as small as a fresh one?

    .venv/bin/python -m bench.year [--people 40] [--weeks 52] [--answer-share 0.5]

Starts its own Synapse (rate limits lifted, SQLite under /dev/shm) and two bots as real
processes with the same DMs: `--people` colleagues, each with an encrypted DM to both bots
(the people join through admin-made tokens), plus an E2EE probe user with a DM to each.
Then a year on the "year" bot's store and account: every simulated week a round pairs
everybody, and the bot's own chat side (outbox sender, `FollowUps`, `RoomRetirement`, running
in this process on the bot's own device and crypto store, with a simulated clock) creates the rooms,
the people join, the introduction and three days later the follow-up go out, a share of the
pairs answer (both members, recorded through the follow-up service as the reaction hook
does), and the retirement leaves answered rooms and those whose answer window ran out. The
"fresh" bot lives no year. At the end both processes are measured in the same run (ratios
year / fresh): joined rooms, RSS after start, the homeserver's initial sync with the bot's
filter (full state), restart-to-first-answer (`!hilfe` sent while the bot is down)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from nio import AsyncClient

from bot.chat.health import Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.room_retirement import RoomRetirement
from bot.chat.rooms import DirectRooms
from bot.chat.sender import OutboxSender
from bot.chat.session import build_client, log_in
from bot.chat.sync import sync_filter
from bot.config import parse_config
from bot.devserver import LocalSynapse, free_port
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.bot_state import BotState
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import NewGroup, NewMember
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.room_retirement import RetiringRooms
from bot.store.rooms import RoomDirectory
from tests.support.bot_process import BotProcess
from tests.support.homeserver import Homeserver, q
from tests.support.matrix_sync import crypto_housekeeping
from tests.support.matrix_user import MEGOLM, MatrixUser, unique_localpart
from tests.support.seed import seed_dm_rooms

DAY_S = 86_400.0
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
CONCURRENCY = 8
RESTARTS = 5


async def no_choice(_: str) -> None:
    return None  # nobody chose a language: the default


async def gathered(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def join(server: Homeserver, token: str, room_id: str) -> None:
    await server.call_paced("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/join", {}, token=token)


async def give_dms(server: Homeserver, bot: BotProcess, puppets: dict[str, str]) -> dict[str, str]:
    """An encrypted DM per person, made by the (stopped) bot and joined by the person, in
    the bot's store and `m.direct` as `DirectRooms.remember` leaves them."""
    token = bot.access_token()

    async def dm(person: str) -> str:
        body = {
            "is_direct": True,
            "invite": [person],
            "preset": "trusted_private_chat",
            "initial_state": [ENCRYPTION],
        }
        data = await server.call_paced("POST", "/_matrix/client/v3/createRoom", body, token=token)
        await join(server, puppets[person], data["room_id"])
        return str(data["room_id"])

    rooms = await gathered([partial(dm, p) for p in puppets])
    dms = dict(zip(puppets, rooms, strict=True))
    await seed_dm_rooms(bot.database, dms)
    path = f"/_matrix/client/v3/user/{q(bot.user_id)}/account_data/m.direct"
    direct = await server.call("GET", path, token=token, ok=(200, 404))
    direct = direct if "errcode" not in direct else {}
    direct.update({person: [room] for person, room in dms.items()})
    await server.call("PUT", path, direct, token=token)
    return dms


class Year:
    """The year bot's chat side in this process, on its store, with a simulated clock."""

    def __init__(self, client: AsyncClient, db: Database, bot: BotProcess, start: float) -> None:
        self.client, self.db, self.now = client, db, start
        config = parse_config(bot.config, "bench", environ={})
        self.outbox, self.directory = Outbox(db), RoomDirectory(db)
        direct = DirectRooms(client, self.directory, encrypted=False)
        self.sender = OutboxSender(
            client, self.outbox, self.directory, direct, config.outbox, Metrics()
        )
        self.messenger = ChatMessenger(self.outbox, no_choice, "de", self.sender.wake)
        self.followups = FollowUps(db, self.messenger, clock=lambda: self.now)
        self.retirement = RoomRetirement(
            client, self.directory, self.outbox, config, clock=lambda: self.now
        )
        self.tasks = [asyncio.create_task(self.sender.run()), asyncio.create_task(self._sync())]

    @classmethod
    async def device(cls, bot: BotProcess, db: Database) -> AsyncClient:
        """The bot's own device, logged in as the app does (its stored token, crypto store)."""
        config = parse_config(bot.config, "bench", environ={})
        client = build_client(config)
        await log_in(client, config, BotState(db))
        return client

    async def _sync(self) -> None:
        """What the bot's sync loop does for the sender: rooms, members, keys."""
        client, first = self.client, True
        while True:
            await client.sync(timeout=0 if first else 5000, sync_filter=sync_filter(50))
            first = False
            await crypto_housekeeping(client)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()

    async def settled(self) -> None:
        while True:
            if not (await self.outbox.backlog())[0]:
                return
            await asyncio.sleep(0.2)

    async def retire(self) -> None:
        """Runs until nothing more is left (a run leaves at most a batch)."""
        for _ in range(100):
            await self.retirement.run()
            if not await RetiringRooms(self.db).to_leave(1):
                return


def new_group(key: str, idx: int, pair: tuple[str, ...], due: float) -> NewGroup:
    members = tuple(NewMember(p, "Amt", "Stadt") for p in pair)
    return NewGroup(idx, "pair", members, key, f"{key}:intro", f"{key}:followup", due)


async def week(
    year: Year,
    server: Homeserver,
    puppets: dict[str, str],
    number: int,
    rng: random.Random,
    answer_share: float,
) -> int:
    """One round, start to end: rooms, joins, intro, follow-up, answers, retirement.
    Returns how many groups were made."""
    people = list(puppets)
    rng.shuffle(people)
    pairs = [tuple(people[i : i + 2]) for i in range(0, len(people) - 1, 2)]
    store = CoffeeStore(year.db)
    key = f"coffee:Y{number:02d}"
    counts = {"people": len(people), "groups": len(pairs), "unmatched": len(people) % 2}
    round_row = await store.insert_round(
        "coffee", key, trigger="schedule", started_at=year.now, **counts
    )
    assert round_row is not None
    due = year.now + 3 * DAY_S
    groups = [new_group(f"{key}/{n}", n, pair, due) for n, pair in enumerate(pairs)]
    await store.insert_groups(round_row.id, groups, year.now)
    for group, (first, second) in zip(groups, pairs, strict=True):
        await year.messenger.open_room(
            group.room_key,
            name=Say("coffee.room.name", {"names": f"{first} & {second}"}),
            invite=[first, second],
            intro=Say("kitchen.break.intro", {"first": first, "second": second, "minutes": 15}),
            effect_key=group.intro_key,
        )
    joined: set[str] = set()
    while len(joined) < len(groups):  # the people accept as the rooms appear
        made = []
        for group in groups:
            room_id = await year.directory.purpose_room(group.room_key)
            if room_id is not None and group.room_key not in joined:
                joined.add(group.room_key)
                made += [(m.person, room_id) for m in group.members]
        await gathered([partial(join, server, puppets[p], r) for p, r in made])
        await asyncio.sleep(0.2)
    await year.settled()
    year.now += 3 * DAY_S
    assert await year.followups.send_due() == len(groups)
    await year.settled()
    for group in rng.sample(groups, round(len(groups) * answer_share)):
        for member in group.members:
            await year.followups.on_reaction(member.person, group.followup_key, "👍", False)
    year.now += DAY_S
    await year.retire()
    year.now += 3 * DAY_S
    return len(groups)


async def people_kept_rooms(
    db: Database, server: Homeserver, puppets: dict[str, str], bot_id: str, sample: int = 20
) -> str:
    """Of a sample of left rooms: how many still have both people in it, and the bot not."""
    rows = await db.fetchall(
        "SELECT p.room_id, g.id FROM purpose_rooms p JOIN coffee_groups g ON g.room_key = p.key "
        "WHERE p.left_at IS NOT NULL ORDER BY random() LIMIT ?",
        (sample,),
    )
    kept = 0
    for room_id, group_id in rows:
        people = [m.person for m in await CoffeeStore(db).members(int(group_id))]
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/joined_members"
        data = await server.call("GET", path, token=puppets[people[0]])
        present = set(data["joined"])
        kept += set(people) <= present and bot_id not in present
    return f"{kept}/{len(rows)}"


def rss_mb(bot: BotProcess) -> float:
    assert bot.process is not None
    for line in Path(f"/proc/{bot.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def restart_to_answer(probe: MatrixUser, bot: BotProcess, room_id: str, marker: str) -> float:
    """The bot is down, a command waits for it: seconds from process start to the answer."""
    bot.stop()
    await probe.send_text(room_id, f"!hilfe {marker}")
    started = time.perf_counter()
    bot.start()
    await probe.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: marker in m.body, timeout=300
    )
    return time.perf_counter() - started


async def sync_seconds(server: Homeserver, token: str) -> float:
    """The homeserver's initial sync with the bot's filter (full state, as after a restart)."""
    query = q(json.dumps(sync_filter(50)))
    started = time.perf_counter()
    path = f"/_matrix/client/v3/sync?timeout=0&full_state=true&filter={query}"
    await server.call("GET", path, token=token)
    return time.perf_counter() - started


async def measure(
    server: Homeserver, probe: MatrixUser, bots: tuple[BotProcess, ...], dms: dict[str, str]
) -> dict[str, dict[str, list[float]]]:
    """Per bot: restart-to-first-answer, RSS, initial sync seconds, joined rooms."""
    figures: dict[str, dict[str, list[float]]] = {
        b.user_id: {"restart": [], "rss": [], "sync": [], "joined": []} for b in bots
    }
    for bot in bots:  # caught up once, as a bot that ran all year would be
        await restart_to_answer(probe, bot, dms[bot.user_id], "warm")
    for n in range(RESTARTS):  # alternating, so machine noise hits both alike
        for bot in bots:
            seconds = await restart_to_answer(probe, bot, dms[bot.user_id], f"start{n}")
            await asyncio.sleep(5)  # settled after the start
            figures[bot.user_id]["restart"].append(seconds)
            figures[bot.user_id]["rss"].append(rss_mb(bot))
    for bot in bots:
        bot.stop()
        token = bot.access_token()
        data = await server.call("GET", "/_matrix/client/v3/joined_rooms", token=token)
        figures[bot.user_id]["joined"].append(len(data["joined_rooms"]))
        for _ in range(RESTARTS):
            figures[bot.user_id]["sync"].append(await sync_seconds(server, token))
    return figures


async def main(people: int, weeks: int, answer_share: float) -> None:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        synapse = LocalSynapse(base / "synapse", free_port())
        synapse.start()
        config = {"operations": {"log_level": "INFO"}}
        bots = (
            BotProcess(synapse, base / "fresh", config=config),
            BotProcess(synapse, base / "year", config=config),
        )
        server = await Homeserver.create(synapse)
        probe = await MatrixUser.create(synapse, unique_localpart("probe"), base)
        try:
            started = time.perf_counter()
            probe_dms = {}
            for bot in bots:
                await bot.start_and_wait()
                probe_dms[bot.user_id] = await probe.open_dm(bot.user_id)
                await probe.wait_for_message(probe_dms[bot.user_id], sender=bot.user_id, timeout=60)
                bot.stop()
            names = await asyncio.to_thread(server.register_many, "kollegin", people)
            tokens = await gathered([partial(server.puppet, n) for n in names])
            puppets = {a.user_id: a.token for a in tokens}
            for bot in bots:
                await give_dms(server, bot, puppets)
            setup_s = time.perf_counter() - started

            started = time.perf_counter()
            db = Database(bots[1].database)
            await db.open()
            year = Year(await Year.device(bots[1], db), db, bots[1], time.time())
            groups = 0
            for number in range(weeks):
                groups += await week(year, server, puppets, number, rng, answer_share)
                print(f"week {number + 1}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
            await year.stop()
            kept = await people_kept_rooms(db, server, puppets, bots[1].user_id)
            active = len(await RetiringRooms(db).joined())
            left, refused = await db.fetchone(
                "SELECT (SELECT COUNT(*) FROM purpose_rooms WHERE left_at IS NOT NULL), (SELECT "
                "COUNT(*) FROM outbox WHERE last_error = 'purpose room retired')"
            )  # type: ignore[misc]
            await db.close()
            year_s = time.perf_counter() - started
            figures = await measure(server, probe, bots, probe_dms)
        finally:
            await probe.close()
            await server.close()
            for bot in bots:
                bot.stop()
            synapse.stop()
            synapse.remove_database()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, python "
        f"{platform.python_version()}; setup {setup_s:.0f} s, the year {year_s:.0f} s; "
        f"{people} people, {weeks} rounds, {groups} rooms made, {left} left (people still "
        f"in a sample of them: {kept}), {active} still active at the end; answer share "
        f"{answer_share:.0%}; sends refused as retired: {refused}"
    )
    fresh, after = figures[bots[0].user_id], figures[bots[1].user_id]
    print("| figure | fresh bot | after the year | ratio |")
    print("|---|---|---|---|")
    for name, key, fmt in (
        ("joined rooms", "joined", "{:.0f}"),
        ("RSS after start (MB, median)", "rss", "{:.0f}"),
        ("initial sync, bot filter (s, median)", "sync", "{:.2f}"),
        ("restart → first answer (s, median)", "restart", "{:.1f}"),
    ):
        a, b = statistics.median(fresh[key]), statistics.median(after[key])
        print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {b / a:.2f}× |")
    each = {k: " / ".join(f"{v:.1f}" for v in f["restart"]) for k, f in figures.items()}
    print(f"restarts (s): fresh {each[bots[0].user_id]}, year {each[bots[1].user_id]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--answer-share", type=float, default=0.5)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.weeks, args.answer_share))
