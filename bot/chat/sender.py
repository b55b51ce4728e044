"""Delivers the outbox: in order per target, fair across targets, by priority, bounded
concurrency, and every item ends (delivered or given up, `bot.chat.outbox_policy`).

A round takes the first items of every target (one head per target, `Outbox.heads`), so a
target with thousands of stuck items never delays another. Each target drains on its own;
the priority gate serves crisis asks first, then answers to commands, then notices, then
reaction buttons and edits, and within a priority in arrival order, which takes turns
between targets. Deliveries are recorded in groups (one transaction for all that finished
meanwhile), and a new round runs only when something may have become due.

A 429 pauses every send until the homeserver's `retry_after_ms` has passed (the limit
is per user, so other sends would only collect more 429s). Transaction IDs derive from
the outbox key, so a send that reached the server before a crash (or a cancel) is not
duplicated: the item is still pending and goes out again with the same ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import OrderedDict
from enum import Enum

from nio import AsyncClient

from bot.chat import outbox_policy as policy
from bot.chat.errors import NETWORK_ERRORS, OFFLINE, SendFailure
from bot.chat.given_up import GivenUpNotices
from bot.chat.health import Metrics
from bot.chat.outbox_actions import MatrixActions
from bot.chat.priority_gate import PriorityGate
from bot.chat.purpose_rooms import create_purpose_room
from bot.chat.rooms import DirectRooms
from bot.chat.write_gate import ALWAYS_WRITABLE, WriteGate
from bot.config import OutboxConfig
from bot.store.db import StoreBusy, StoreUnavailable
from bot.store.outbox import ORIGINAL_BASED, PER_TARGET, Outbox, OutboxItem
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

INVITE_WAIT_S = 60.0
# A round of the loop failed (the store locked by another process for too long, a bug in
# one item's delivery): the loop pauses this long and goes on; nothing is lost, the items
# are still pending in the store.
FAILURE_PAUSE_S = 1.0
IDLE_ROUND_S = 30.0
# Delivered events kept in memory for the reactions and edits that follow them.
REMEMBERED_EVENTS = 4096
# How long deliveries are gathered before they are recorded in one transaction.
RECORD_GATHER_S = 0.05

Target = tuple[str, str]
# The records a drain waits for at its end (each drain is a task with its own context).
_RECORDS: contextvars.ContextVar[list[asyncio.Future[None]] | None] = contextvars.ContextVar(
    "outbox_records", default=None
)


class Outcome(Enum):
    DONE = "done"
    WAIT = "wait"  # not ready or retried later: keep later items of this target waiting


class OutboxSender:
    def __init__(
        self,
        client: AsyncClient,
        outbox: Outbox,
        rooms: RoomDirectory,
        direct: DirectRooms,
        config: OutboxConfig,
        metrics: Metrics,
        readonly: WriteGate = ALWAYS_WRITABLE,
        *,
        notices: GivenUpNotices | None = None,
    ) -> None:
        self.client = client
        self.actions = MatrixActions(client)
        self.readonly = readonly
        self.outbox = outbox
        self.rooms = rooms
        self.direct = direct
        self.config = config
        self.metrics = metrics
        self.notices = notices or GivenUpNotices(outbox, None, "de")
        self._wake = asyncio.Event()
        self._enqueued = 0  # wake() calls: something new may be due
        self._paused_until = 0.0
        self._offline_failures = 0  # connection errors in a row (homeserver unreachable)
        self._paced = asyncio.Lock()
        self._paced_until = 0.0
        self._gate = PriorityGate(config.concurrency)
        self._marks: list[tuple[int, str | None, str | None, float, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._delivered: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def wake(self) -> None:
        self._enqueued += 1
        self._wake.set()

    async def run(self) -> None:
        in_flight: dict[Target, asyncio.Task[bool]] = {}
        try:
            while True:
                try:
                    await self._round(in_flight)
                except Exception:
                    # Never the end of delivery (S-08): the items wait in the store.
                    log.exception("outbox round failed; going on in %.0f s", FAILURE_PAUSE_S)
                    await asyncio.sleep(FAILURE_PAUSE_S)
        finally:
            # Cancelled (shutdown): sends in flight stay pending and go out again with the
            # same transaction ID; deliveries already made are still recorded.
            for task in in_flight.values():
                task.cancel()
            if self._flusher is not None:
                with contextlib.suppress(Exception):
                    await self._flusher

    async def _round(self, in_flight: dict[Target, asyncio.Task[bool]]) -> None:
        # Read-only store: a send could not be marked as sent; lose nothing.
        await self.readonly.wait_writable()
        if not self.metrics.homeserver_up.is_set():
            await self._wait_for_homeserver()
        self._wake.clear()
        for target, task in list(in_flight.items()):
            if task.done():
                del in_flight[target]
                await self._settle(task)
        await self.notices.post_due()
        enqueued = self._enqueued
        due = await self.outbox.heads()
        groups: OrderedDict[Target, list[OutboxItem]] = OrderedDict()
        for item in due.items:
            target = (item.target_kind, item.target)
            if target not in in_flight:
                groups.setdefault(target, []).append(item)
        for target, group in groups.items():
            more = due.full or len(group) >= PER_TARGET
            task = asyncio.create_task(self._drain(group, enqueued, more))
            task.add_done_callback(self._drained)
            in_flight[target] = task
        next_at = min(
            (t for t in (due.next_at, self.notices.due_at()) if t is not None), default=None
        )
        delay = IDLE_ROUND_S if next_at is None else next_at - time.time()
        delay = max(0.05, min(IDLE_ROUND_S, delay))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _wait_for_homeserver(self) -> None:
        """The sync loop found the homeserver away and probes it (at most one request a
        second in all): no sends meanwhile. Once it answers, what waited for it is due at
        once (crisis first, by priority), not after its backoff."""
        await self.metrics.homeserver_up.wait()
        self._offline_failures = 0
        self._paused_until = 0.0
        await self.outbox.due_now(OFFLINE)

    def _drained(self, task: asyncio.Task[bool]) -> None:
        # Another round only if this target may have more, or something failed.
        if task.cancelled() or task.exception() is not None or task.result():
            self._wake.set()

    async def _settle(self, task: asyncio.Task[bool]) -> None:
        if task.cancelled():
            return
        failure = task.exception()
        if failure is None:
            return
        # A send that reached the server but is not marked sent goes out again with the
        # same transaction ID: the server de-duplicates it.
        if isinstance(failure, StoreUnavailable):
            return  # read-only mode: the next round waits until the store takes writes
        if isinstance(failure, StoreBusy):
            log.warning("outbox: the store stayed locked by another process; trying again")
        else:
            log.error("outbox delivery failed", exc_info=failure)
        await asyncio.sleep(FAILURE_PAUSE_S)

    async def _drain(self, group: list[OutboxItem], enqueued: int, more: bool) -> bool:
        """Deliver one target's items in order; True if a new round should look at the
        target again: it had more than this round took, items were queued meanwhile, or
        one is to be tried again (rounds skip a target while it is in flight, so its retry
        time was not seen)."""
        # A slot is for sending: the records of this drain's deliveries are waited for
        # once, at the end (before that the target counts as in flight, so no round takes
        # its delivered items for pending ones).
        records: list[asyncio.Future[None]] = []
        _RECORDS.set(records)
        waits = False
        try:
            for item in group:
                async with self._gate.slot(item.priority):
                    outcome = await self._attempt(item)
                if outcome is Outcome.WAIT:
                    waits = True
                    break
        finally:
            await asyncio.gather(*(asyncio.shield(r) for r in records))
        return more or waits or self._enqueued != enqueued

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
            return await self._failed(item, SendFailure(OFFLINE, type(exc).__name__))
        if outcome is Outcome.DONE:
            self._offline_failures = 0
            self.metrics.sends.labels(item.action, "ok").inc()
        return outcome

    async def _failed(self, item: OutboxItem, failure: SendFailure) -> Outcome:
        if failure.errcode == "M_LIMIT_EXCEEDED":
            self.metrics.rate_limited.inc()
        elif failure.errcode == OFFLINE:
            self._offline_failures += 1
        verdict = policy.failed(item, failure, self.config, time.time(), self._offline_failures)
        if verdict.give_up is not None:
            await self._give_up(item, verdict.give_up)
            return Outcome.DONE
        if failure.errcode == "M_LIMIT_EXCEEDED":
            self._paused_until = max(self._paused_until, time.monotonic() + verdict.delay_s)
            self._paced_until = max(self._paced_until, time.monotonic() + 3 * verdict.delay_s + 10)
        elif failure.errcode == OFFLINE:
            self._paused_until = max(self._paused_until, time.monotonic() + verdict.delay_s)
        if verdict.forget_dm:
            await self.direct.forget(item.target)
        log.info("outbox item %s: %s, retrying in %.1fs", item.id, failure.errcode, verdict.delay_s)
        await self._later(item, verdict, failure.errcode)
        return Outcome.WAIT

    async def _wait(self, item: OutboxItem, reason: str) -> Outcome:
        verdict = policy.waiting(item, reason, self.config, time.time())
        if verdict.give_up is not None:
            await self._give_up(item, verdict.give_up)
            return Outcome.DONE
        await self._later(item, verdict, reason)
        return Outcome.WAIT

    async def _later(self, item: OutboxItem, verdict: policy.RetryDecision, error: str) -> None:
        # The drain ends with this (WAIT) and wakes the loop, which then sees the new time.
        await self.outbox.retry_later(item.id, verdict.delay_s, error, count=verdict.count)

    async def _give_up(self, item: OutboxItem, reason: str) -> None:
        log.warning("giving up on outbox item %s (%s): %s", item.id, item.action, reason)
        await self.outbox.mark_failed(item.id, reason)
        self.metrics.sends.labels(item.action, "failed").inc()
        self.notices.note(item)
        self._wake.set()  # the admin notice may be due

    async def _mark_sent(self, item: OutboxItem, event_id: str | None, room_id: str | None) -> None:
        """Record a delivery. Deliveries that finish while one transaction is written go
        into the next one together (group commit): one store round trip for many. Inside
        a drain the record is waited for at the drain's end, else (a single `_try`) now."""
        if event_id and room_id:
            self._delivered[item.key] = (room_id, event_id)
            while len(self._delivered) > REMEMBERED_EVENTS:
                self._delivered.popitem(last=False)
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((item.id, event_id, room_id, time.time(), recorded))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_marks())
        records = _RECORDS.get()
        if records is not None:
            records.append(recorded)
        else:
            # The flusher is not ours: cancelling this send must not cancel other records.
            await asyncio.shield(recorded)

    async def _flush_marks(self) -> None:
        while self._marks:
            # Nobody sends while waiting for a record (drains wait at their end): gather
            # what the other slots deliver meanwhile into the same transaction.
            await asyncio.sleep(RECORD_GATHER_S)
            batch, self._marks = self._marks, []
            try:
                await self.outbox.mark_sent_many([(i, e, r, at) for i, e, r, at, _ in batch])
            except Exception as exc:
                # Still pending in the store: sent again with the same transaction ID.
                for *_, recorded in batch:
                    recorded.set_exception(exc)
                    recorded.add_done_callback(lambda f: f.exception())
            else:
                for *_, recorded in batch:
                    recorded.set_result(None)

    async def _target_room(self, item: OutboxItem) -> str | None:
        if item.target_kind == "room":
            # A room named in the config that was upgraded: its replacement (S-24).
            return self.rooms.upgrades.current(item.target)
        if item.target_kind == "dm":
            return await self.direct.ensure(item.target)
        room_id = await self.rooms.purpose_room(item.target)
        if room_id is None and await self.outbox.room_creation(item.target) != "pending":
            # Its creation failed, or was never queued (a coffee group's follow-up after a
            # member's `!vergessen` took the creation with it): no room will come.
            raise SendFailure("M_NOT_FOUND", f"room {item.target} was never created")
        return room_id

    async def _deliver(self, item: OutboxItem) -> Outcome:
        if item.action == "create_room":
            return await self._create_room(item)
        if item.action in ORIGINAL_BASED:
            # These act in the room of the event they refer to, never on the target's
            # room: a failed original fails them, and no DM record is touched (S-05).
            original = await self._original(item)
            if original is None:
                return await self._wait(item, "waiting for an earlier item")
            event_id = await self.actions.on_original(item, original)
            await self._mark_sent(item, event_id or None, None)
            return Outcome.DONE
        room_id = await self._target_room(item)
        if room_id is None or not await self._room_ready(item, room_id):
            # The room is being created, or not yet synced with everyone invited.
            return await self._wait(item, "room not ready")
        event_id = await self.actions.in_room(item, room_id)
        await self._mark_sent(item, event_id or None, room_id)
        return Outcome.DONE

    async def _room_ready(self, item: OutboxItem, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        if room is None:
            if item.target_kind != "dm" and time.time() - item.created_at > INVITE_WAIT_S:
                # Not a room just created (nio knows those after the next sync): the bot
                # is not in it. It may be invited back, so this uses up attempts.
                raise SendFailure(policy.NOT_JOINED, f"the bot is not in {room_id}")
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

    async def _original(self, item: OutboxItem) -> tuple[str, str] | None:
        """(room, event) of the delivered original; None while it is still pending. An
        original that was given up (or never queued) fails this item with it."""
        original_key = item.payload["original"]
        found = self._delivered.get(original_key) or await self.outbox.sent_event(original_key)
        if found is None and await self.outbox.status(original_key) != "pending":
            raise SendFailure("M_NOT_FOUND", f"original {original_key} was never delivered")
        return found

    async def _create_room(self, item: OutboxItem) -> Outcome:
        room_id = await create_purpose_room(
            self.client, self.rooms, item.target, item.payload["name"], item.payload["invite"]
        )
        await self._mark_sent(item, None, room_id)
        return Outcome.DONE
