"""Read-only mode: what the bot does while its store cannot be written.

A full disk, a file system remounted read-only or an I/O error makes every write
transaction fail with `StoreUnavailable` (classified in `bot.store.db`). Then:

- the operators learn it once, in the log and in the admin room (`bot.admin_room`);
- every command (every command writes: its reply goes through the outbox, the event is
  marked processed, the sender's activity is noted) is answered with a notice that the
  bot is in read-only mode and nothing was stored. These notices are sent directly, not
  through the outbox, with a transaction ID derived from the event, so a replay after a
  restart does not post them twice;
- nothing already stored is lost: the failed transaction rolled back, the outbox sender
  and the jobs wait, and whatever they had not done is still in the store;
- every `probe_interval_s` a tiny write checks whether the store works again. Then the
  refused events are marked processed (a restart that replays them must not carry them
  out after their senders were told "not stored"), what was put off (joining a DM,
  following a room upgrade) is done, and the admin room hears that it is over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, Event, MatrixRoom, ReactionEvent, RoomMessageText
from prometheus_client import Gauge

from bot.chat.content import notice, with_reply
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import Metrics
from bot.chat.render import render
from bot.chat.rooms import DirectRooms
from bot.chat.sender import transaction_id
from bot.commands.registry import REGISTRY, ArgumentError
from bot.config import Config
from bot.i18n import Lang
from bot.store.bot_state import ProcessedEvents
from bot.store.db import Database, StoreUnavailable

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 5.0
REMEMBER_REFUSED = 10_000  # event IDs to mark processed after recovery (oldest dropped)

Deferred = Callable[[], Awaitable[Any]]
LanguageOf = Callable[[str], Awaitable[Lang]]


class ReadOnlyMode:
    def __init__(
        self,
        client: AsyncClient,
        config: Config,
        db: Database,
        direct: DirectRooms,
        language_of: LanguageOf,
        metrics: Metrics,
        *,
        probe_interval_s: float = PROBE_INTERVAL_S,
    ) -> None:
        self.client = client
        self.config = config
        self.db = db
        self.direct = direct
        self.language_of = language_of
        self.probe_interval_s = probe_interval_s
        self.processed = ProcessedEvents(db)
        self._failed = asyncio.Event()
        self._reason = ""
        self._since: float | None = None
        self._refused: OrderedDict[str, None] = OrderedDict()
        self._refused_count = 0
        self._deferred: OrderedDict[str, Deferred] = OrderedDict()
        self._writable_again = asyncio.Event()
        self._writable_again.set()
        self._gauge = Gauge(
            "flurfunk_store_writable",
            "1 while the store takes writes, 0 in read-only mode",
            registry=metrics.registry,
        )
        self._gauge.set(1)
        db.on_unavailable.append(self._on_unavailable)

    # -- state -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._since is not None

    def _on_unavailable(self, error: StoreUnavailable) -> None:
        # Called from inside the failing transaction: only note it; `run` does the rest.
        if self._since is None:
            self._since = time.monotonic()
            self._reason = str(error) or type(error).__name__
            self._writable_again.clear()
            self._gauge.set(0)
            log.error(
                "the store cannot be written (%s): read-only mode, probing every %.0f s",
                self._reason,
                self.probe_interval_s,
            )
        self._failed.set()

    async def wait_writable(self) -> None:
        await self._writable_again.wait()

    def defer(self, key: str, action: Deferred) -> None:
        """Do `action` once the store takes writes again (once per key)."""
        self._deferred[key] = action

    # -- the episode -----------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._failed.wait()
            started = self._since or time.monotonic()
            await self._tell_admins(
                "store.readonly.admin_alert",
                f"readonly:{int(time.time())}",
                reason=self._reason,
                path=str(self.config.storage.database),
                seconds=int(self.probe_interval_s),
            )
            while True:
                await asyncio.sleep(self.probe_interval_s)
                if await self.db.probe() and await self._recovered(time.monotonic() - started):
                    break

    async def _recovered(self, duration_s: float) -> bool:
        refused = list(self._refused)
        try:
            async with self.db.transaction():
                for event_id in refused:
                    await self.processed.mark(event_id)
        except StoreUnavailable:
            return False  # failed again at once: keep probing
        for event_id in refused:
            self._refused.pop(event_id, None)
        count, self._refused_count = self._refused_count, 0
        self._since = None
        self._failed.clear()
        self._gauge.set(1)
        self._writable_again.set()
        log.warning("the store takes writes again after %.0f s; read-only mode ends", duration_s)
        while self._deferred:
            key, action = self._deferred.popitem(last=False)
            try:
                await action()
            except StoreUnavailable:
                self._deferred[key] = action  # a new episode has begun; done after it
                break
            except Exception:
                log.exception("deferred action %s failed", key)
        await self._tell_admins(
            "store.readonly.admin_recovered",
            f"writable:{int(time.time())}",
            duration=int(duration_s),
            refused=count,
        )
        return True

    async def _tell_admins(self, key: str, txn: str, **params: object) -> None:
        room_id = self.config.bot.admin_room
        if room_id is None:
            return
        rendered = render(key, self.config.bot.default_language, **params)
        await self._send(room_id, notice(rendered), txn)

    async def _send(self, room_id: str, content: dict[str, Any], txn: str) -> None:
        try:
            response = await self.client.room_send(
                room_id,
                "m.room.message",
                content,
                tx_id=transaction_id(txn),
                ignore_unverified_devices=True,
            )
        except NETWORK_ERRORS as exc:
            log.warning("read-only notice to %s not sent: %s", room_id, type(exc).__name__)
            return
        except Exception:
            log.exception("read-only notice to %s not sent", room_id)
            return
        if not hasattr(response, "event_id"):
            log.warning("read-only notice to %s refused: %s", room_id, response)

    # -- answering what cannot be done -----------------------------------------------------

    async def refuse(self, room: MatrixRoom, event: Event) -> None:
        """The event needed a write that failed: tell the sender, if the bot would have
        answered it at all (commands anywhere, any text in the DM, reactions on our
        messages)."""
        try:
            if await self.processed.seen(event.event_id):
                return  # handled before the store failed; a replay after a restart
            key, crisis = await self._what_to_say(room.room_id, event)
            in_dm = await self.direct.is_dm(room.room_id, event.sender)
            lang = await self.language_of(event.sender)
        except Exception:
            log.exception("read-only mode: cannot even read the store")
            return
        self._remember(event.event_id)
        if key is None:
            return
        self._refused_count += 1
        fallback = ""
        if crisis:
            crisis_config = self.config.crisis
            text = crisis_config.fallback_de if lang == "de" else crisis_config.fallback_en
            fallback = render("store.readonly.fallback", lang, fallback=text).plain
        rendered = render(key, lang, fallback=fallback)
        content = notice(rendered)
        if not in_dm:
            content = with_reply(content, event.event_id)
        await self._send(room.room_id, content, f"readonly:{event.event_id}")

    def _remember(self, event_id: str) -> None:
        self._refused[event_id] = None
        while len(self._refused) > REMEMBER_REFUSED:
            self._refused.popitem(last=False)

    async def _what_to_say(self, room_id: str, event: Event) -> tuple[str | None, bool]:
        if isinstance(event, ReactionEvent):
            row = await self.db.fetchone(
                "SELECT key FROM outbox WHERE event_id = ?", (event.reacts_to,)
            )
            if row is None:
                return None, False
            return "store.readonly.reaction", str(row[0]).startswith("crisis:")
        if not isinstance(event, RoomMessageText):
            return None, False
        prefix = self.config.bot.command_prefix
        text = (event.body or "").strip()
        if text.startswith(prefix) and len(text) > len(prefix):
            return "store.readonly.reply", _is_crisis_command(text[len(prefix) :])
        if await self.direct.is_dm(room_id, event.sender):
            return "store.readonly.reply", False
        return None, False


def _is_crisis_command(line: str) -> bool:
    try:
        invocation = REGISTRY.parse(line)
    except ArgumentError as error:
        return error.command.section == "crisis"
    return invocation is not None and invocation.command.section == "crisis"
