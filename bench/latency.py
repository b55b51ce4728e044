"""Command round-trip latency: Flurfunk vs a minimal raw matrix-nio echo bot, same run.

    .venv/bin/python -m bench.latency [--rounds 200] [--database sqlite|postgres ...]

Starts its own Synapse (rate limits lifted), the bot as a real process, and an echo
client that answers every text with a notice in the same encrypted DM. A user sends
`!hilfe` to each and waits for the answer; p50/p95 of both and the ratio are printed
as a markdown table row for docs/BENCHMARKS.md. With `--database` given twice, one bot
per store backend (SQLite, a local PostgreSQL: bench/backends.py), all taking turns.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    RoomMessage,
    RoomMessageText,
    SyncResponse,
)

from bench.backends import BACKENDS, Backends
from bench.common import ms
from bot.devserver import LocalSynapse, free_port
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MatrixUser, unique_localpart


class EchoBot:
    """The baseline: what a bot minimally does to answer an encrypted command."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def create(cls, synapse: LocalSynapse, store: Path) -> EchoBot:
        localpart = unique_localpart("echo")
        user_id = synapse.register_user(localpart, "pw-echo")
        client = AsyncClient(
            synapse.url,
            user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        await client.login("pw-echo")
        await client.keys_upload()
        return cls(client)

    async def run(self) -> None:
        first = True
        while True:
            response = await self.client.sync(timeout=0 if first else 30_000)
            first = False
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(1)
                continue
            for room_id, info in response.rooms.invite.items():
                for event in info.invite_state:
                    if isinstance(event, InviteMemberEvent) and event.membership == "invite":
                        await self.client.join(room_id)
                        break
            for room_id, joined in response.rooms.join.items():
                for event in joined.timeline.events:
                    if isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
                        await self.client.room_send(
                            room_id,
                            "m.room.message",
                            {"msgtype": "m.notice", "body": "echo " + event.body},
                            ignore_unverified_devices=True,
                        )
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            await self.client.send_to_device_messages()


async def round_trips(user: MatrixUser, room_id: str, sender: str, rounds: int) -> list[float]:
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        await user.send_text(room_id, f"!hilfe runde{i}")

        def answered(message: RoomMessage, i: int = i) -> bool:
            return f"runde{i}" in message.body

        await user.wait_for_message(room_id, sender=sender, predicate=answered, timeout=30)
        samples.append(time.perf_counter() - started)
    return samples


async def measure(
    base: Path, rounds: int, databases: Sequence[str]
) -> tuple[dict[str, list[float]], list[float]]:
    """Round trips to one bot per store backend and to the echo bot, in one Synapse, taking
    turns in blocks: (samples per backend, echo samples)."""
    synapse = LocalSynapse(base / "synapse", free_port())
    synapse.start()
    # One user sends hundreds of commands in a row: the bot's per-person limits are
    # off, as the echo bot has none (bench/flood.py measures them).
    quiet = {"operations": {"log_level": "WARNING"}, "bot": {"limits": {"enabled": False}}}
    bots: dict[str, BotProcess] = {}
    backends = Backends()
    try:
        for database in databases:
            config = {**quiet, **backends.storage(database, "latency")}
            bots[database] = BotProcess(synapse, base / f"bot-{database}", config=config)
            await bots[database].start_and_wait()
        (base / "echo").mkdir()
        echo = await EchoBot.create(synapse, base / "echo")
        echo.task = asyncio.create_task(echo.run())
        user = await MatrixUser.create(synapse, unique_localpart("bench"), base)
        # (room, answering user) per target; the echo bot last.
        targets: dict[str, tuple[str, str]] = {}
        for database, bot in bots.items():
            room = await user.open_dm(bot.user_id)
            await user.wait_for_message(room, sender=bot.user_id, timeout=30)
            targets[database] = (room, bot.user_id)
        echo_id = str(echo.client.user_id)
        targets["echo"] = (await user.open_dm(echo_id), echo_id)
        await asyncio.sleep(2)
        # Warm up every path (olm sessions, room keys), then take turns in blocks so
        # machine noise hits all alike.
        for room, sender in targets.values():
            await round_trips(user, room, sender, 5)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        block = 20
        for _ in range(rounds // block):
            for name, (room, sender) in targets.items():
                samples[name] += await round_trips(user, room, sender, block)
        await user.close()
        echo.task.cancel()
        await echo.client.close()
        echo_samples = samples.pop("echo")
        return samples, echo_samples
    finally:
        for bot in bots.values():
            bot.stop()
        backends.close()
        synapse.stop()
        synapse.remove_database()


async def main(rounds: int, databases: Sequence[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot_samples, echo_samples = await measure(Path(tmp), rounds, databases)
    e50, e95 = ms(echo_samples, 50), ms(echo_samples, 95)
    print("| store | round trips | bot p50 | bot p95 | echo p50 | echo p95 | p50 ratio |")
    print("|---|---|---|---|---|---|---|")
    for database, samples in bot_samples.items():
        b50, b95 = ms(samples, 50), ms(samples, 95)
        print(
            f"| {database} | {len(samples)} | {b50:.1f} ms | {b95:.1f} ms | {e50:.1f} ms "
            f"| {e95:.1f} ms | {b50 / e50:.2f}× |"
        )
    means = ", ".join(
        f"{database} {statistics.mean(samples) * 1000:.1f} ms"
        for database, samples in bot_samples.items()
    )
    print(f"(mean bot: {means}; mean echo {statistics.mean(echo_samples) * 1000:.1f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--database",
        choices=BACKENDS,
        action="append",
        help="the bot's store; given twice, one bot per store, taking turns (default sqlite)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.database or ["sqlite"]))
