# ruff: noqa: ASYNC109
"""The server side of the hardening tests: one Synapse admin, raw HTTP, no syncing clients.

Fault tests count what the homeserver *stored* (rooms, invites, events sent by the bot),
not what a client happened to receive: with a hundred people in a coffee round, a
hundred syncing matrix-nio clients would dominate the test's run time. Messages to the
bot come from unencrypted DMs driven through the client-server API with an access token;
the bot treats them like any other DM. Encrypted events are counted, not read.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bot.devserver import LocalSynapse


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def q(value: str) -> str:
    return quote(value, safe="")


class HttpError(AssertionError):
    def __init__(self, method: str, path: str, status: int, data: Any) -> None:
        super().__init__(f"{method} {path}: {status} {data}")
        self.status = status
        self.data = data


@dataclass
class Account:
    user_id: str
    token: str


class Homeserver:
    """A Synapse admin account and raw client-server calls for any token."""

    def __init__(self, synapse: LocalSynapse, admin: Account) -> None:
        self.synapse = synapse
        self.admin = admin
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def create(cls, synapse: LocalSynapse, prefix: str = "observer") -> Homeserver:
        localpart = unique(prefix)
        password = f"pw-{localpart}"
        user_id = await asyncio.to_thread(synapse.register_user, localpart, password, admin=True)
        server = cls(synapse, Account(user_id, ""))
        server.admin = await server.login(localpart, password)
        return server

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._session

    # -- raw HTTP ------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        ok: Iterable[int] = (200,),
    ) -> Any:
        # token None: the admin's; "": none (login).
        token = self.admin.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.synapse.url + path, json=body, headers=headers
        ) as response:
            data = await response.json(content_type=None)
            if response.status not in ok:
                raise HttpError(method, path, response.status, data)
            return data

    async def call_paced(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """`call`, waiting out 429s (for the server with default rate limits)."""
        while True:
            try:
                return await self.call(method, path, body, **kwargs)
            except HttpError as error:
                if error.status != 429:
                    raise
                await asyncio.sleep(error.data.get("retry_after_ms", 1000) / 1000 + 0.1)

    async def login(self, localpart: str, password: str) -> Account:
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        data = await self.call_paced("POST", "/_matrix/client/v3/login", body, token="")
        return Account(data["user_id"], data["access_token"])

    # -- people --------------------------------------------------------------------------

    def register_many(self, prefix: str, count: int) -> list[str]:
        """`count` fresh users (no device, no login), registered in parallel."""
        names = [unique(f"{prefix}{i:03d}") for i in range(count)]
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda n: self.synapse.register_user(n, f"pw-{n}"), names))

    async def puppet(self, user_id: str) -> Account:
        """An access token for `user_id` without a login (no login rate limit)."""
        data = await self.call_paced(
            "POST", f"/_synapse/admin/v1/users/{q(user_id)}/login", {}, ok=(200,)
        )
        return Account(user_id, data["access_token"])

    async def force_join(self, user_id: str, room_id: str) -> None:
        """Join `user_id` (local) to `room_id` without the join rate limit."""
        await self.call("POST", f"/_synapse/admin/v1/join/{q(room_id)}", {"user_id": user_id})

    # -- rooms as the admin sees them ----------------------------------------------------

    async def rooms_created_by(self, creator: str) -> list[str]:
        rooms: list[str] = []
        start = 0
        while True:
            data = await self.call("GET", f"/_synapse/admin/v1/rooms?limit=500&from={start}")
            rooms += [r["room_id"] for r in data["rooms"] if r.get("creator") == creator]
            if "next_batch" not in data:
                return rooms
            start = int(data["next_batch"])

    async def rooms_with_members(self, creator: str) -> dict[str, list[str]]:
        """Member -> the rooms `creator` made that they are in (without the creator)."""
        rooms_of: dict[str, list[str]] = defaultdict(list)
        for room_id in await self.rooms_created_by(creator):
            for event in await self.state(room_id):
                if event["type"] == "m.room.member" and event["state_key"] != creator:
                    rooms_of[event["state_key"]].append(room_id)
        return rooms_of

    async def state(self, room_id: str) -> list[dict[str, Any]]:
        data = await self.call("GET", f"/_synapse/admin/v1/rooms/{q(room_id)}/state")
        return list(data["state"])

    async def events(self, room_id: str) -> list[dict[str, Any]]:
        """Every event of the room, oldest first (the admin API needs no membership)."""
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            path = f"/_synapse/admin/v1/rooms/{q(room_id)}/messages?dir=f&limit=500"
            if token:
                path += f"&from={q(token)}"
            data = await self.call("GET", path)
            found += data.get("chunk", [])
            end = data.get("end")
            if not data.get("chunk") or not end or end == token:
                return found
            token = end

    async def sent_by(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        """Messages and reactions `sender` put into the room (encrypted or not)."""
        kinds = {"m.room.message", "m.room.encrypted", "m.reaction"}
        return [
            e for e in await self.events(room_id) if e["sender"] == sender and e["type"] in kinds
        ]

    # -- talking to the bot like a client would (unencrypted) ----------------------------

    async def open_dm(self, who: Account, bot_id: str) -> str:
        body = {"is_direct": True, "invite": [bot_id], "preset": "trusted_private_chat"}
        data = await self.call_paced("POST", "/_matrix/client/v3/createRoom", body, token=who.token)
        return str(data["room_id"])

    async def send_text(self, who: Account, room_id: str, text: str) -> str:
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/{uuid.uuid4().hex}"
        body = {"msgtype": "m.text", "body": text}
        data = await self.call_paced("PUT", path, body, token=who.token)
        return str(data["event_id"])

    async def messages(self, who: Account, room_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The room's latest events as `who` sees them, oldest first."""
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/messages?dir=b&limit={limit}"
        data = await self.call("GET", path, token=who.token)
        return list(reversed(data["chunk"]))

    async def bodies_from(self, who: Account, room_id: str, sender: str) -> list[str]:
        return [
            str(e["content"].get("body", ""))
            for e in await self.messages(who, room_id)
            if e["type"] == "m.room.message" and e["sender"] == sender
        ]

    async def wait_for_body(
        self,
        who: Account,
        room_id: str,
        sender: str,
        predicate: Callable[[str], bool],
        *,
        timeout: float = 60.0,
        count: int = 1,
    ) -> list[str]:
        """At least `count` messages from `sender` in the room matching `predicate`."""
        found: list[str] = []

        async def ready() -> bool:
            nonlocal found
            found = [b for b in await self.bodies_from(who, room_id, sender) if predicate(b)]
            return len(found) >= count

        await until(ready, timeout, f"{count} matching message(s) from {sender} in {room_id}")
        return found


async def until(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.3,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture(name="bot_config_overrides")
def unencrypted_dms() -> dict[str, Any]:
    """`bot_config_overrides` for suites that talk to the bot through this module: these
    plain-HTTP clients cannot decrypt, so the DMs stay as they open them. Crash and replay
    semantics do not depend on encryption; tests/integration runs everything through
    encrypting clients. A suite's conftest imports it to override the default."""
    return {"bot": {"encrypted_direct_chats": False}}
