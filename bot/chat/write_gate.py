"""What the loops need from read-only mode: the sync loop, its room actions, the
dispatcher and the outbox sender depend on this `WriteGate`, not on `ReadOnlyMode`
(`bot.chat.readonly`), which implements it. `AlwaysWritable` stands in where there is no
read-only mode (tests that build the loops on a store that works), so no loop has to ask
whether there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nio import Event, MatrixRoom

log = logging.getLogger(__name__)

# Does a put-off action: (key, kind, arguments); the sync loop registers its own.
Perform = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class WriteGate(Protocol):
    async def wait_writable(self) -> None:
        """Return once the store takes writes (at once while it does)."""

    async def refuse(self, room: MatrixRoom, event: Event) -> None:
        """`event` needed a write that failed: tell its sender nothing was stored."""

    async def defer(self, key: str, kind: str, args: dict[str, Any]) -> None:
        """A room action needed a write that failed: do it once the store takes writes
        again, through what `perform_with` registered."""

    def perform_with(self, perform: Perform) -> None:
        """What `defer` puts off is done through `perform`."""


class AlwaysWritable:
    """No read-only mode: nothing waits, and a write that fails anyway is only logged
    (nobody would tell the sender, or do the put-off action later)."""

    async def wait_writable(self) -> None:
        return

    async def refuse(self, room: MatrixRoom, event: Event) -> None:
        log.error("store unavailable, event %s not handled", event.event_id)

    async def defer(self, key: str, kind: str, args: dict[str, Any]) -> None:
        log.error("store unavailable, %s not done", key)

    def perform_with(self, perform: Perform) -> None:
        return  # nothing is ever put off


# Holds no state: one instance serves as everybody's default.
ALWAYS_WRITABLE = AlwaysWritable()
