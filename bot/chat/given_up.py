"""The admin room hears when the outbox gives items up (review finding S-05): once, in
aggregate, at most every `every_s`; a count and where to look, nothing personal.

A notice waits `gather_s` after the first give-up it reports, so that a burst (a message
and its reaction buttons, a room and everything queued for it) makes one notice.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.chat.content import notice
from bot.i18n import Lang
from bot.i18n.render import render
from bot.store.outbox import Outbox, OutboxItem

KEY_PREFIX = "outbox:given-up:"
NOTICE_EVERY_S = 3600.0
GATHER_S = 60.0


class GivenUpNotices:
    def __init__(
        self,
        outbox: Outbox,
        admin_room: str | None,
        lang: Lang,
        *,
        every_s: float = NOTICE_EVERY_S,
        gather_s: float = GATHER_S,
    ) -> None:
        self.outbox = outbox
        self.admin_room = admin_room
        self.lang = lang
        self.every_s = every_s
        self.gather_s = gather_s
        self.count = 0  # given up since the last notice
        self._first = 0.0  # time of the first of them
        self._last = float("-inf")  # time of the last notice

    def note(self, item: OutboxItem) -> None:
        # A notice that cannot be delivered is not announced by another one.
        if self.admin_room is None or item.key.startswith(KEY_PREFIX):
            return
        if not self.count:
            self._first = time.time()
        self.count += 1

    def due_at(self) -> float | None:
        """When the next notice is to be queued (None: nothing to tell)."""
        if not self.count:
            return None
        return max(self._first + self.gather_s, self._last + self.every_s)

    async def post_due(self) -> bool:
        """Queue the notice if it is due; True if queued. The key names the hour, so a
        restart does not repeat a notice within it."""
        due = self.due_at()
        if self.admin_room is None or due is None or due > time.time():
            return False
        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
        content = notice(render("outbox.given_up", self.lang, count=self.count))
        if not await self.outbox.enqueue(
            KEY_PREFIX + hour, "message", "room", self.admin_room, {"content": content}
        ):
            # This hour's notice went out before a restart: the count waits for the next.
            self._last = time.time()
            return False
        self.count = 0
        self._last = time.time()
        return True
