"""Our own sync loop: filter, long-poll, backoff with jitter, token saved after handlers.

nio's `sync_forever` retries without pause and saves the token before handlers run;
here the token is written only once every event of a batch has been handled, so a
crash replays the batch (and `processed_events` makes the replay harmless).

Nothing but a homeserver that refuses us for good ends the loop (review findings S-08,
S-13): a store locked by another process for too long repeats the batch after a pause; an
invite, upgrade or undecryptable event whose handling fails (connection error, a hook's
exception) is logged and tried again after the next sync; what needs a write while the
store is read-only is put off (`bot.chat.readonly`), across restarts.

The back-fill of a limited timeline goes back no further than the sync position the loop
started from (its time is stored with the token), so a gap after downtime never reaches
old commands whose `processed_events` entries were pruned (S-09).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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

from bot.chat.configured_rooms import configured_rooms, warn_about_upgraded_config
from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import Metrics
from bot.chat.key_waits import KeyWaits
from bot.chat.rooms import DirectRooms, InviteGate, join_or_log
from bot.chat.session import FATAL_ERRCODES
from bot.config import SyncConfig
from bot.store.bot_state import BotState
from bot.store.db import StoreBusy, StoreUnavailable
from bot.store.rooms import RoomDirectory

if TYPE_CHECKING:
    from bot.chat.readonly import ReadOnlyMode

log = logging.getLogger(__name__)


# The back-fill stops at events older than the stored sync position minus this margin
# (clocks of the bot and the homeservers, federation delays); within it, `processed_events`
# skips what was handled already.
GAP_MARGIN_MS = 10 * 60 * 1000
# An invite, upgrade or undecryptable event whose handling failed is tried again after
# each sync, at most this often.
RETRY_ATTEMPTS = 10
# A store locked by another process when the loop starts: how long to wait between tries.
STORE_BUSY_PAUSE_S = 5.0

Action = Callable[..., Awaitable[object]]


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
    # Rooms named in the config (`configured_rooms`): an upgrade of one is logged as a
    # warning, the config should name the new room.
    configured_rooms: dict[str, list[str]] = field(default_factory=dict)
    first_sync_done: asyncio.Event = field(default_factory=asyncio.Event)
    _not_before_ms: int = 0
    # When the sync request behind the current `since` token was sent (None: unknown).
    _since_at_ms: int | None = None
    # Failed actions to try again after the next sync: key -> (kind, args, attempts).
    _retries: dict[str, tuple[str, dict[str, Any], int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Encrypted messages waiting for keys, also across a restart (S-10).
        self._keys = KeyWaits(self.client, self.state.db, self.metrics, self.decrypt_wait_s)
        if self.readonly is not None:
            # What read-only mode put off (also before a restart) is done through here.
            self.readonly.perform = self._guarded

    def _actions(self) -> dict[str, Action]:
        """What `_guarded` can do (and put off, retry, or store across a restart), by kind;
        the arguments are plain JSON values."""
        return {
            "invite": self._accept_invite,
            "leave": self._leave,
            "alone": self._leave_alone,
            "upgrade": self._follow_upgrade,
            "undecryptable": self._give_up_decryption,
        }

    async def run(self) -> None:
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        filter_id: str | None = None
        since, first_start = await self._start()
        first = True
        while True:
            requested_ms = int(time.time() * 1000)
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
            try:
                await self._retry_failed()
                await self._process(response, skip_timeline=first and first_start)
                await self._check_crisis_room()
                await self._crypto_housekeeping()
            except StoreBusy:
                # Another process held the store's lock for too long: the same batch again
                # after a pause; what was handled of it is marked processed.
                await self._failed(backoff, "store busy")
                continue
            except Exception:
                # Whatever else broke in handling the batch: never the end of the bot; the
                # same batch again after a pause (handled events are skipped then).
                log.exception("handling a sync batch failed")
                await self._failed(backoff, "batch failed")
                continue
            await self._save_position(response.next_batch, requested_ms)
            since, self._since_at_ms = response.next_batch, requested_ms
            if first:
                first = False
                self.first_sync_done.set()

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
            # repeats nothing.
            if self.readonly is None:
                log.error("sync position not stored: the store cannot be written")
        except StoreBusy:
            # Every event of the batch was handled; the next batch stores its token.
            log.warning("sync position not stored (store locked); stored with the next batch")

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
            await self._on_invite(room_id, info.invite_state)
        for room_id, info in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            for event in info.state:
                if isinstance(event, RoomUpgradeEvent):
                    await self._upgraded(room_id, event)
            # Join rules and power levels decide whether crisis-room membership is a role
            # (S-03); state in the timeline counts too, also when the timeline is skipped.
            for event in [*info.state, *info.timeline.events]:
                self._observe_state(room_id, event)
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
            if any(self._someone_left(event) for event in [*info.state, *events]):
                await self._leave_if_alone(room)

    def _someone_left(self, event: Event) -> bool:
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key != self.client.user_id
            and event.membership in ("leave", "ban")
        )

    async def _leave_if_alone(self, room: MatrixRoom) -> None:
        """The last other member left (nobody joined or invited but the bot): leave, so the
        joined rooms and the full-member sync do not only grow (S-22). Never a room named in
        the config (the operator chose it)."""
        if set(room.users) | set(room.invited_users) != {self.client.user_id}:
            return
        configured = configured_rooms(self.dispatcher.config)
        if any(self.rooms.upgrades.current(c) == room.room_id for c in configured) or (
            room.room_id in configured
        ):
            return
        log.info("alone in %s: leaving", room.room_id)
        await self._guarded(f"alone:{room.room_id}", "alone", {"room_id": room.room_id})

    async def _leave_alone(self, room_id: str) -> None:
        user_id = await self.rooms.dm_user(room_id)
        if user_id is not None:
            # The person left their DM: a new one is opened when there is something to say.
            await self.rooms.forget_dm(user_id)
        await self.client.room_leave(room_id)

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

    async def _guarded(self, key: str, kind: str, args: dict[str, Any], attempts: int = 0) -> None:
        """Do the action `kind` now. If the store is read-only it is put off until it takes
        writes again; if anything else fails (the homeserver unreachable, a hook's bug, the
        store locked too long) it is logged and tried again after the next sync."""
        try:
            await self._actions()[kind](**args)
        except StoreUnavailable:
            if self.readonly is not None:
                await self.readonly.defer(key, kind, args)
            else:
                self._retry_later(key, kind, args, attempts + 1, "the store cannot be written")
        except (StoreBusy, *NETWORK_ERRORS) as exc:
            self._retry_later(key, kind, args, attempts + 1, str(exc) or type(exc).__name__)
        except Exception as exc:
            log.exception("%s failed", key)
            self._retry_later(key, kind, args, attempts + 1, type(exc).__name__)

    def _retry_later(
        self, key: str, kind: str, args: dict[str, Any], attempts: int, reason: str
    ) -> None:
        if attempts >= RETRY_ATTEMPTS:
            log.error("%s failed %d times (%s); giving up", key, attempts, reason)
            return
        log.warning("%s failed (%s); trying again after the next sync", key, reason)
        self._retries[key] = (kind, args, attempts)

    async def _retry_failed(self) -> None:
        for key, (kind, args, attempts) in list(self._retries.items()):
            del self._retries[key]
            await self._guarded(key, kind, args, attempts)

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
            await self._upgraded(room.room_id, event)
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
            await self._guarded(
                f"undecryptable:{event['event_id']}",
                "undecryptable",
                {"room_id": room_id, "event": event},
            )

    async def _give_up_decryption(self, room_id: str, event: dict[str, Any]) -> None:
        megolm = MegolmEvent.from_dict(event)
        if isinstance(megolm, MegolmEvent):
            await self.dispatcher.on_undecryptable(room_id, megolm)
        event_id = event.get("event_id")
        if isinstance(event_id, str):
            await self._keys.done(event_id)

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
                await self._guarded(f"leave:{room_id}", "leave", {"room_id": room_id})
                return
            # A "direct" invite into a room that has other members is a group room (S-04).
            others = any(
                isinstance(other, (InviteMemberEvent, RoomMemberEvent))
                and other.state_key not in (me, event.sender)
                and other.membership in ("join", "invite")
                for other in invite_state
            )
            args = {
                "room_id": room_id,
                "inviter": event.sender,
                "is_direct": bool(event.content.get("is_direct")) and not others,
            }
            await self._guarded(f"invite:{room_id}", "invite", args)
            return

    async def _leave(self, room_id: str) -> None:
        await self.client.room_leave(room_id)

    async def _accept_invite(self, room_id: str, inviter: str, is_direct: bool) -> None:
        if not await join_or_log(self.client, room_id):
            return
        if is_direct and self.direct.has_others(room_id, inviter):
            log.info("invite to %s was direct, but others are in it: a group room", room_id)
        elif is_direct:
            # Encrypted before anything personal is said (S-16).
            await self.direct.ensure_encrypted(room_id)
            await self.direct.remember(inviter, room_id)
            await self.dispatcher.on_dm_joined(room_id, inviter)

    async def _upgraded(self, room_id: str, event: RoomUpgradeEvent) -> None:
        if event.replacement_room:
            await self._guarded(
                f"upgrade:{room_id}",
                "upgrade",
                {"room_id": room_id, "new_room": event.replacement_room},
            )

    async def _follow_upgrade(self, room_id: str, new_room: str) -> None:
        if await self.rooms.upgraded_to(room_id) == new_room:
            return
        log.info("room %s was upgraded to %s, following", room_id, new_room)
        if await join_or_log(self.client, new_room):
            await self.rooms.replace_room(room_id, new_room)
            if room_id in self.configured_rooms:
                warn_about_upgraded_config(
                    {room_id: self.configured_rooms[room_id]}, self.rooms.upgrades
                )
