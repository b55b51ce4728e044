"""The bot's chat side as the room retirement suites (tests/integration/test_room_retirement*)
run it against the real Synapse: its store, outbox sender, messenger, the sync loop's
leave-if-alone rule and `RoomRetirement` as the app wires them, with the bot's account
behind a real nio client; and a stored coffee pair whose purpose room it opens.

    bot = await RetirementBot.start(synapse, unique_localpart("flurfunk"), tmp_path, db)
    await coffee_pair(db, [alice.user_id, bob.user_id])
    await bot.messenger.open_room(KEY, ...)
    await bot.retirement.run()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.chat.health import Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.room_retirement import RoomRetirement
from bot.chat.rooms import DirectRooms, InviteGate
from bot.chat.sender import OutboxSender
from bot.chat.sync import SyncLoop
from bot.config import Config, parse_config
from bot.devserver import LocalSynapse
from bot.store.bot_state import BotState
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import NewGroup, NewMember
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory
from tests.support.matrix_user import MatrixUser

DAY_S = 86_400.0
# The purpose key of the pair `coffee_pair` stores; its intro and follow-up effects hang off it.
KEY = "coffee:2026-W01/0"


def bot_config(synapse: LocalSynapse, user_id: str) -> Config:
    return parse_config(
        {
            "homeserver": {
                "url": synapse.url,
                "user_id": user_id,
                "password": "unused",
                "allowed_homeservers": [user_id.split(":", 1)[1]],
            },
            "bot": {"encrypted_direct_chats": False},
        },
        "room retirement test",
        environ={},
    )


@dataclass
class RetirementBot:
    """One run of the bot's chat side on a store that outlives it. A "restart" is `stop()`
    and a new `start()` on the same store, which logs in again as a new process would."""

    user: MatrixUser
    config: Config
    outbox: Outbox
    directory: RoomDirectory
    messenger: ChatMessenger
    retirement: RoomRetirement
    sender_task: asyncio.Task[None]

    @classmethod
    async def start(
        cls,
        synapse: LocalSynapse,
        localpart: str,
        tmp_path: Path,
        db: Database,
        clock: Callable[[], float] = time.time,
    ) -> RetirementBot:
        user = await MatrixUser.create(synapse, localpart, tmp_path, accept_invites=False)
        config = bot_config(synapse, user.user_id)
        client = user.client
        outbox, directory = Outbox(db), RoomDirectory(db)
        direct = DirectRooms(client, directory, encrypted=False)
        sender = OutboxSender(client, outbox, directory, direct, config.outbox, Metrics())

        async def german(_: str) -> Any:
            return None

        messenger = ChatMessenger(outbox, german, "de", sender.wake)
        sync = SyncLoop(
            client=client,
            config=config.sync,
            state=BotState(db),
            rooms=directory,
            direct=direct,
            dispatcher=SimpleNamespace(config=config),  # type: ignore[arg-type]
            invites=InviteGate(config.homeserver.allowed_homeservers, []),
            metrics=Metrics(),
            decrypt_wait_s=0.0,
        )
        retirement = RoomRetirement(
            client,
            directory,
            outbox,
            config,
            leave_if_alone=sync.actions.leave_if_alone,
            clock=clock,
        )
        task = asyncio.create_task(sender.run())
        return cls(user, config, outbox, directory, messenger, retirement, task)

    async def stop(self) -> None:
        self.sender_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sender_task
        await self.user.close()

    async def joined_rooms(self) -> set[str]:
        response = await self.user.client.joined_rooms()
        return set(response.rooms)

    async def settled(self, within_s: float = 30.0) -> None:
        """Until the outbox has nothing pending."""
        deadline = time.monotonic() + within_s
        while (await self.outbox.backlog())[0]:
            assert time.monotonic() < deadline, "outbox still pending"
            await asyncio.sleep(0.2)


async def coffee_pair(db: Database, people: list[str], due: float | None = None) -> int:
    """A stored coffee round with one pair under `KEY` whose follow-up is due then (default:
    now); the group's id."""
    store = CoffeeStore(db)
    round_row = await store.insert_round(
        "coffee",
        "coffee:2026-W01",
        trigger="schedule",
        started_at=time.time(),
        people=2,
        groups=1,
        unmatched=0,
    )
    assert round_row is not None
    members = tuple(NewMember(p, "Amt", "Stadt") for p in people)
    due = time.time() if due is None else due
    group = NewGroup(0, "pair", members, KEY, f"{KEY}:intro", f"{KEY}:followup", due)
    await store.insert_groups(round_row.id, [group], time.time())
    [row] = await store.groups_of_round(round_row.id)
    return row.id
