"""Rooms: invites, DMs, upgrades.

A room is somebody's DM when it was recorded as theirs (an `is_direct` invite, `m.direct`,
or created by the bot) **and** its joined and invited members are exactly the bot and that
person (review finding S-04): a group room invited with `is_direct` is no DM, and a DM the
person left is forgotten and replaced by a new one before anything is sent there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, ErrorResponse, RoomCreateResponse
from nio.store.models import MegolmInboundSessions

from bot.chat.errors import SendFailure, check
from bot.chat.session import get_direct_rooms, set_direct_rooms
from bot.store.db import StoreUnavailable
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

ENCRYPTION_STATE: dict[str, Any] = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
# Marks a DM the bot created, so that one created just before a crash is found again.
DM_MARKER = "org.flurfunk.dm"
# Leaving a room the bot is not in any more is as good as leaving it.
NOT_IN_ROOM = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def localpart_of(user_id: str) -> str:
    return user_id.split(":", 1)[0].removeprefix("@")


class Strangers:
    """Who the bot does not serve: people from homeservers not on the allow-list, and
    accounts whose localpart matches `homeserver.denied_localparts` (bridge puppets,
    guests; review finding S-22)."""

    def __init__(self, allowed: list[str], denied_localparts: list[str] | tuple[str, ...] = ()):
        self.allowed = {a.lower() for a in allowed}
        self.denied = [re.compile(p) for p in denied_localparts]

    def server_denied(self, user_id: str) -> bool:
        return server_of(user_id).lower() not in self.allowed

    def localpart_denied(self, user_id: str) -> bool:
        localpart = localpart_of(user_id)
        return any(p.search(localpart) for p in self.denied)

    def __call__(self, user_id: str) -> bool:
        return self.server_denied(user_id) or self.localpart_denied(user_id)


class DirectRooms:
    """The one DM room per person, created on demand and recorded in `m.direct`."""

    def __init__(
        self, client: AsyncClient, directory: RoomDirectory, *, encrypted: bool = True
    ) -> None:
        # Whether DMs are switched to encryption before anything personal goes in (S-16;
        # `bot.encrypted_direct_chats`).
        self.encrypted = encrypted
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
        # DMs this process created (room -> monotonic time): the person shows up as invited
        # only with a later sync, so until then their absence does not mean they left.
        self._created: dict[str, float] = {}
        # DMs the bot switched encryption on in (room -> monotonic time of the last try).
        self._encrypting: dict[str, float] = {}

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
                # Without encryption where the operator said so: the person's client
                # could not read the bot's messages otherwise.
                initial_state = [ENCRYPTION_STATE, marker] if self.encrypted else [marker]
                response = check(
                    await self.client.room_create(
                        is_direct=True, invite=[user_id], initial_state=initial_state
                    )
                )
                assert isinstance(response, RoomCreateResponse)
                room_id = response.room_id
                self._created[room_id] = time.monotonic()
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

    # -- S-16: a DM is encrypted before anything personal goes into it --------------------

    async def ensure_encrypted(self, room_id: str) -> None:
        """Right after joining a DM: if the room has no `m.room.encryption`, send it."""
        if not self.encrypted:
            return
        response = await self.client.room_get_state_event(room_id, ENCRYPTION_STATE["type"])
        if isinstance(response, ErrorResponse) and response.status_code == "M_NOT_FOUND":
            await self.encrypt(room_id)

    async def encrypt(self, room_id: str, *, again_after_s: float = 30.0) -> None:
        """Switch encryption on in `room_id` (not more often than every `again_after_s`
        while nio has not seen the state event yet). A refusal raises `SendFailure`."""
        tried = self._encrypting.get(room_id)
        if tried is not None and time.monotonic() - tried < again_after_s:
            return
        self._encrypting[room_id] = time.monotonic()
        log.info("DM %s is not encrypted: switching encryption on", room_id)
        check(
            await self.client.room_put_state(
                room_id, ENCRYPTION_STATE["type"], dict(ENCRYPTION_STATE["content"])
            )
        )

    def members(self, room_id: str) -> set[str] | None:
        """Joined and invited members as nio knows them (None: a room nio does not know)."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        return set(room.users) | set(getattr(room, "invited_users", {}))

    def has_others(self, room_id: str, user_id: str) -> bool:
        """Somebody besides the bot and `user_id` is joined or invited (S-04)."""
        members = self.members(room_id)
        return members is not None and bool(members - {self.client.user_id, user_id})

    def dm_problem(self, room_id: str, user_id: str, wait_s: float) -> str | None:
        """Why `room_id` cannot take a message for `user_id` as their DM: "others" (a group
        room), "left" (the person is neither joined nor invited any more; a DM created
        less than `wait_s` ago may not show the invite yet), else None."""
        if self.has_others(room_id, user_id):
            return "others"
        members = self.members(room_id)
        if members is None or user_id in members:
            return None
        created = self._created.get(room_id)
        if created is not None and time.monotonic() - created < wait_s:
            return None
        return "left"

    async def drop(self, user_id: str, room_id: str, reason: str) -> None:
        """The recorded DM is none (S-04): forget it; the next `ensure` opens a new one."""
        log.info(
            "room %s is no DM with %s any more (%s); opening a new one", room_id, user_id, reason
        )
        if await self.directory.dm_room(user_id) == room_id:
            await self.directory.forget_dm(user_id)
        rooms = self._direct.get(user_id)
        if rooms is not None:
            rooms.discard(room_id)

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
        if self.has_others(room_id, sender):
            return False  # a group room, whatever the invite or `m.direct` said (S-04)
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

    def __init__(
        self,
        allowed: list[str],
        denied_localparts: list[str] | tuple[str, ...] = (),
        per_inviter: int = 5,
        window_s: float = 600,
    ) -> None:
        self.strangers = Strangers(allowed, denied_localparts)
        self.per_inviter = per_inviter
        self.window_s = window_s
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    def decide(self, inviter: str, now: float | None = None) -> InviteDecision:
        if self.strangers.server_denied(inviter):
            return InviteDecision(False, "homeserver not allowed")
        if self.strangers.localpart_denied(inviter):
            return InviteDecision(False, "localpart denied")
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


async def leave_for_good(client: AsyncClient, room_id: str) -> None:
    """Leave `room_id` and forget it: a left room would otherwise still come with every
    sync and stay in nio's memory, and its megolm sessions in the crypto store.

    A refused leave raises `SendFailure`, except when the bot is out of the room already:
    so a caller that tries again after a connection error on the forget gets to the forget
    again. A refused forget is logged; the room is left all the same."""
    try:
        check(await client.room_leave(room_id))
    except SendFailure as failure:
        if failure.errcode not in NOT_IN_ROOM:
            raise
    try:
        check(await client.room_forget(room_id))
    except SendFailure as failure:
        log.info("could not forget %s: %s", room_id, failure.errcode)
        client.rooms.pop(room_id, None)
    _forget_room_keys(client, room_id)


def _forget_room_keys(client: AsyncClient, room_id: str) -> None:
    """Drop the room's megolm sessions: nio loads every stored session into memory at each
    start, so a year of left rooms would still weigh on memory and start-up. The bot never
    reads the room again."""
    olm, store = client.olm, client.store
    if olm is not None:
        olm.outbound_group_sessions.pop(room_id, None)
        olm.inbound_group_store._entries.pop(room_id, None)  # nio has no removal API
    if store is not None:
        with store.database.bind_ctx(store.models):
            query = MegolmInboundSessions.delete()
            query.where(MegolmInboundSessions.room_id == room_id).execute()
