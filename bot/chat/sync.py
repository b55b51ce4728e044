"""Our own sync loop: filter, long-poll, backoff with jitter, token saved after handlers.

nio's `sync_forever` retries without pause and saves the token before handlers run;
here the token is written only once every event of a batch has been handled, so a
crash replays the batch (and `processed_events` makes the replay harmless).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from nio import (
    AsyncClient,
    Event,
    InviteMemberEvent,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
)
from nio.exceptions import EncryptionError

from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import Metrics
from bot.chat.rooms import DirectRooms, InviteGate, join_or_log
from bot.chat.session import FATAL_ERRCODES
from bot.config import SyncConfig
from bot.store.bot_state import BotState
from bot.store.db import StoreUnavailable
from bot.store.rooms import RoomDirectory

if TYPE_CHECKING:
    from bot.chat.readonly import ReadOnlyMode

log = logging.getLogger(__name__)


class FatalSyncError(RuntimeError):
    """The homeserver refuses us for good (token revoked, account locked)."""


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {
        "presence": {"types": []},
        "account_data": {"types": ["m.direct"]},
        "room": {
            # Members are needed in full: crisis-room membership is a role, and
            # encryption keys must reach every member.
            "state": {"lazy_load_members": False},
            "timeline": {"limit": timeline_limit},
            "ephemeral": {"types": []},
        },
    }


class Backoff:
    """Exponential backoff with jitter, never below the initial delay."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.max_s, self.initial_s * 2 ** (self.failures - 1))
        return random.uniform(max(self.initial_s, ceiling / 2), max(self.initial_s, ceiling))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class PendingDecryption:
    room_id: str
    event: MegolmEvent
    give_up_at: float


