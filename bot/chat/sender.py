"""Delivers the outbox: in order per target, bounded concurrency, bounded retries.

A 429 pauses every send until the homeserver's `retry_after_ms` has passed (the limit
is per user, so other sends would only collect more 429s). Transaction IDs derive from
the outbox key, so a send that reached the server before a crash is not duplicated.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import os
import random
import signal
import time
from collections import OrderedDict
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nio import AsyncClient, ErrorResponse, RoomSendResponse, UploadResponse

from bot.chat.errors import NETWORK_ERRORS, SendFailure, check
from bot.chat.health import Metrics
from bot.chat.priority_gate import PriorityGate
from bot.chat.purpose_rooms import create_purpose_room
from bot.chat.rooms import DirectRooms
from bot.config import OutboxConfig
from bot.store.db import StoreBusy, StoreUnavailable
from bot.store.outbox import Outbox, OutboxItem
from bot.store.rooms import RoomDirectory

if TYPE_CHECKING:
    from bot.chat.readonly import ReadOnlyMode

log = logging.getLogger(__name__)

PERMANENT_ERRCODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_TOO_LARGE"})
# A 429 or an unreachable homeserver is no fault of the item: it waits (paced by
# `retry_after_ms`, or backing off up to OFFLINE_RETRY_MAX_S) and only gives up when it
# is this old. A 100-pair round under Synapse's default room-creation limit (one room a
# minute after a burst of 10) needs about 95 minutes; a one-hour limit dropped its tail.
RATE_LIMITED_GIVE_UP_S = 86_400.0
OFFLINE_RETRY_MAX_S = 15.0
INVITE_WAIT_S = 60.0
# A round of the loop failed (the store locked by another process for too long, a bug in
# one item's delivery): the loop pauses this long and goes on; nothing is lost, the items
# are still pending in the store.
FAILURE_PAUSE_S = 1.0
ORIGINAL_BASED = frozenset({"edit", "reaction", "redact"})


class Outcome(Enum):
    DONE = "done"
    WAIT = "wait"  # not ready or retried later: keep later items of this target waiting


def fault_point_before_send() -> None:
    """Fault injection for the crash tests: die once, after storing and before sending."""
    marker = os.environ.get("FLURFUNK_FAULT_KILL_BEFORE_SEND")
    if marker and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)


def transaction_id(key: str) -> str:
    return "ff" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _priority(item: OutboxItem) -> int:
    if item.key.startswith("reply:"):
        return 0  # someone is waiting for this answer right now
    return 2 if item.action == "reaction" else 1


class OutboxSender:
    def __init__(
        self,
        client: AsyncClient,
        outbox: Outbox,
        rooms: RoomDirectory,
        direct: DirectRooms,
        config: OutboxConfig,
        metrics: Metrics,
        readonly: ReadOnlyMode | None = None,
    ) -> None:
        self.client = client
        self.readonly = readonly
        self.outbox = outbox
        self.rooms = rooms
        self.direct = direct
        self.config = config
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._paused_until = 0.0
        self._offline_failures = 0  # connection errors in a row (homeserver unreachable)
        self._paced = asyncio.Lock()
        self._paced_until = 0.0
        self._gate = PriorityGate(config.concurrency)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # No barrier between batches: each target drains on its own while new items
        # start as soon as their target is free, so one broadcast never delays the rest.
        in_flight: dict[tuple[str, str], asyncio.Task[None]] = {}
        try:
            while True:
                try:
                    await self._round(in_flight)
                except Exception:
                    # Never the end of delivery (S-08): the items wait in the store.
                    log.exception("outbox round failed; going on in %.0f s", FAILURE_PAUSE_S)
                    await asyncio.sleep(FAILURE_PAUSE_S)
        finally:
            for task in in_flight.values():
                task.cancel()

    async def _round(self, in_flight: dict[tuple[str, str], asyncio.Task[None]]) -> None:
        if self.readonly is not None:
            # Read-only store: a send could not be marked as sent; lose nothing.
            await self.readonly.wait_writable()
        self._wake.clear()
        for target, task in list(in_flight.items()):
            if task.done():
                del in_flight[target]
                await self._settle(task)
        groups: OrderedDict[tuple[str, str], list[OutboxItem]] = OrderedDict()
        for item in await self.outbox.due(limit=2000):
            target = (item.target_kind, item.target)
            if target not in in_flight:
                groups.setdefault(target, []).append(item)
        for target, group in groups.items():
            task = asyncio.create_task(self._drain(group))
            task.add_done_callback(lambda _: self._wake.set())
            in_flight[target] = task
        await self._sleep_until_due()

    async def _settle(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        failure = task.exception()
        if failure is None:
            return
        # A send that reached the server but is not marked sent goes out again with the
        # same transaction ID: the server de-duplicates it.
        if isinstance(failure, StoreUnavailable):
            if self.readonly is None:
                await asyncio.sleep(5.0)
            return
        if isinstance(failure, StoreBusy):
            log.warning("outbox: the store stayed locked by another process; trying again")
        else:
            log.error("outbox delivery failed", exc_info=failure)
        await asyncio.sleep(FAILURE_PAUSE_S)

    async def _sleep_until_due(self) -> None:
        next_at = await self.outbox.next_due_at()
        delay = 30.0 if next_at is None else max(0.05, min(30.0, next_at - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _drain(self, group: list[OutboxItem]) -> None:
        for item in group:
            async with self._gate.slot(_priority(item)):
                outcome = await self._attempt(item)
            if outcome is Outcome.WAIT:
                return

    async def _attempt(self, item: OutboxItem) -> Outcome:
        if self._paced_until > time.monotonic():
            # Rate limited lately: one send at a time, each after the pause, or every
            # waiting send would fire at once and all but one collect another 429.
            async with self._paced:
                await asyncio.sleep(max(0.0, self._paused_until - time.monotonic()))
                return await self._try(item)
        return await self._try(item)

    async def _try(self, item: OutboxItem) -> Outcome:
        try:
            outcome = await self._deliver(item)
        except SendFailure as failure:
            return await self._failed(item, failure)
        except NETWORK_ERRORS as exc:
            return await self._failed(item, SendFailure("M_CONNECTION", type(exc).__name__))
        if outcome is Outcome.DONE:
            self._offline_failures = 0
            self.metrics.sends.labels(item.action, "ok").inc()
        return outcome

    async def _failed(self, item: OutboxItem, failure: SendFailure) -> Outcome:
        if failure.errcode == "M_LIMIT_EXCEEDED":
            self.metrics.rate_limited.inc()
            wait_s = min((failure.retry_after_ms or 1000) / 1000, self.config.max_retry_after_s)
            self._paused_until = max(self._paused_until, time.monotonic() + wait_s)
            self._paced_until = max(self._paced_until, time.monotonic() + 3 * wait_s + 10)
            if time.time() - item.created_at > RATE_LIMITED_GIVE_UP_S:
                await self.outbox.mark_failed(item.id, "rate limited for too long")
                self.metrics.sends.labels(item.action, "failed").inc()
                return Outcome.DONE
            await self.outbox.retry_later(item.id, wait_s, failure.errcode, count=False)
            return Outcome.WAIT
        if failure.errcode == "M_CONNECTION":
            # The homeserver is away: an outage of any length must not use up the item's
            # attempts, and once it is back the queue goes out within OFFLINE_RETRY_MAX_S.
            if time.time() - item.created_at > RATE_LIMITED_GIVE_UP_S:
                await self.outbox.mark_failed(item.id, "homeserver unreachable for too long")
                self.metrics.sends.labels(item.action, "failed").inc()
                return Outcome.DONE
            self._offline_failures += 1
            delay = min(OFFLINE_RETRY_MAX_S, 2.0 ** (self._offline_failures - 1))
            delay *= random.uniform(1.0, 1.2)
            self._paused_until = max(self._paused_until, time.monotonic() + delay)
            log.info("outbox item %s: homeserver unreachable, retrying in %.1fs", item.id, delay)
            await self.outbox.retry_later(item.id, delay, failure.errcode, count=False)
            return Outcome.WAIT
        if failure.errcode in PERMANENT_ERRCODES and item.target_kind == "dm":
            # The person left our DM room: forget it, a new one is opened on retry.
            await self.direct.forget(item.target)
        elif failure.errcode in PERMANENT_ERRCODES or item.attempts + 1 >= self.config.max_attempts:
            log.warning(
                "giving up on outbox item %s (%s): %s", item.id, item.action, failure.errcode
            )
            await self.outbox.mark_failed(item.id, f"{failure.errcode}: {failure.message}")
            self.metrics.sends.labels(item.action, "failed").inc()
            return Outcome.DONE
        delay = min(300.0, 2.0**item.attempts) * random.uniform(1.0, 1.5)
        log.info("outbox item %s: %s, retrying in %.1fs", item.id, failure.errcode, delay)
        await self.outbox.retry_later(item.id, delay, failure.errcode, count=True)
        return Outcome.WAIT

    async def _target_room(self, item: OutboxItem) -> str | None:
        if item.target_kind == "room":
            # A room named in the config that was upgraded: its replacement (S-24).
            return self.rooms.upgrades.current(item.target)
        if item.target_kind == "dm":
            return await self.direct.ensure(item.target)
        return await self.rooms.purpose_room(item.target)

    async def _deliver(self, item: OutboxItem) -> Outcome:
        if item.action == "create_room":
            return await self._create_room(item)
        room_id: str | None
        if item.action in ORIGINAL_BASED:
            room_id = "-"  # these act in the room of the event they refer to
        else:
            room_id = await self._target_room(item)
        if room_id is None or (room_id != "-" and not await self._room_ready(item, room_id)):
            # The room is being created, or not yet synced with everyone invited.
            await self.outbox.retry_later(item.id, 0.3, "room not ready", count=False)
            return Outcome.WAIT
        handler = {
            "message": self._message,
            "edit": self._edit,
            "file": self._file,
            "reaction": self._reaction,
            "invite": self._invite,
            "redact": self._redact,
        }[item.action]
        event_id = await handler(item, room_id)
        if event_id is None:
            await self.outbox.retry_later(item.id, 0.5, "waiting for an earlier item", count=False)
            return Outcome.WAIT
        await self.outbox.mark_sent(item.id, event_id or None, None if room_id == "-" else room_id)
        return Outcome.DONE

    async def _room_ready(self, item: OutboxItem, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        if room is None:
            return False
        if item.target_kind == "dm":
            # Only a room of exactly the bot and the person is their DM (S-04): never send
            # personal things into a group room, nor into a DM the person left.
            problem = self.direct.dm_problem(room_id, item.target, INVITE_WAIT_S)
            if problem is not None:
                await self.direct.drop(item.target, room_id, problem)
                return False
            if not room.encrypted and self.direct.encrypted:
                # Nothing personal in clear (S-16): switch encryption on and wait for the
                # sync that shows it (nio encrypts only in rooms it knows are encrypted).
                # A refusal fails like a send: the DM is forgotten and a new one opened.
                await self.direct.encrypt(room_id)
                return False
            expected = [item.target]
        elif item.target_kind == "roomkey":
            expected = await self.rooms.purpose_invitees(item.target)
        else:
            return True
        # A megolm session only reaches the members nio knows when it is created: the
        # invites of a fresh room may arrive a sync later than the room itself.
        waited_long = time.time() - item.created_at > INVITE_WAIT_S
        ready = waited_long or all(user in room.users for user in expected)
        if ready and expected and item.target_kind == "roomkey":
            # Nothing waits for the invitees any more: their IDs leave the store (S-02).
            await self.rooms.purpose_room_ready(item.target)
        return ready

    async def _send(self, room_id: str, event_type: str, content: dict[str, Any], key: str) -> str:
        fault_point_before_send()
        response = check(
            await self.client.room_send(
                room_id,
                event_type,
                content,
                tx_id=transaction_id(key),
                ignore_unverified_devices=True,
            )
        )
        assert isinstance(response, RoomSendResponse)
        return str(response.event_id)

    async def _message(self, item: OutboxItem, room_id: str) -> str | None:
        return await self._send(room_id, "m.room.message", item.payload["content"], item.key)

    async def _original(self, item: OutboxItem) -> tuple[str, str] | None:
        original_key = item.payload["original"]
        found = await self.outbox.sent_event(original_key)
        if found is None and await self.outbox.status(original_key) != "pending":
            raise SendFailure("M_NOT_FOUND", f"original {original_key} was never delivered")
        return found

    async def _edit(self, item: OutboxItem, room_id: str) -> str | None:
        original = await self._original(item)
        if original is None:
            return None
        new = item.payload["content"]
        content = {
            "msgtype": new["msgtype"],
            "body": "* " + new["body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original[1]},
            "m.mentions": {},
        }
        if "formatted_body" in new:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = "* " + new["formatted_body"]
        return await self._send(original[0], "m.room.message", content, item.key)

    async def _reaction(self, item: OutboxItem, room_id: str) -> str | None:
        original = await self._original(item)
        if original is None:
            return None
        content = {
            "m.relates_to": {
                "rel_type": "m.annotation",
                "event_id": original[1],
                "key": item.payload["key"],
            }
        }
        return await self._send(original[0], "m.reaction", content, item.key)

    async def _redact(self, item: OutboxItem, room_id: str) -> str | None:
        original = await self._original(item)
        if original is None:
            return None
        check(
            await self.client.room_redact(original[0], original[1], tx_id=transaction_id(item.key))
        )
        return ""

    async def _invite(self, item: OutboxItem, room_id: str) -> str | None:
        response = await self.client.room_invite(room_id, item.payload["user_id"])
        if isinstance(response, ErrorResponse) and "already in the room" in str(response.message):
            return ""
        check(response)
        return ""

    async def _file(self, item: OutboxItem, room_id: str) -> str | None:
        payload = item.payload
        data = base64.b64decode(payload["data"])
        encrypted = self.client.rooms[room_id].encrypted
        upload, decryption = await self.client.upload(
            io.BytesIO(data),
            content_type=payload["mimetype"],
            filename=payload["filename"],
            encrypt=encrypted,
            filesize=len(data),
        )
        check(upload)
        assert isinstance(upload, UploadResponse)
        content: dict[str, Any] = {
            "msgtype": payload.get("msgtype", "m.file"),  # "m.image" with info w/h: a picture
            "body": payload["filename"],
            "filename": payload["filename"],
            "info": {**payload.get("info", {}), "mimetype": payload["mimetype"], "size": len(data)},
            "m.mentions": {},
        }
        if encrypted and decryption is not None:
            content["file"] = {**decryption, "url": upload.content_uri}
        else:
            content["url"] = upload.content_uri
        return await self._send(room_id, "m.room.message", content, item.key)

    async def _create_room(self, item: OutboxItem) -> Outcome:
        room_id = await create_purpose_room(
            self.client, self.rooms, item.target, item.payload["name"], item.payload["invite"]
        )
        await self.outbox.mark_sent(item.id, None, room_id)
        return Outcome.DONE
