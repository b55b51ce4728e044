"""Flood: one person sends 500 commands in 10 s while a crisis broadcast to 50 bridges runs.

    .venv/bin/python -m bench.flood [--commands 500] [--seconds 10] [--bridges 50] [--others 3]

Starts its own Synapse (rate limits lifted) and the bot as a real process with its default
per-person limits. A few other people send `!hilfe` and wait for the answer, by turns to the
bot and to a bare matrix-nio echo bot, through four phases: idle; a broadcast alone (into
the bridges' existing DM rooms); a flood alone (the commands evenly over the seconds,
`!hilfe` and `!profil themen …` by turns); the flood with a broadcast starting half a second
into it. Each round-trip p95 is compared with idle, the echo bot's showing what the load
costs the machine.

Checked and printed for docs/BENCHMARKS.md: no reply to the flood left the outbox before
the last ask of the broadcast, each flooder was told once to slow down, and the broadcast's
time with the flood against alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from bench.backends import open_store
from bench.common import crisis_bot, machine, percentile
from bench.fanout import fanout, request_id, seed_contacts
from bench.latency import EchoBot, round_trips
from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database
from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.matrix_user import MatrixUser, unique_localpart

SLOW_DOWN = "Sekunden wieder"  # limits.slow_down (de)


async def flood(user: MatrixUser, room: str, commands: int, seconds: float) -> float:
    """The commands evenly over `seconds` (a few in flight, as a script would); returns
    how long sending took."""
    started = time.monotonic()
    in_flight = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, started + i * seconds / commands - time.monotonic()))
        text = f"!hilfe flut{i}" if i % 2 else f"!profil themen Flut {i}"
        async with in_flight:
            await user.send_text(room, text)

    await asyncio.gather(*(one(i) for i in range(commands)))
    return time.monotonic() - started


Colleague = tuple[MatrixUser, str, str]  # a person, their DM with the bot, with the echo bot


async def measure(
    colleagues: list[Colleague], bot_id: str, echo_id: str, until: asyncio.Event | None
) -> tuple[list[float], list[float]]:
    """Round trips of every colleague, to the bot and to the echo bot by turns: 20 each, or
    until `until` is set. (bot samples, echo samples)"""
    bot: list[float] = []
    echo: list[float] = []

    async def loop(user: MatrixUser, bot_room: str, echo_room: str) -> None:
        rounds = 0
        while (until is None and rounds < 20) or (until is not None and not until.is_set()):
            bot.extend(await round_trips(user, bot_room, bot_id, 1))
            echo.extend(await round_trips(user, echo_room, echo_id, 1))
            rounds += 1

    await asyncio.gather(*(loop(*c) for c in colleagues))
    return bot, echo


def overtaking(database: Path, flood_room: str, rid: str) -> tuple[int, int, int]:
    """(replies in the flooder's DM queued after the asks and sent before the last ask,
    replies there in all, asks of the request)."""
    prefix = f"crisis:{rid}:ask:"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        first_ask, last_ask, asks = db.execute(
            "SELECT MIN(created_at), MAX(sent_at), COUNT(*) FROM outbox "
            "WHERE substr(key, 1, ?) = ? AND instr(key, ':react:') = 0",
            (len(prefix), prefix),
        ).fetchone()
        ahead, sent = db.execute(
            "SELECT SUM(created_at >= ? AND sent_at < ?), COUNT(*) FROM outbox "
            "WHERE target = ? AND status = 'sent' AND substr(key, 1, 6) = 'reply:'",
            (first_ask, last_ask, flood_room),
        ).fetchone()
    return int(ahead or 0), int(sent), int(asks)


@dataclass
class Phase:
    name: str
    bot: list[float]
    echo: list[float]

    def row(self, idle: Phase) -> str:
        b, e = percentile(self.bot, 95), percentile(self.echo, 95)
        ib, ie = percentile(idle.bot, 95), percentile(idle.echo, 95)
        return (
            f"| {self.name} | {len(self.bot)} | {1000 * b:.0f} ms | **{b / ib:.2f}×** "
            f"| {1000 * e:.0f} ms | {e / ie:.2f}× | {b / e:.2f}× |"
        )


@dataclass
class Flood:
    user: MatrixUser
    room: str
    sending: float = 0.0

    def told(self, bot_id: str) -> int:
        return sum(SLOW_DOWN in m.body for m in self.user.messages_from(bot_id, self.room))


async def during(
    colleagues: list[Colleague],
    bot_id: str,
    echo_id: str,
    name: str,
    *work: Awaitable[object],
) -> Phase:
    """The colleagues' round trips while `work` runs, and 3 s after (the last replies)."""
    done = asyncio.Event()
    measuring = asyncio.create_task(measure(colleagues, bot_id, echo_id, done))
    await asyncio.gather(*work)
    await asyncio.sleep(3)
    done.set()
    return Phase(name, *await measuring)


async def flood_in(f: Flood, commands: int, seconds: float) -> None:
    f.sending = await flood(f.user, f.room, commands, seconds)


