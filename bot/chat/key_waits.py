"""Encrypted messages that arrived before their room keys.

Each one waits up to `wait_s` for its keys (a key request goes out at once); the waits are
kept in the store too (`bot.store.decryptions`), so a restart within the wait still answers
them (review finding S-10). The sync loop asks after every sync which ones can be read now
and which ones to give up on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, EncryptionError, Event, MatrixRoom, MegolmEvent

from bot.chat.health import Metrics
from bot.store.db import Database, StoreBusy, StoreUnavailable
from bot.store.decryptions import PendingDecryptions, WaitingDecryption

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    room_id: str
    event: MegolmEvent
    give_up_at: float  # Unix time: a restart keeps it


class KeyWaits:
    def __init__(self, client: AsyncClient, db: Database, metrics: Metrics, wait_s: float) -> None:
        self.client = client
        self.metrics = metrics
        self.wait_s = wait_s
        self._store = PendingDecryptions(db)
        self._waiting: dict[str, _Waiting] = {}

    async def load(self) -> None:
        """What a previous run was still waiting for keys for."""
        for waiting in await self._store.all():
            event = MegolmEvent.from_dict(waiting.event)
            if isinstance(event, MegolmEvent):
                self._waiting[waiting.event_id] = _Waiting(waiting.room_id, event, waiting.deadline)

    async def add(self, room_id: str, event: MegolmEvent) -> None:
        if event.event_id in self._waiting:
            return
        self.metrics.decrypt_failures.labels("no").inc()
        waiting = _Waiting(room_id, event, time.time() + self.wait_s)
        self._waiting[event.event_id] = waiting
        try:
            await self._store.add(
                WaitingDecryption(
                    event.event_id,
                    room_id,
                    event.sender,
                    event.session_id,
                    waiting.give_up_at,
                    event.source,
                )
            )
        except (StoreUnavailable, StoreBusy):
            # Waited for in memory only; answered all the same unless the bot restarts.
            log.warning("waiting for the keys of %s not stored", event.event_id)
        try:
            await self.client.request_room_key(event)
        except Exception as exc:  # already requested, or offline: retrying is enough
            log.debug("room key request for %s: %s", event.session_id, exc)

    def check(self) -> tuple[list[tuple[MatrixRoom, Event]], list[tuple[str, dict[str, Any]]]]:
        """(events that can be read now, with their room; (room, event JSON) of those whose
        wait is over). Both leave the waiting list; call `done` once each is handled."""
        now = time.time()
        readable: list[tuple[MatrixRoom, Event]] = []
        expired: list[tuple[str, dict[str, Any]]] = []
        for event_id, waiting in list(self._waiting.items()):
            room = self.client.rooms.get(waiting.room_id)
            try:
                decrypted = self.client.decrypt_event(waiting.event)
            except EncryptionError:
                decrypted = None
            if decrypted is not None and room is not None:
                del self._waiting[event_id]
                readable.append((room, decrypted))
            elif now >= waiting.give_up_at:
                del self._waiting[event_id]
                self.metrics.decrypt_failures.labels("yes").inc()
                expired.append((waiting.room_id, waiting.event.source))
        return readable, expired

    async def done(self, event_id: str) -> None:
        await self._store.remove(event_id)
