"""Rooms: invites, DMs (via `is_direct` and `m.direct`, never by member count), upgrades."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from nio import AsyncClient, ErrorResponse, RoomCreateResponse

from bot.chat.errors import check
from bot.chat.session import get_direct_rooms, set_direct_rooms
from bot.store.db import StoreUnavailable
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
# Marks a DM the bot created, so that one created just before a crash is found again.
DM_MARKER = "org.flurfunk.dm"


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


class DirectRooms:
    """The one DM room per person, created on demand and recorded in `m.direct`."""

    def __init__(self, client: AsyncClient, directory: RoomDirectory) -> None:
        self.client = client
        self.directory = directory
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # `m.direct` as the bot last wrote or read it: user -> DM rooms. Unlike our own
        # record it survives `!vergessen` in memory (until a restart), so the old DM is
        # still recognised as one; the account data itself no longer lists the person.
        self._direct: dict[str, set[str]] = {}
        # Read-modify-write of the `m.direct` account data, one at a time.
        self._account_data = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Read `m.direct` once at start."""
        direct = await get_direct_rooms(self.client)
        self._direct = {user: set(rooms) for user, rooms in direct.items()}

    async def ensure(self, user_id: str) -> str:
        async with self._locks[user_id]:
            room_id = await self.directory.dm_room(user_id)
            if room_id is not None:
                return room_id
            # A crash between creating the DM and recording it must not make a second one.
            room_id = await self._find_created(user_id)
            if room_id is None:
                marker = {"type": DM_MARKER, "state_key": "", "content": {"user_id": user_id}}
                response = check(
                    await self.client.room_create(
                        is_direct=True, invite=[user_id], initial_state=[ENCRYPTION_STATE, marker]
                    )
                )
                assert isinstance(response, RoomCreateResponse)
                room_id = response.room_id
            await self.remember(user_id, room_id)
            return room_id

    async def _find_created(self, user_id: str) -> str | None:
        """A DM with `user_id` the bot created but did not record (only the two in it)."""
        members = {self.client.user_id, user_id}
        for room_id, room in list(self.client.rooms.items()):
            if set(room.users) != members:
                continue
            marker = await self.client.room_get_state_event(room_id, DM_MARKER)
            if getattr(marker, "content", {}).get("user_id") == user_id:
                return room_id
        return None

    async def remember(self, user_id: str, room_id: str) -> None:
        await self.directory.set_dm_room(user_id, room_id)
        self._direct.setdefault(user_id, set()).add(room_id)
        async with self._account_data:
            direct = await get_direct_rooms(self.client)
            rooms = direct.setdefault(user_id, [])
            if room_id not in rooms:
                rooms.append(room_id)
                await set_direct_rooms(self.client, direct)

    async def forget(self, user_id: str) -> None:
        await self.directory.forget_dm(user_id)

    # -- `!vergessen`: the account data must not name the person either ------------------

    def forgotten(self, user_id: str) -> None:
        """`PrivacyService.forgotten` listener. Called at the end of forgetting, usually
        still inside the store transaction that deletes the person: the work starts on the
        next loop turn in a fresh context (not in that transaction) and first waits for the
        store, i.e. for the commit. A rolled-back forget leaves `m.direct` alone."""
        asyncio.get_running_loop().call_soon(
            self._start_unlisting, user_id, context=contextvars.Context()
        )

    def _start_unlisting(self, user_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._unlist_when_committed(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _unlist_when_committed(self, user_id: str) -> None:
        try:
            if await self.directory.dm_room(user_id) is not None:
                return  # the forgetting was rolled back, or the person is back already
            if not await self.unlist([user_id]):
                log.warning("could not update m.direct after forgetting; retried at start")
        except Exception:
            # Never fatal: the next start removes everybody the store does not know.
            log.exception("removing a forgotten person from m.direct failed")

    async def settled(self) -> None:
        """Wait until every pending `m.direct` update is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def unlist(self, user_ids: list[str]) -> bool:
        """Take these people off the bot's `m.direct` account data. True when it no longer
        lists them (or could not be read: then there is nothing to write back either)."""
        async with self._account_data:
            direct = await get_direct_rooms(self.client)
            kept = {user: rooms for user, rooms in direct.items() if user not in user_ids}
            if len(kept) == len(direct):
                return True
            return await set_direct_rooms(self.client, kept)

    async def unlist_unknown(self, known: set[str]) -> int:
        """At start: take everybody the store holds nothing about off `m.direct` (a crash
        or an unreachable homeserver right after a `!vergessen` left them listed)."""
        async with self._account_data:
            direct = await get_direct_rooms(self.client)
            kept = {user: rooms for user, rooms in direct.items() if user in known}
            if len(kept) == len(direct) or not await set_direct_rooms(self.client, kept):
                return 0
        return len(direct) - len(kept)

    async def is_dm(self, room_id: str, sender: str) -> bool:
        known = await self.directory.dm_room(sender)
        if known == room_id:
            return True
        if known is None and room_id in self._direct.get(sender, ()):
            # Our record was deleted (`!vergessen`), the DM is still there and the person
            # writes in it again: it is their DM, and replies go there.
            with contextlib.suppress(StoreUnavailable):  # read-only mode: next time
                await self.directory.set_dm_room(sender, room_id)
            return True
        return False


@dataclass(frozen=True)
class InviteDecision:
    accept: bool
    reason: str


class InviteGate:
    """Allow-list of homeservers plus a per-inviter rate limit against invite spam."""

    def __init__(self, allowed: list[str], per_inviter: int = 5, window_s: float = 600) -> None:
        self.allowed = {a.lower() for a in allowed}
        self.per_inviter = per_inviter
        self.window_s = window_s
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    def decide(self, inviter: str, now: float | None = None) -> InviteDecision:
        if server_of(inviter).lower() not in self.allowed:
            return InviteDecision(False, "homeserver not allowed")
        now = time.monotonic() if now is None else now
        recent = self._recent[inviter]
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) >= self.per_inviter:
            return InviteDecision(False, "too many invites")
        recent.append(now)
        return InviteDecision(True, "ok")


async def join_or_log(client: AsyncClient, room_id: str) -> bool:
    response = await client.join(room_id)
    if isinstance(response, ErrorResponse):
        log.warning("could not join %s: %s", room_id, response.status_code)
        return False
    return True