async def main(commands: int, seconds: float, bridges: int, others: int, limits: bool) -> None:
    base = Path(tempfile.mkdtemp(prefix="flurfunk-flood-"))
    load_before = os.getloadavg()[0]
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    users: list[MatrixUser] = []
    bot: BotProcess | None = None
    echo: EchoBot | None = None
    store: Database | None = None
    try:
        chief = await MatrixUser.create(synapse, unique_localpart("chief"), base)
        users.append(chief)
        bot, room_id, people = await crisis_bot(
            synapse, base, chief, bridges, {"bot": {"limits": {"enabled": limits}}}
        )
        store = await open_store(bot.database)
        await seed_contacts(
            store,
            [(p, f"Tafel Ort {i}", "Soziale Träger") for i, p in enumerate(people)],
            first=0,
        )
        (base / "echo").mkdir()
        echo = await EchoBot.create(synapse, base / "echo")
        echo.task = asyncio.create_task(echo.run())
        echo_id, bot_id = str(echo.client.user_id), bot.user_id
        colleagues: list[Colleague] = []
        for i in range(others):
            user = await MatrixUser.create(synapse, unique_localpart(f"kollegin{i}"), base)
            users.append(user)
            colleagues.append(
                (user, await dm_with_bot(user, bot, timeout=60), await user.open_dm(echo_id))
            )
        floods: list[Flood] = []
        for i in range(2):  # a fresh flooder per flood: the first one's episode may go on
            user = await MatrixUser.create(synapse, unique_localpart(f"flut{i}"), base)
            users.append(user)
            floods.append(Flood(user, await dm_with_bot(user, bot, timeout=60)))

        print("broadcast, cold (DM rooms made on the way) …", file=sys.stderr)
        await fanout(chief, bot, store, room_id, bridges, "Lauf-kalt")
        await asyncio.sleep(2)  # the echo bot joined its DMs
        await measure(colleagues, bot_id, echo_id, None)  # warm-up: sessions, keys
        print("idle …", file=sys.stderr)
        idle = Phase("idle", *await measure(colleagues, bot_id, echo_id, None))
        print("broadcast alone …", file=sys.stderr)
        alone: list[float] = []

        async def broadcast(marker: str, took: list[float], store: Database = store) -> None:
            took.append((await fanout(chief, bot, store, room_id, bridges, marker))[0])

        phases = [idle]
        phases.append(
            await during(colleagues, bot_id, echo_id, "broadcast", broadcast("Lauf-warm", alone))
        )
        print("flood alone …", file=sys.stderr)
        phases.append(
            await during(
                colleagues, bot_id, echo_id, "flood", flood_in(floods[0], commands, seconds)
            )
        )
        print("flood and broadcast …", file=sys.stderr)
        both: list[float] = []

        async def late_broadcast() -> None:
            await asyncio.sleep(0.5)  # the flood is under way when the request comes
            await broadcast("Lauf-Flut", both)

        phases.append(
            await during(
                colleagues,
                bot_id,
                echo_id,
                "flood + broadcast",
                flood_in(floods[1], commands, seconds),
                late_broadcast(),
            )
        )
        rid = await request_id(chief, bot, room_id, "Lauf-Flut")
        ahead, replies, asks = overtaking(bot.database, floods[1].room, rid)
        await asyncio.sleep(3)  # the flooders' clients sync what the bot said
        told = [f.told(bot_id) for f in floods]
    finally:
        for user in users:
            await user.close()
        if echo is not None:
            if echo.task is not None:
                echo.task.cancel()
            await echo.client.close()
        if store is not None:
            await store.close()
        if bot is not None:
            bot.stop()
        synapse.stop()
        synapse.remove_database()

    setting = (
        "with its default per-person limits (changes: 30 at once, then 20 per minute; "
        "reads: 60 at once, then 60 per minute)"
        if limits
        else "**without** per-person limits (`bot.limits.enabled: false`)"
    )
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after the run"
    command = (
        f".venv/bin/python -m bench.flood --commands {commands} --seconds {seconds:g} "
        f"--bridges {bridges} --others {others}" + ("" if limits else " --no-limits")
    )
    rows = "\n".join(p.row(idle) for p in phases)
    sent = " and ".join(f"{f.sending:.1f} s" for f in floods)
    print(f"""
## Floods

`{command}` — {time.strftime("%Y-%m-%d")}, {machine()}; {load}.
One Synapse (rate limits lifted), the bot as a real process {setting}.
A flood: one person sends {commands} commands (`!hilfe` and `!profil themen …` by turns,
meant to take {seconds:g} s; the sending client managed it in {sent}). A broadcast: the
crisis staff's `!werkennt` to {bridges} bridges (existing DM rooms). Meanwhile {others} other
people keep sending `!hilfe` and waiting for the answer, by turns to the bot and to a bare
matrix-nio echo bot (bench/latency.py) on the same Synapse, which shows what the load costs
the machine (2 cores shared by Synapse, the bot and every client).

| phase | round trips | bot p95 | vs idle | echo p95 | vs idle | bot / echo |
|---|---:|---:|---:|---:|---:|---:|
{rows}

| flood + broadcast | figure |
|---|---:|
| `!werkennt` → last of {bridges} asks sent, broadcast alone | {alone[0]:.2f} s |
| the same during the flood | {both[0]:.2f} s ({both[0] / alone[0]:.2f}×) |
| asks of the request sent | {asks} of {bridges} |
| flood replies queued after the asks and sent before the last ask | **{ahead}** |
| flood commands answered (the rest refused, unanswered) | {replies} of {commands} |
| "slow down" notices to the two flooders | **{told[0]}** and **{told[1]}** |
""")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--bridges", type=int, default=50)
    parser.add_argument("--others", type=int, default=3)
    parser.add_argument("--no-limits", action="store_true", help="what the flood does without")
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.seconds, args.bridges, args.others, not args.no_limits))
