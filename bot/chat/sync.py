"""Our own sync loop: filter, long-poll, token saved after handlers; while the homeserver
is away only paced probes, backoff when it says "slow down" (`bot.chat.pacing`).

nio's `sync_forever` retries without pause and saves the token before handlers run;
here the token is written only once every event of a batch has been handled, so a
crash replays the batch (and `processed_events` makes the replay harmless).

Nothing but a homeserver that refuses us for good (or a graceful stop) ends the loop (S-08,
S-13): a store locked by another process for too long repeats the batch after a pause; an
invite, upgrade or undecryptable event whose handling fails (connection error, a hook's
exception) is logged and tried again after the next sync (`bot.chat.room_actions`); what
needs a write while the store is read-only is put off (`bot.chat.readonly`), across
restarts.

The back-fill of a limited timeline goes back no further than the sync position the loop
started from (its time is stored with the token), so a gap after downtime never reaches
old commands whose `processed_events` entries were pruned (S-09).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    Event,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
)

from bot.chat.configured_rooms import configured_rooms
from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import Metrics
from bot.chat.key_waits import KeyWaits
from bot.chat.pacing import SyncPacing
from bot.chat.room_actions import RoomActions
from bot.chat.rooms import DirectRooms, InviteGate
from bot.chat.session import FATAL_ERRCODES
from bot.chat.write_gate import ALWAYS_WRITABLE, WriteGate
from bot.config import SyncConfig
from bot.store.bot_state import BotState
from bot.store.db import StoreBusy, StoreUnavailable
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)


# The back-fill stops at events older than the stored sync position minus this margin
# (clocks of the bot and the homeservers, federation delays); within it, `processed_events`
# skips what was handled already.
GAP_MARGIN_MS = 10 * 60 * 1000
# A store locked by another process when the loop starts: how long to wait between tries.
STORE_BUSY_PAUSE_S = 5.0
# The sync position is stored at most this often: during a fan-out every one of the bot's
# own echoes makes a sync, and a write per sync cost as much as the deliveries' own
# bookkeeping. Safe, because a restart from an older position only replays events, and
# `processed_events` makes a replay harmless; a graceful stop stores the newest.
SAVE_POSITION_EVERY_S = 1.0


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
    readonly: WriteGate = ALWAYS_WRITABLE
    first_sync_done: asyncio.Event = field(default_factory=asyncio.Event)
    _not_before_ms: int = 0
    # When the sync request behind the current `since` token was sent (None: unknown).
    _since_at_ms: int | None = None
    _saved_at: float = 0.0
    # The newest position not stored yet: (token, when its request was sent).
    _unsaved: tuple[str, int] | None = None
    # Graceful stop: no batch after the current one; `handling` while a batch is handled.
    stopping: bool = False
    handling: bool = False

    def __post_init__(self) -> None:
        # Encrypted messages waiting for keys, also across a restart (S-10).
        self._keys = KeyWaits(self.client, self.state.db, self.metrics, self.decrypt_wait_s)
        self.actions = RoomActions(
            self.client,
            self.rooms,
            self.direct,
            self.dispatcher,
            self.invites,
            self._keys,
            self.readonly,
            configured_rooms(self.dispatcher.config),
        )
        # What read-only mode put off (also before a restart) is done through here.
        self.readonly.perform_with(self.actions.guarded)

    async def run(self) -> None:
        """Sync until `stop()`; returns then (a fatal answer raises `FatalSyncError`)."""
        pacing = SyncPacing(self.client, self.config, self.metrics)
        filter_id: str | None = None
        since, first_start = await self._start()
        first = True
        while not self.stopping:
            requested_ms = int(time.time() * 1000)
            pacing.sent()
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
                await pacing.unreachable(type(exc).__name__)
                continue
            if isinstance(response, SyncError):
                if response.status_code in FATAL_ERRCODES:
                    raise FatalSyncError(f"homeserver refused the sync: {response.status_code}")
                await pacing.refused(response)
                continue
            assert isinstance(response, SyncResponse)
            pacing.synced()
            self.handling = True
            try:
                await self.actions.retry_failed()
                await self._process(response, skip_timeline=first and first_start)
                await self._check_crisis_room()
                await self._crypto_housekeeping()
            except StoreBusy:
                # Another process held the store's lock for too long: the same batch again
                # after a pause; what was handled of it is marked processed.
                await pacing.failed("store busy")
                continue
            except Exception:
                # Whatever else broke in handling the batch: never the end of the bot; the
                # same batch again after a pause (handled events are skipped then).
                log.exception("handling a sync batch failed")
                await pacing.failed("batch failed")
                continue
            finally:
                self.handling = False
            since, self._since_at_ms = response.next_batch, requested_ms
            self._unsaved = (since, requested_ms)
            if first or time.monotonic() - self._saved_at >= SAVE_POSITION_EVERY_S:
                await self.save_position()
            await pacing.handled(response)
            if first:
                first = False
                self.first_sync_done.set()

    async def save_position(self) -> None:
        """Store the newest sync position, if it is not stored yet (also at the stop)."""
        if self._unsaved is not None:
            token, requested_ms = self._unsaved
            self._unsaved = None
            self._saved_at = time.monotonic()
            await self._save_position(token, requested_ms)

    def stop(self) -> None:
        """Take no further batch: the loop ends after the one being handled (a waiting
        long-poll is the caller's to cancel)."""
        self.stopping = True

    async def _start(self) -> tuple[str | None, bool]:
        """The stored sync position (and whether this is the very first start)."""
        while True:
            try:
                since, self._since_at_ms = await self.state.sync_position()
                first_start = since is None
                if first_start:
                    await self.state.set("first_start_ms", str(int(time.time() * 1000)))
                self._not_before_ms = int(await self.state.get("first_start_ms") or 0)
                await self._keys.load()
                return since, first_start
            except StoreBusy:
                log.warning("the store is locked by another process; trying again")
                await asyncio.sleep(STORE_BUSY_PAUSE_S)

    async def _save_position(self, token: str, requested_ms: int) -> None:
        try:
            await self.state.save_sync_position(token, requested_ms)
        except StoreUnavailable:
            # Read-only: go on from the token in memory; the first batch after the store
            # works again stores it. What was refused meanwhile is marked processed then
            # (and kept in a side file until then), so a restart from the older token
            # repeats nothing. Read-only mode tells the operators.
            pass
        except StoreBusy:
            # Every event of the batch was handled; the next batch stores its token.
            log.warning("sync position not stored (store locked); stored with the next batch")

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
            await self.actions.on_invite(room_id, info.invite_state)
        for room_id, info in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            for event in info.state:
                if isinstance(event, RoomUpgradeEvent):
                    await self.actions.upgraded(room_id, event)
            # Join rules and power levels decide whether crisis-room membership is a role
            # (S-03); state in the timeline counts too, also when the timeline is skipped.
            for event in [*info.state, *info.timeline.events]:
                self._observe_state(room_id, event)
            if skip_timeline:
                continue
            events = list(info.timeline.events)
            joined_at = self._own_join_index(events)
            if joined_at is not None:
                # Just joined: what was said before we were invited was not said to us. What
                # was said between the invite and our join was: Element creates a new DM
                # with the first message, and that message is the person's first command.
                invited_at = self._own_invite_index(events[:joined_at])
                said_to_us = [] if invited_at is None else events[invited_at + 1 : joined_at]
                events = said_to_us + events[joined_at + 1 :]
            elif info.timeline.limited and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch) + events
            for event in events:
                if event.server_timestamp < self._not_before_ms:
                    continue
                await self._on_timeline_event(room, event)
            if any(self._someone_left(event) for event in [*info.state, *events]):
                await self.actions.leave_if_alone(room)

    def _someone_left(self, event: Event) -> bool:
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key != self.client.user_id
            and event.membership in ("leave", "ban")
        )

    def _observe_state(self, room_id: str, event: Event) -> None:
        source = getattr(event, "source", None) or {}
        if source.get("type") in ("m.room.join_rules", "m.room.power_levels") and (
            source.get("state_key") == ""
        ):
            content = source.get("content")
            if isinstance(content, dict):
                self.dispatcher.roles.observe(room_id, source["type"], content)

    async def _check_crisis_room(self) -> None:
        try:
            await self.dispatcher.roles.check_crisis_room()
        except StoreBusy:
            raise
        except Exception:  # read-only store, a bug: told after a later batch
            log.exception("could not tell the admin room about the crisis room")

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

    def _own_invite_index(self, events: list[Event]) -> int | None:
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if (
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.client.user_id
                and event.membership == "invite"
            ):
                return index
        return None

    async def _on_timeline_event(self, room: MatrixRoom, event: Event) -> None:
        if isinstance(event, RoomUpgradeEvent):
            await self.actions.upgraded(room.room_id, event)
        elif isinstance(event, MegolmEvent):
            await self._keys.add(room.room_id, event)
        else:
            await self.dispatcher.on_event(room, event)

    async def _fill_gap(self, room_id: str, token: str) -> list[Event]:
        """Events that arrived while we were away and did not fit into the timeline: back
        to the first one already handled, our own join, or the sync position we started
        from, whichever comes first."""
        floor_ms = None if self._since_at_ms is None else self._since_at_ms - GAP_MARGIN_MS
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
                    (floor_ms is not None and event.server_timestamp < floor_ms)
                    or await self.dispatcher.processed.seen(event.event_id)
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

    async def _retry_decryption(self) -> None:
        readable, expired = self._keys.check()
        for room, event in readable:
            await self.dispatcher.on_event(room, event)
            await self._keys.done(event.event_id)
        for room_id, event in expired:
            await self.actions.guarded(
                f"undecryptable:{event['event_id']}",
                "undecryptable",
                {"room_id": room_id, "event": event},
            )
