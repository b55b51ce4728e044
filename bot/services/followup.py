"""The follow-up "did you meet?" in a coffee group's or circle's room, and its answers
(reactions or `!getroffen ja|nein`).

The follow-up of every group is stored with its due time; a periodic job posts the due ones,
each with a deterministic effect key.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

# The shared yes/no emoji, under the names this module and bot.services.coffee use.
from bot.domain.answers import NO_EMOJI, YES_EMOJI
from bot.services.ports import Messenger, Say
from bot.services.rounds import Clock
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import GroupRow
from bot.store.db import Database
from bot.store.room_retirement import RetiringRooms

log = logging.getLogger(__name__)

BUTTONS = ("👍", "👎")
FOLLOWUP_BATCH = 200

AnswerStatus = Literal["recorded", "withdrawn", "no_group", "not_member", "unchanged"]


@dataclass(frozen=True)
class FollowupAnswer:
    status: AnswerStatus
    group: GroupRow | None = None
    met: bool | None = None


def followup_say(group: GroupRow, prefix: str) -> Say:
    if group.kind == "circle":
        return Say("circles.followup", {"topic": group.topic or "", "prefix": prefix})
    return Say(f"coffee.followup.{group.kind}", {"prefix": prefix})


class FollowUps:
    """Posts due follow-ups and records the answers, for coffee groups and circles alike."""

    def __init__(
        self, db: Database, messenger: Messenger, clock: Clock = time.time, prefix: str = "!"
    ) -> None:
        self.db = db
        self.prefix = prefix
        self.store = CoffeeStore(db)
        self.retiring = RetiringRooms(db)
        self.messenger = messenger
        self.clock = clock

    async def send_due(self) -> int:
        """Queue every due follow-up (in chunks, each its own transaction); returns how many
        were queued (a retired room's is marked sent without asking)."""
        sent = 0
        while True:
            async with self.db.transaction("followup.send_due"):
                now = self.clock()
                due = await self.store.due_followups(now, FOLLOWUP_BATCH)
                for group in due:
                    await self.store.mark_followup_sent(group.id, now)
                    if await self.retiring.is_retired(group.room_key):
                        # The bot is out of the room (everyone else left it): nobody to ask.
                        log.info("follow-up of %s not asked: room retired", group.room_key)
                        continue
                    await self.messenger.post_in_room(
                        group.room_key,
                        followup_say(group, self.prefix),
                        effect_key=group.followup_key,
                        reactions=BUTTONS,
                    )
                    sent += 1
            if len(due) < FOLLOWUP_BATCH:
                return sent

    async def on_reaction(
        self, sender: str, target_key: str, emoji: str, withdrawn: bool
    ) -> FollowupAnswer:
        group = await self.store.group_by_followup_key(target_key)
        if group is None:
            return FollowupAnswer("no_group")
        if emoji not in YES_EMOJI and emoji not in NO_EMOJI:
            return FollowupAnswer("unchanged", group)
        if not await self.store.is_member(group.id, sender):
            return FollowupAnswer("not_member", group)
        if withdrawn:
            taken_back = await self.store.withdraw_answer(group.id, sender, emoji)
            return FollowupAnswer("withdrawn" if taken_back else "unchanged", group)
        met = emoji in YES_EMOJI
        await self.store.set_answer(group.id, sender, met, emoji, self.clock())
        return FollowupAnswer("recorded", group, met)

    async def answer_by_text(self, sender: str, room_id: str, met: bool) -> FollowupAnswer:
        """`!getroffen ja|nein`: in a group's room for that group, elsewhere (the DM) for
        the person's latest group."""
        group = await self.store.group_in_room(room_id)
        if group is None:
            group = await self.store.latest_group_of(sender)
            if group is None:
                return FollowupAnswer("no_group")
        if not await self.store.is_member(group.id, sender):
            return FollowupAnswer("not_member", group)
        await self.store.set_answer(group.id, sender, met, None, self.clock())
        return FollowupAnswer("recorded", group, met)
