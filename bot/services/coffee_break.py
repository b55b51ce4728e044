"""Kaffeeküche, part 2: the spontaneous coffee break (`!kaffeepause`).

"I have time now": an offer waits for up to N minutes. The next person who offers is
paired with the best waiting offer (another department first, longest waiting first,
never someone they had a spontaneous break with recently); both get a room of their own
right away. An offer nobody took expires and its owner is told kindly. After the break
a follow-up in the shared room asks "did you talk?"; two 👍 make it a tie for the
network statistics (table `coffee_break_ties`).

Everything lives in the store with its deadline, and every message has an effect key
derived from the offer or break ID, so a restart continues and never repeats anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from bot.config import Config
from bot.services.ports import Messenger, Say
from bot.store.coffee_breaks import (
    BreakOffer,
    CoffeeBreak,
    CoffeeBreakStore,
    Placement,
    is_forgotten,
)
from bot.store.db import Database
from bot.store.room_retirement import RetiringRooms

log = logging.getLogger(__name__)

MIN_MINUTES = 5
MAX_MINUTES = 120
DAY_S = 86400.0
REACTIONS = ("👍", "👎")
OFFER_HISTORY_DAYS = 30
PRUNE_EVERY_S = 3600.0


def room_key(break_id: int) -> str:
    return f"coffeebreak:{break_id}"


def followup_key(break_id: int) -> str:
    return f"coffeebreak:{break_id}:followup"


def break_id_of_followup(target_key: str) -> int | None:
    prefix, _, rest = target_key.partition(":")
    number, _, tail = rest.partition(":")
    if prefix != "coffeebreak" or tail != "followup" or not number.isdigit():
        return None
    return int(number)


def partner_rank(
    mine: Placement | None, theirs: Placement | None, offer: BreakOffer
) -> tuple[int, float, int]:
    """Lower is better: a known different department first, unknown second, the same
    department last; within each, whoever has waited longest."""
    a = mine.department.casefold() if mine and mine.department else None
    b = theirs.department.casefold() if theirs and theirs.department else None
    if a is None or b is None:
        return 1, offer.created_at, offer.id
    kind = 0 if a != b else 2
    return kind, offer.created_at, offer.id


@dataclass(frozen=True)
class Waiting:
    until: float
    minutes: int
    extended: bool


@dataclass(frozen=True)
class Matched:
    break_id: int
    partner: str
    minutes: int


@dataclass(frozen=True)
class OfferRefused:
    reason: Literal["minutes_out_of_range"]


class CoffeeBreakService:
    def __init__(self, config: Config, db: Database, messenger: Messenger) -> None:
        self.config = config
        self.kitchen = config.kitchen
        self.db = db
        self.messenger = messenger
        self.store = CoffeeBreakStore(db)
        self.retiring = RetiringRooms(db)
        self._pruned_at = 0.0

    async def offer(
        self, user_id: str, minutes: int | None, now: float
    ) -> Waiting | Matched | OfferRefused:
        minutes = self.kitchen.break_default_minutes if minutes is None else minutes
        if not MIN_MINUTES <= minutes <= MAX_MINUTES:
            return OfferRefused("minutes_out_of_range")
        until = now + minutes * self.kitchen.seconds_per_minute
        async with self.db.transaction("coffee_break.offer"):
            own = await self.store.open_offer(user_id)
            if own is not None and own.expires_at > now:
                # Still waiting: nobody suitable was free since; just move the deadline.
                await self.store.extend_offer(own.id, minutes, until)
                return Waiting(until, minutes, extended=True)
            if own is not None:
                # Expired a moment ago and the job has not seen it yet: no message needed,
                # the person is here again.
                await self.store.close_offer(own.id, "expired")
            partner = await self._best_partner(user_id, now)
            offer_id = await self.store.add_offer(user_id, minutes, now, until)
            if partner is None:
                return Waiting(until, minutes, extended=False)
            together = min(minutes, partner.minutes)
            length_s = together * self.kitchen.seconds_per_minute
            followup_at = now + length_s + self.kitchen.break_followup_delay_s
            break_id = await self.store.add_break(
                partner.user_id, user_id, together, now, followup_at
            )
            await self.store.close_offer(partner.id, "matched", break_id)
            await self.store.close_offer(offer_id, "matched", break_id)
            await self.messenger.open_room(
                room_key(break_id),
                name=Say("kitchen.break.room_name"),
                invite=[partner.user_id, user_id],
                intro=Say(
                    "kitchen.break.intro",
                    {"first": partner.user_id, "second": user_id, "minutes": together},
                ),
                effect_key=f"coffeebreak:{break_id}:intro",
            )
        return Matched(break_id, partner.user_id, together)

    async def _best_partner(self, user_id: str, now: float) -> BreakOffer | None:
        since = now - self.kitchen.break_repeat_days * DAY_S
        recent = await self.store.recent_partners(user_id, since)
        candidates = [
            o for o in await self.store.open_offers(now, exclude=user_id) if o.user_id not in recent
        ]
        if not candidates:
            return None
        places = await self.store.placements([user_id, *(o.user_id for o in candidates)])
        mine = places.get(user_id)
        return min(candidates, key=lambda o: partner_rank(mine, places.get(o.user_id), o))

    async def cancel(self, user_id: str, now: float) -> bool:
        """Withdraw the open offer; False if there was none."""
        async with self.db.transaction("coffee_break.cancel"):
            own = await self.store.open_offer(user_id)
            if own is None:
                return False
            if own.expires_at <= now:
                # Already over; the expiry message will say so.
                return False
            return await self.store.close_offer(own.id, "cancelled")

    async def open_offer(self, user_id: str) -> BreakOffer | None:
        return await self.store.open_offer(user_id)

    # -- timers --------------------------------------------------------------------------

    async def expire_offers(self, now: float) -> int:
        count = 0
        for offer in await self.store.due_offers(now):
            async with self.db.transaction("coffee_break.expire_offers"):
                if not await self.store.close_offer(offer.id, "expired"):
                    continue
                await self.messenger.tell(
                    offer.user_id,
                    Say(
                        "kitchen.break.expired",
                        {"minutes": offer.minutes, "prefix": self.config.bot.command_prefix},
                    ),
                    effect_key=f"coffeebreak:offer:{offer.id}:expired",
                )
                count += 1
        return count

    async def send_followups(self, now: float) -> int:
        count = 0
        for item in await self.store.due_followups(now):
            async with self.db.transaction("coffee_break.send_followups"):
                current = await self.store.get_break(item.id)
                if current is None or current.followup_sent:
                    continue
                await self.store.mark_followup_sent(item.id)
                if is_forgotten(item.user_a) or is_forgotten(item.user_b):
                    continue  # someone asked to be forgotten: nothing to ask
                if await self.retiring.is_retired(room_key(item.id)):
                    # The bot is out of the room (both left it): nobody to ask.
                    log.info("follow-up of coffee break %d not asked: room retired", item.id)
                    continue
                await self.messenger.post_in_room(
                    room_key(item.id),
                    Say("kitchen.break.followup"),
                    effect_key=followup_key(item.id),
                    reactions=REACTIONS,
                )
                count += 1
        return count

    async def tick(self) -> None:
        now = time.time()
        await self.expire_offers(now)
        await self.send_followups(now)
        if now - self._pruned_at > PRUNE_EVERY_S:
            await self.prune(now)

    async def prune(self, now: float) -> int:
        """Retention: breaks and ties after `kitchen.keep_history_days`, closed offers
        after OFFER_HISTORY_DAYS."""
        self._pruned_at = now
        return await self.store.prune(
            now - self.kitchen.keep_history_days * DAY_S, now - OFFER_HISTORY_DAYS * DAY_S
        )

    # -- "did you talk?" -----------------------------------------------------------------

    async def answer(
        self, target_key: str, user_id: str, answer: Literal["yes", "no"], withdrawn: bool
    ) -> bool:
        """A 👍/👎 (or its withdrawal) on a follow-up. False if the message is not ours."""
        break_id = break_id_of_followup(target_key)
        if break_id is None:
            return False
        async with self.db.transaction("coffee_break.answer"):
            item = await self.store.get_break(break_id)
            if item is None:
                return True
            side: Literal["a", "b"]
            if user_id == item.user_a:
                side, current = "a", item.answer_a
            elif user_id == item.user_b:
                side, current = "b", item.answer_b
            else:
                return True  # someone else in the room: not their break to confirm
            if withdrawn:
                if current != answer:
                    return True
                new: str | None = None
            else:
                new = answer
            await self.store.set_answer(break_id, side, new)
            updated = await self.store.get_break(break_id)
            assert updated is not None
            await self._settle_tie(updated, time.time())
        return True

    async def _settle_tie(self, item: CoffeeBreak, now: float) -> None:
        both_yes = item.answer_a == "yes" and item.answer_b == "yes"
        if not both_yes:
            await self.store.drop_tie(item.id)
            return
        if item.user_a is None or item.user_b is None:
            return
        if is_forgotten(item.user_a) or is_forgotten(item.user_b):
            return
        places = await self.store.placements([item.user_a, item.user_b])
        created = await self.store.record_tie(
            item, places.get(item.user_a, Placement()), places.get(item.user_b, Placement()), now
        )
        if created:
            await self.messenger.post_in_room(
                room_key(item.id),
                Say("kitchen.break.thanks"),
                effect_key=f"coffeebreak:{item.id}:thanks",
            )


class CoffeeBreakPersonalData:
    """Offers, spontaneous breaks and their answers. On `!vergessen` the offers go and
    the person's ID is removed from breaks and ties (the other person's history stays,
    with "a former person")."""

    section = "coffee_breaks"

    def __init__(self, db: Database, config: Config) -> None:
        self.store = CoffeeBreakStore(db)
        directory = config.directory
        self.keep_places = [*directory.departments, *directory.municipalities]

    async def export(self, user_id: str) -> object:
        return await self.store.export(user_id)

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        await self.store.forget(user_id, self.keep_places)
