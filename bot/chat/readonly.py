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

The refused event IDs and the put-off actions are also kept in a small side file next to
the store (`<database>-readonly.json`, the store itself cannot take them), so a restart
before the store recovers loses neither (review finding S-14): `resume()` reads it at
start, before the first sync, and settles it as soon as the store takes writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nio import AsyncClient, Event, MatrixRoom, ReactionEvent, RoomMessageText
from prometheus_client import Gauge

from bot.chat.content import notice, transaction_id, with_reply
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import Metrics
from bot.chat.rooms import DirectRooms
from bot.chat.write_gate import Perform
from bot.commands.registry import REGISTRY, ArgumentError, clean_command, strip_reply_fallback
from bot.config import Config
from bot.i18n import Lang
from bot.i18n.render import render
from bot.store.bot_state import ProcessedEvents
from bot.store.db import Database, StoreBusy, StoreUnavailable
from bot.store.outbox import Outbox

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 5.0
BUSY_PAUSE_S = 5.0  # the store locked by another process at start: wait this long, again
REMEMBER_REFUSED = 10_000  # event IDs to mark processed after recovery (oldest dropped)

LanguageOf = Callable[[str], Awaitable[Lang]]
PENDING_SUFFIX = "-readonly.json"


def pending_file(db: Database, data_dir: Path | None = None) -> Path | None:
    """The side file of refused events and put-off actions, next to the SQLite store; for
    PostgreSQL in `data_dir`, on the bot's own disk, which works while the server does not."""
    if db.dialect == "postgresql":
        return None if data_dir is None else data_dir / f"postgresql{PENDING_SUFFIX}"
    if not isinstance(db.path, Path):
        return None  # an in-memory store: nothing survives a restart anyway
    return db.path.with_name(db.path.name + PENDING_SUFFIX)


class ReadOnlyMode:
    """The `WriteGate` (`bot.chat.write_gate`) of the running bot."""

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
        self.outbox = Outbox(db)
        self._failed = asyncio.Event()
        self._reason = ""
        self._since: float | None = None
        self._refused: OrderedDict[str, None] = OrderedDict()
        self._refused_count = 0
        self._deferred: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._perform: Perform | None = None
        self._file = pending_file(db, config.storage.data_dir)
        self._load()
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

    async def defer(self, key: str, kind: str, args: dict[str, Any]) -> None:
        """Have `perform` do (kind, args) once the store takes writes again (once per key);
        kept in the side file until then."""
        self._deferred[key] = (kind, args)
        await self._save()

    def perform_with(self, perform: Perform) -> None:
        self._perform = perform

    # -- the side file ---------------------------------------------------------------------

    def _load(self) -> None:
        if self._file is None:
            return
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            refused = [str(event_id) for event_id in data.get("refused", [])]
            deferred = [(str(e["key"]), str(e["kind"]), dict(e["args"])) for e in data["deferred"]]
        except FileNotFoundError:
            return
        except (OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
            log.error("read-only mode: %s cannot be read (%s), ignored", self._file, exc)
            return
        for event_id in refused:
            self._remember(event_id)
        for key, kind, args in deferred:
            self._deferred[key] = (kind, args)

    async def _save(self) -> None:
        if self._file is None:
            return
        data = {
            "refused": list(self._refused),
            "deferred": [
                {"key": key, "kind": kind, "args": args}
                for key, (kind, args) in self._deferred.items()
            ],
        }
        try:
            await asyncio.to_thread(_write_or_remove, self._file, data)
        except OSError as exc:
            # The disk may be full or read-only too: then a restart may repeat them.
            log.warning("read-only mode: %s not written (%s)", self._file, exc)

    async def resume(self) -> None:
        """At start, before the first sync: settle what a previous run refused or put off
        while its store was read-only. If the store still cannot be written, read-only
        mode begins now and settles it when it ends."""
        if not self._refused and not self._deferred:
            return
        log.warning(
            "read-only mode before the restart: %d refused event(s), %d put-off action(s)",
            len(self._refused),
            len(self._deferred),
        )
        while True:
            try:
                if await self._mark_refused():
                    await self._perform_deferred()
                return
            except StoreBusy:
                # Locked by another process (an import): no event may be replayed before
                # the refused ones are marked, so wait.
                log.warning("the store is locked by another process; trying again")
                await asyncio.sleep(BUSY_PAUSE_S)

    # -- the episode -----------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._failed.wait()
            started = self._since or time.monotonic()
            await self._tell_admins(
                "store.readonly.admin_alert",
                f"readonly:{int(time.time())}",
                reason=self._reason,
                path=str(self.db),
                seconds=int(self.probe_interval_s),
            )
            while True:
                await asyncio.sleep(self.probe_interval_s)
                if await self.db.probe() and await self._recovered(time.monotonic() - started):
                    break

    async def _recovered(self, duration_s: float) -> bool:
        try:
            if not await self._mark_refused():
                return False  # failed again at once: keep probing
        except StoreBusy:
            return False
        count, self._refused_count = self._refused_count, 0
        self._since = None
        self._failed.clear()
        self._gauge.set(1)
        self._writable_again.set()
        log.warning("the store takes writes again after %.0f s; read-only mode ends", duration_s)
        await self._perform_deferred()
        await self._tell_admins(
            "store.readonly.admin_recovered",
            f"writable:{int(time.time())}",
            duration=int(duration_s),
            refused=count,
        )
        return True

    async def _mark_refused(self) -> bool:
        """Mark the refused events processed; False if the store still fails."""
        refused = list(self._refused)
        try:
            async with self.db.transaction("readonly.mark_refused"):
                for event_id in refused:
                    await self.processed.mark(event_id)
        except StoreUnavailable:
            return False
        for event_id in refused:
            self._refused.pop(event_id, None)
        await self._save()
        return True

    async def _perform_deferred(self) -> None:
        if self._perform is None:
            return  # kept (and in the side file) until someone can do them
        for key in list(self._deferred):
            if self.active:
                break  # a new episode began: the rest after it
            kind, args = self._deferred.pop(key)
            # Puts it off again itself if the store fails, and retries other failures.
            await self._perform(key, kind, args)
        await self._save()

    async def _tell_admins(self, key: str, txn: str, **params: object) -> None:
        room_id = self.config.bot.admin_room
        if room_id is None:
            return
        room_id = self.direct.directory.upgrades.current(room_id)  # S-24
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
        if event.event_id in self._refused:
            return  # told already (perhaps before a restart): a replay
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
        await self._save()
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
            target_key = await self.outbox.key_of_event(event.reacts_to)
            if target_key is None:
                return None, False
            return "store.readonly.reaction", target_key.startswith("crisis:")
        if not isinstance(event, RoomMessageText):
            return None, False
        prefix = self.config.bot.command_prefix
        # Cleaned as the dispatcher cleans it: a crisis request sent as a reply, or with a
        # zero-width space in it, still gets the formal path.
        text = clean_command(strip_reply_fallback(event.body or "").strip(), prefix)
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


def _write_or_remove(path: Path, data: dict[str, Any]) -> None:
    if not data["refused"] and not data["deferred"]:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(temporary, path)
