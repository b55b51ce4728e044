"""Leaving purpose rooms whose work is done, so the bot's joined rooms stay bounded by its
DMs plus the purpose rooms still active (issue #17, "bounded growth over a year").

Each run, in this order:
1. at the first run only: every room where the bot is alone is handed to the sync loop's
   leave-if-alone rule (people may have left while the bot was down);
2. the store records which purpose rooms are done (`bot.store.room_retirement`);
3. done rooms with nothing pending in the outbox are left and forgotten, their encryption
   sessions dropped — silently: the people keep the room, only the bot's own membership
   changes. While somebody is still
   only invited the bot stays (leaving could strand the invite), for at most the answer
   window after the room was made;
4. purpose rooms the bot is no longer in (left as the last member, kicked) are recorded as
   left;
5. whatever is still addressed to a room the bot has left fails, logged, instead of waiting
   for the room forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from nio import AsyncClient, MatrixRoom

from bot.chat.errors import NETWORK_ERRORS, SendFailure
from bot.chat.rooms import leave_for_good
from bot.config import Config
from bot.store.outbox import Outbox
from bot.store.room_retirement import JoinedRoom, RetiringRooms
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

DAY_S = 86_400.0
# Rooms left per run: a backlog (the first run after an upgrade may find a year of rooms)
# drains over several runs instead of one burst of membership changes.
LEAVE_BATCH = 100
# A purpose room created this recently may simply not be synced yet: only older ones that
# are missing from the client's rooms count as no longer joined.
UNSYNCED_GRACE_S = 3600.0

LeaveIfAlone = Callable[[MatrixRoom], Awaitable[None]]


class RoomRetirement:
    def __init__(
        self,
        client: AsyncClient,
        rooms: RoomDirectory,
        outbox: Outbox,
        config: Config,
        leave_if_alone: LeaveIfAlone | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.store = RetiringRooms(rooms.db)
        self.answer_s = config.bot.purpose_room_answer_days * DAY_S
        self.leave_if_alone = leave_if_alone
        self.clock = clock
        self._lonely_checked = False

    async def run(self) -> None:
        """One pass; call it after the first sync (the client's rooms must be known)."""
        if not self._lonely_checked:
            await self._leave_lonely_rooms()
            self._lonely_checked = True
        now = self.clock()
        done = await self.store.mark_done(now, self.answer_s)
        if done:
            log.info("%d purpose room(s) done", done)
        try:
            await self._leave_done(now)
        except NETWORK_ERRORS as exc:
            log.info("leaving done rooms postponed: %s", type(exc).__name__)
        await self._note_gone(now)
        await self._fail_orphaned()

    async def _leave_lonely_rooms(self) -> None:
        if self.leave_if_alone is None:
            return
        for room in list(self.client.rooms.values()):
            await self.leave_if_alone(room)

    async def _leave_done(self, now: float) -> None:
        for joined in await self.store.to_leave(LEAVE_BATCH):
            if self._invite_open(joined, now):
                continue
            try:
                await leave_for_good(self.client, joined.room_id)
            except SendFailure as failure:
                if failure.errcode == "M_LIMIT_EXCEEDED":
                    log.info("leaving rooms rate limited; going on with the next run")
                    return
                log.warning("could not leave %s (%s): %s", joined.key, joined.room_id, failure)
                continue
            await self.store.mark_left(joined.key, now)
            log.info("left purpose room %s (%s): its work is done", joined.key, joined.room_id)

    def _invite_open(self, joined: JoinedRoom, now: float) -> bool:
        room = self.client.rooms.get(joined.room_id)
        if room is None or now - joined.created_at >= self.answer_s:
            return False
        return any(user != self.client.user_id for user in room.invited_users)

    async def _note_gone(self, now: float) -> None:
        for joined in await self.store.joined():
            if joined.room_id in self.client.rooms or now - joined.created_at < UNSYNCED_GRACE_S:
                continue
            await self.store.mark_left(joined.key, now)
            log.info("no longer in purpose room %s (%s)", joined.key, joined.room_id)

    async def _fail_orphaned(self) -> None:
        for item in await self.store.orphaned_sends(LEAVE_BATCH * 5):
            log.warning(
                "outbox item %s (%s, %s) not sent: the bot has left purpose room %s",
                item.id,
                item.action,
                item.key,
                item.room_key,
            )
            await self.outbox.mark_failed(item.id, "purpose room retired")
