# The waits take a `timeout=` argument on purpose: tests read better with it than with
# `async with asyncio.timeout(...)` around every call.
# ruff: noqa: ASYNC109
"""The receiving half of a test Matrix user (`MatrixUser`, matrix_user.py): a matrix-nio
client with its own E2EE store, logged in against the test Synapse, whose background sync
loop collects every timeline event (decrypted where it can, again once a late room key
arrives) and every invitation, and the waits on what it collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MegolmEvent,
    RoomMemberEvent,
    RoomMessage,
    SyncResponse,
)
from nio.events import Event

from bot.devserver import LocalSynapse

log = logging.getLogger(__name__)

T = TypeVar("T")

# A larger timeline limit than the default 10, so no event is lost to a `limited` sync
# when a test makes the bot post a burst of messages.
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}


class MatrixError(AssertionError):
    """The homeserver refused something the test asked for."""


class SyncedUser:
    """A logged-in test user whose sync loop runs in the background; `MatrixUser` adds what
    the user does."""

    def __init__(self, client: AsyncClient, synapse: LocalSynapse, *, accept_invites: bool):
        self.client = client
        self.synapse = synapse
        self.accept_invites = accept_invites
        # Every timeline event seen per room, in order; decrypted where possible.
        self.events: dict[str, list[Event]] = {}
        # Room IDs we were invited to, in arrival order.
        self.invites: list[str] = []
        self._consumed: set[str] = set()
        self._invites_taken = 0
        self._progress = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self.sync_timeout_ms = 10_000

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @classmethod
    async def create(
        cls,
        synapse: LocalSynapse,
        localpart: str,
        tmp_path: Path,
        *,
        accept_invites: bool = True,
        displayname: str | None = None,
        start: bool = True,
    ) -> Self:
        """Register (idempotent), log in a new device, upload its keys, do a first sync."""
        password = f"pw-{localpart}"
        user_id = await asyncio.to_thread(
            synapse.register_user, localpart, password, displayname=displayname
        )
        store = tmp_path / f"nio-{localpart}-{uuid.uuid4().hex[:6]}"
        store.mkdir(parents=True)
        config = AsyncClientConfig(
            store_sync_tokens=True,
            encryption_enabled=True,
            # nio retries connection errors forever with backoff up to 60 s by default;
            # keep the pauses short so a test notices a restarted homeserver quickly.
            max_timeout_retry_wait_time=1.0,
        )
        client = AsyncClient(synapse.url, user_id, store_path=str(store), config=config)
        login = await client.login(password, device_name=f"test {localpart}")
        if not isinstance(login, LoginResponse):
            await client.close()
            raise MatrixError(f"login of {user_id} failed: {login}")
        user = cls(client, synapse, accept_invites=accept_invites)
        # Device keys and one-time keys must be on the server before anyone shares a room
        # key with us: a sender that finds no device for us skips us for that session.
        await user._sync_once(timeout_ms=0)
        if start:
            user.start()
        return user

    # -- sync ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.create_task(self._sync_loop(), name=f"sync {self.user_id}")

    async def stop(self) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        await self.stop()
        await self.client.close()

    async def _sync_loop(self) -> None:
        while True:
            try:
                await self._sync_once(self.sync_timeout_ms)
            except asyncio.CancelledError:
                raise
            except Exception:  # the homeserver may be down on purpose; keep going
                log.exception("sync of %s failed", self.user_id)
                await asyncio.sleep(0.5)

    async def _sync_once(self, timeout_ms: int) -> None:
        response = await self.client.sync(timeout=timeout_ms, sync_filter=SYNC_FILTER)
        if not isinstance(response, SyncResponse):
            log.warning("sync of %s: %s", self.user_id, response)
            await asyncio.sleep(0.5)
            return
        for room_id, info in response.rooms.join.items():
            # nio has already replaced what it could decrypt.
            self.events.setdefault(room_id, []).extend(info.timeline.events)
        for room_id, invite in response.rooms.invite.items():
            if room_id not in self.invites and any(
                isinstance(e, InviteMemberEvent)
                and e.membership == "invite"
                and e.state_key == self.user_id
                for e in invite.invite_state
            ):
                self.invites.append(room_id)
                if self.accept_invites:
                    joined = await self.client.join(room_id)
                    if isinstance(joined, JoinError):
                        log.warning("%s could not join %s: %s", self.user_id, room_id, joined)
        await crypto_housekeeping(self.client)
        self._retry_decryption()
        # Wake everyone waiting in _wait_until.
        self._progress.set()
        self._progress = asyncio.Event()

    def _retry_decryption(self) -> None:
        # nio decrypts a timeline event once, when it arrives. If the room key comes in a
        # later sync (to-device and timeline are not ordered), try again.
        for events in self.events.values():
            for index, event in enumerate(events):
                if isinstance(event, MegolmEvent):
                    with contextlib.suppress(Exception):
                        events[index] = self.client.decrypt_event(event)

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._sync_task is not None and self._sync_task.done():
                self._sync_task.result()  # re-raise why the loop died
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.user_id}: no {what} within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    # -- rooms ---------------------------------------------------------------------------

    async def wait_for_room(
        self,
        room_id: str,
        *,
        encrypted: bool = False,
        timeout: float = 10.0,
        member: str | None = None,
    ) -> str:
        """Wait until the sync loop knows the joined room (its encryption, a member). A
        member who already left counts too: whoever refuses an invitation at once may be gone
        before our first sync of the room shows them, and then nio never lists them."""

        def synced() -> str | None:
            room = self.client.rooms.get(room_id)
            ready = (
                room is not None
                and (room.encrypted or not encrypted)
                and (member is None or member in room.users or self._left(room_id, member))
            )
            return room_id if ready else None

        return await self._wait_until(synced, timeout, f"synced room {room_id}")

    def _left(self, room_id: str, user_id: str) -> bool:
        """Whether the room's timeline shows `user_id` leaving (or banned)."""
        return any(
            isinstance(e, RoomMemberEvent)
            and e.state_key == user_id
            and e.membership in ("leave", "ban")
            for e in self.events.get(room_id, [])
        )

    async def wait_for_invite(self, *, timeout: float = 10.0) -> str:
        """The next room we are invited to (joined already when ``accept_invites``)."""

        def next_invite() -> str | None:
            if len(self.invites) <= self._invites_taken:
                return None
            room_id = self.invites[self._invites_taken]
            if self.accept_invites and room_id not in self.client.rooms:
                return None
            self._invites_taken += 1
            return room_id

        return await self._wait_until(next_invite, timeout, "invite")

    # -- receiving -----------------------------------------------------------------------

    def room_events(self, room_id: str) -> list[Event]:
        """All timeline events received in the room so far (including our own)."""
        return self.events.get(room_id, [])

    def messages_from(self, user_id: str, room_id: str) -> list[RoomMessage]:
        return [
            e
            for e in self.room_events(room_id)
            if isinstance(e, RoomMessage) and e.sender == user_id
        ]

    async def wait_for_message(
        self,
        room_id: str,
        predicate: Callable[[RoomMessage], bool] = lambda _: True,
        *,
        sender: str | None = None,
        timeout: float = 10.0,
    ) -> RoomMessage:
        """The first not yet returned message (decrypted) from ``sender`` (default: anyone
        but us) matching ``predicate``. Messages that arrived before the call count too."""

        def find() -> RoomMessage | None:
            for event in self.room_events(room_id):
                if (
                    isinstance(event, RoomMessage)
                    and event.event_id not in self._consumed
                    and (event.sender == sender if sender else event.sender != self.user_id)
                    and predicate(event)
                ):
                    self._consumed.add(event.event_id)
                    return event
            return None

        try:
            return await self._wait_until(find, timeout, f"matching message in {room_id}")
        except TimeoutError as error:
            undecrypted = sum(isinstance(e, MegolmEvent) for e in self.room_events(room_id))
            seen = [
                (type(e).__name__, e.sender, getattr(e, "body", None))
                for e in self.room_events(room_id)
            ]
            raise TimeoutError(f"{error}; undecryptable: {undecrypted}; seen: {seen}") from None


async def crypto_housekeeping(client: AsyncClient) -> None:
    """What nio's sync_forever does between syncs: to-device messages out, keys uploaded,
    queried and claimed as nio asks for them."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