@dataclass
class SyncLoop:
    client: AsyncClient
    config: SyncConfig
    state: BotState
    rooms: RoomDirectory
    direct: DirectRooms
    dispatcher: Dispatcher
    invites: InviteGate
    metrics: Metrics
    decrypt_wait_s: float
    # Read-only store: what needs a write is put off until writes work again.
    readonly: ReadOnlyMode | None = None
    first_sync_done: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: dict[str, PendingDecryption] = field(default_factory=dict)
    _not_before_ms: int = 0

    async def run(self) -> None:
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        filter_id: str | None = None
        since = await self.state.get("next_batch")
        first_start = since is None
        if first_start:
            await self.state.set("first_start_ms", str(int(time.time() * 1000)))
        self._not_before_ms = int(await self.state.get("first_start_ms") or 0)
        first = True
        while True:
            try:
                if filter_id is None:
                    filter_id = await self._upload_filter()
                response = await self.client.sync(
                    timeout=0 if first else self.config.timeout_ms,
                    sync_filter=filter_id,
                    since=since,
                    # nio forgets rooms on restart: get their full state once.
                    full_state=first and not first_start,
                )
            except NETWORK_ERRORS as exc:
                await self._failed(backoff, type(exc).__name__)
                continue
            if isinstance(response, SyncError):
                if response.status_code in FATAL_ERRCODES:
                    raise FatalSyncError(f"homeserver refused the sync: {response.status_code}")
                await self._failed(backoff, str(response.status_code or "error"))
                continue
            assert isinstance(response, SyncResponse)
            backoff.reset()
            self.metrics.synced()
            await self._process(response, skip_timeline=first and first_start)
            await self._crypto_housekeeping()
            try:
                await self.state.set("next_batch", response.next_batch)
            except StoreUnavailable:
                if self.readonly is None:
                    raise
                # Read-only: go on from the token in memory; the first batch after the
                # store works again stores it. What was refused meanwhile is marked
                # processed then, so a restart from the older token repeats nothing.
            since = response.next_batch
            if first:
                first = False
                self.first_sync_done.set()

    async def _failed(self, backoff: Backoff, reason: str) -> None:
        self.metrics.sync_errors.labels(reason).inc()
        delay = backoff.next_delay()
        log.warning("sync failed (%s), next attempt in %.1fs", reason, delay)
        await asyncio.sleep(delay)

    async def _upload_filter(self) -> str | None:
        response = await self.client.upload_filter(**sync_filter(self.config.timeline_limit))
        return getattr(response, "filter_id", None)

    async def _crypto_housekeeping(self) -> None:
        try:
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
            await self.client.send_to_device_messages()
        except NETWORK_ERRORS as exc:
            log.info("key maintenance postponed: %s", type(exc).__name__)
        await self._retry_decryption()

    async def _process(self, response: SyncResponse, *, skip_timeline: bool) -> None:
        for room_id, info in response.rooms.invite.items():
            await self._guarded(
                f"invite:{room_id}", partial(self._on_invite, room_id, info.invite_state)
            )
        for room_id, info in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            for event in info.state:
                if isinstance(event, RoomUpgradeEvent):
                    await self._guarded(
                        f"upgrade:{room_id}", partial(self._follow_upgrade, room_id, event)
                    )
            if skip_timeline:
                continue
            events = list(info.timeline.events)
            joined_at = self._own_join_index(events)
            if joined_at is not None:
                # Just joined: what was said before we came in was not said to us.
                events = events[joined_at + 1 :]
            elif info.timeline.limited and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch) + events
            for event in events:
                if event.server_timestamp < self._not_before_ms:
                    continue
                await self._on_timeline_event(room, event)

    async def _guarded(self, key: str, action: Callable[[], Awaitable[object]]) -> None:
        try:
            await action()
        except StoreUnavailable:
            if self.readonly is None:
                raise
            self.readonly.defer(key, action)

    def _own_join_index(self, events: list[Event]) -> int | None:
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if (
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.client.user_id
                and event.membership == "join"
                and event.prev_membership != "join"
            ):
                return index
        return None

    async def _on_timeline_event(self, room: MatrixRoom, event: Event) -> None:
        if isinstance(event, RoomUpgradeEvent):
            await self._guarded(
                f"upgrade:{room.room_id}", partial(self._follow_upgrade, room.room_id, event)
            )
        elif isinstance(event, MegolmEvent):
            await self._undecrypted(room.room_id, event)
        else:
            await self.dispatcher.on_event(room, event)

    async def _fill_gap(self, room_id: str, token: str) -> list[Event]:
        """Events that arrived while we were away and did not fit into the timeline."""
        older: list[Event] = []
        while token and len(older) < self.config.backlog_limit:
            try:
                page = await self.client.room_messages(
                    room_id, start=token, direction=MessageDirection.back, limit=100
                )
            except NETWORK_ERRORS:
                break
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            reached_known = False
            for event in page.chunk:
                if (
                    await self.dispatcher.processed.seen(event.event_id)
                    or self._own_join_index([event]) is not None
                ):
                    reached_known = True
                    break
                older.append(event)
            if reached_known or not page.end or page.end == token:
                break
            token = page.end
        older.reverse()
        return older

    async def _undecrypted(self, room_id: str, event: MegolmEvent) -> None:
        if event.event_id in self._pending:
            return
        self.metrics.decrypt_failures.labels("no").inc()
        self._pending[event.event_id] = PendingDecryption(
            room_id, event, time.monotonic() + self.decrypt_wait_s
        )
        try:
            await self.client.request_room_key(event)
        except Exception as exc:  # already requested, or offline: retrying is enough
            log.debug("room key request for %s: %s", event.session_id, exc)

    async def _retry_decryption(self) -> None:
        now = time.monotonic()
        for event_id, pending in list(self._pending.items()):
            room = self.client.rooms.get(pending.room_id)
            try:
                decrypted = self.client.decrypt_event(pending.event)
            except EncryptionError:
                decrypted = None
            if decrypted is not None and room is not None:
                del self._pending[event_id]
                await self.dispatcher.on_event(room, decrypted)
            elif now >= pending.give_up_at:
                del self._pending[event_id]
                self.metrics.decrypt_failures.labels("yes").inc()
                await self._guarded(
                    f"undecryptable:{event_id}",
                    partial(self.dispatcher.on_undecryptable, pending.room_id, pending.event),
                )

    async def _on_invite(self, room_id: str, invite_state: list[Event]) -> None:
        me = self.client.user_id
        for event in invite_state:
            if not isinstance(event, InviteMemberEvent):
                continue
            if event.state_key != me or event.membership != "invite":
                continue
            decision = self.invites.decide(event.sender)
            if not decision.accept:
                log.info("rejecting invite to %s: %s", room_id, decision.reason)
                await self.client.room_leave(room_id)
                return
            if not await join_or_log(self.client, room_id):
                return
            if event.content.get("is_direct"):
                await self.direct.remember(event.sender, room_id)
                await self.dispatcher.on_dm_joined(room_id, event.sender)
            return

    async def _follow_upgrade(self, room_id: str, event: RoomUpgradeEvent) -> None:
        new_room = event.replacement_room
        if not new_room or await self.state.get(f"upgraded:{room_id}") == new_room:
            return
        log.info("room %s was upgraded to %s, following", room_id, new_room)
        if await join_or_log(self.client, new_room):
            await self.rooms.replace_room(room_id, new_room)
            await self.state.set(f"upgraded:{room_id}", new_room)
