"""A fake homeserver for the chat layer: the real `SyncLoop`, `OutboxSender` and
`DirectRooms` run against it in process, with nio's own `MatrixRoom` and scripted sync
responses (tests/services: resilience, DM membership and encryption, undecryptable
events, crisis room safety, strangers).

    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.script = [sync_response("s1", invite={room: dm_invite(person)})]
        async with running(sync_loop(bot, home), home):
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from nio import (
    Event,
    JoinResponse,
    MatrixRoom,
    MessageDirection,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
)

from bot.chat.health import Metrics
from bot.chat.rooms import InviteGate
from bot.chat.sender import OutboxSender
from bot.chat.sync import SyncLoop
from bot.chat.write_gate import ALWAYS_WRITABLE, WriteGate
from bot.config import Config
from bot.store.bot_state import BotState
from bot.store.rooms import RoomDirectory
from tests.support.config import BOT
from tests.support.fakes import FakeHttpResponse
from tests.support.harness import FakeClient, Harness, harness_config

Scripted = dict[str, Any] | Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Homeserver(FakeClient):
    """The harness's fake nio client plus what the sync loop, `DirectRooms`, the sender and
    read-only mode call. `script` holds the sync responses in order (a dict, or a coroutine
    function returning one); once it is used up, `idle` is set and `sync` waits forever.
    `fail` says how often a call raises a connection error: "join", "m.direct PUT"."""

    script: list[Scripted] = field(default_factory=list)
    since: list[str | None] = field(default_factory=list)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    pages: dict[str, tuple[list[dict[str, Any]], str | None]] = field(default_factory=dict)
    direct: dict[str, list[str]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    joined: list[str] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    access_token: str = "token"
    should_upload_keys: bool = False
    should_query_keys: bool = False
    should_claim_keys: bool = False

    def add_room(self, room_id: str, *members: str) -> MatrixRoom:
        """A room as nio keeps it, the bot and `members` joined."""
        room = MatrixRoom(room_id, BOT)
        for user in (BOT, *members):
            room.add_member(user, None, None)
        self.rooms[room_id] = room
        return room

    def _failing(self, call: str) -> bool:
        if self.fail.get(call, 0) > 0:
            self.fail[call] -= 1
            return True
        return False

    async def sync(self, since: str | None = None, **kwargs: Any) -> SyncResponse:
        self.since.append(since)
        if not self.script:
            self.idle.set()
            await asyncio.Event().wait()
        item = self.script.pop(0)
        body = item if isinstance(item, dict) else await item()
        response = SyncResponse.from_dict(body)
        assert isinstance(response, SyncResponse), response
        return response

    async def upload_filter(self, **kwargs: Any) -> Any:
        return SimpleNamespace(filter_id="filter")

    async def send_to_device_messages(self) -> list[Any]:
        return []

    async def join(self, room_id: str) -> JoinResponse:
        if self._failing("join"):
            raise aiohttp.ClientConnectionError("homeserver unreachable")
        if room_id not in self.rooms:
            self.add_room(room_id)
        self.joined.append(room_id)
        return JoinResponse(room_id)

    async def room_leave(self, room_id: str) -> Any:
        return SimpleNamespace()

    async def room_get_state_event(self, room_id: str, event_type: str, *a: Any) -> Any:
        """Rooms people create here are encrypted (S-16)."""
        return RoomGetStateEventResponse(
            {"algorithm": "m.megolm.v1.aes-sha2"}, event_type, "", room_id
        )

    async def room_messages(
        self, room_id: str, start: str, direction: MessageDirection, limit: int
    ) -> RoomMessagesResponse:
        chunk, end = self.pages.get(start, ([], None))
        return RoomMessagesResponse(
            room_id,
            [Event.parse_event(e) for e in chunk],
            start,
            end,
        )

    async def send(
        self, method: str, path: str, data: str | None, headers: dict[str, str]
    ) -> FakeHttpResponse:
        assert path.endswith("/account_data/m.direct"), path
        if method == "GET":
            return FakeHttpResponse(200, dict(self.direct))
        if self._failing("m.direct PUT"):
            raise aiohttp.ClientConnectionError("homeserver unreachable")
        self.direct = json.loads(data or "{}")
        return FakeHttpResponse(200, {})

    async def room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], **kwargs: Any
    ) -> RoomSendResponse:
        self.sent.append((room_id, content, kwargs.get("tx_id")))
        return RoomSendResponse(f"$sent{len(self.sent)}", room_id)


def fast_config() -> Config:
    return harness_config(sync={"backoff_initial_s": 0.05, "backoff_max_s": 0.2})


def connect(bot: Harness) -> Homeserver:
    """A fake homeserver that shares the harness's rooms and serves its `DirectRooms`."""
    home = Homeserver(rooms=bot.client.rooms)
    bot.direct.client = home
    return home


def sync_loop(
    bot: Harness,
    home: Homeserver,
    *,
    rooms: RoomDirectory | None = None,
    readonly: WriteGate = ALWAYS_WRITABLE,
    **extra: Any,
) -> SyncLoop:
    return SyncLoop(
        client=home,
        config=bot.config.sync,
        state=BotState(bot.db),
        rooms=rooms or RoomDirectory(bot.db),
        direct=bot.direct,
        dispatcher=bot.dispatcher,
        invites=InviteGate(bot.config.homeserver.allowed_homeservers),
        metrics=Metrics(),
        decrypt_wait_s=30.0,
        readonly=readonly,
        **extra,
    )


@contextlib.asynccontextmanager
async def running(loop: SyncLoop, home: Homeserver, wait_s: float = 15) -> AsyncIterator[None]:
    """Run the loop until every scripted response was handled (it asks for the next one),
    failing if the loop ends instead; then stop it."""
    task = asyncio.create_task(loop.run())
    idle = asyncio.create_task(home.idle.wait())
    try:
        await asyncio.wait({task, idle}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what ended the loop
            pytest.fail("the sync loop ended")
        assert home.idle.is_set(), "the sync loop did not get through the script"
        yield
    finally:
        idle.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sync_response(
    next_batch: str,
    *,
    invite: dict[str, Any] | None = None,
    join: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"next_batch": next_batch, "rooms": {"invite": invite or {}, "join": join or {}}}


def dm_invite(inviter: str) -> dict[str, Any]:
    member = {
        "type": "m.room.member",
        "state_key": BOT,
        "sender": inviter,
        "content": {"membership": "invite", "is_direct": True},
    }
    return {"invite_state": {"events": [member]}}


def sender_for(bot: Harness, home: Any, rooms: RoomDirectory | None = None) -> OutboxSender:
    """The real outbox sender over the harness's outbox and DMs, delivering to `home`."""
    return OutboxSender(
        home,
        bot.outbox,
        rooms or RoomDirectory(bot.db),
        bot.direct,
        bot.config.outbox,
        Metrics(),
    )
