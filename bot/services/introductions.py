"""`!vorstellen`: asking a colleague found by `!suche` for an introduction. The other person
gets a DM with 👍/👎 (or answers `ja`/`nein`); only a 👍 opens a shared room with an
introduction, a 👎 or no answer within `ANSWER_DAYS` is told to the requester the same kind
way. Limits keep anybody from being flooded with requests.

The base of `ColleagueSearchService`, which supplies the store, the profiles, the messenger
and the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.domain.colleague_search import parse_number
from bot.domain.profile import Profile
from bot.services.ports import Messenger, Say
from bot.services.profiles import ProfileService
from bot.services.rounds import place
from bot.store.colleague_search import ColleagueSearchStore, Introduction, intro_key
from bot.store.db import Database

HOUR_S = 3600.0
DAY_S = 86400.0
# A result list is needed for `!vorstellen` only; it goes a day after the search.
RESULTS_KEEP_S = DAY_S
# Introduction requests a person may send per day, and that may wait for one person's
# answer at once: nobody is flooded with requests.
INTRODUCTIONS_PER_DAY = 3
OPEN_ASKS_PER_PERSON = 3
ANSWER_DAYS = 7
REACTIONS = ("👍", "👎")

Clock = Callable[[], float]


IntroOutcomeCode = Literal[
    "asked",
    "bad_number",
    "no_search",
    "search_running",
    "out_of_range",
    "not_findable",
    "already_asked",
    "already_introduced",
    "asked_recently",
    "rate_limited",
    "busy",
]


@dataclass(frozen=True)
class IntroOutcome:
    code: IntroOutcomeCode
    number: int = 0
    count: int = 0  # results in the list, for "out_of_range"
    wait_hours: int = 0


AnswerOutcome = Literal["accepted", "declined", "not_found", "not_yours", "settled", "expired"]


def ask_key(intro_id: int) -> str:
    return f"{intro_key(intro_id)}:ask"


def intro_of_ask_key(key: str) -> int | None:
    """The introduction whose request message has this effect key."""
    prefix, _, rest = key.partition(":")
    number, _, tail = rest.partition(":")
    if prefix != "intro" or tail != "ask" or not number.isdigit():
        return None
    return int(number)


def display_name(profile: Profile | None) -> str | Say:
    """Only a name the person gave: their Matrix ID would let others write to them
    without being introduced."""
    if profile is not None and profile.display_name:
        return profile.display_name
    return Say("search.unnamed")


class Introductions:
    db: Database
    store: ColleagueSearchStore
    profiles: ProfileService
    messenger: Messenger
    prefix: str
    clock: Clock

    async def introduce(self, actor: str, text: str) -> IntroOutcome:
        """`!vorstellen <Nr>`: ask result Nr of the person's last search for an introduction.
        Called inside the command's transaction."""
        number = parse_number(text)
        if number is None:
            return IntroOutcome("bad_number")
        now = self.clock()
        async with self.db.transaction("introductions.introduce"):
            search = await self.store.latest_search(actor)
            if search is None or search.created_at < now - RESULTS_KEEP_S:
                return IntroOutcome("no_search", number)
            if search.done_at is None:
                return IntroOutcome("search_running", number)
            if not 1 <= number <= search.shown:
                return IntroOutcome("out_of_range", number, count=search.shown)
            results = {r.rank: r for r in await self.store.results(search.id)}
            result = results.get(number)
            if result is None:  # no longer findable, or gone
                return IntroOutcome("not_findable", number)
            target = result.user_id
            if not await self.store.is_findable(target):
                return IntroOutcome("not_findable", number)
            refused = await self._refusal(actor, target, number, now)
            if refused is not None:
                return refused
            requester = await self.profiles.ensure(actor, datetime.fromtimestamp(now, UTC))
            intro_id = await self.store.add_intro(
                actor, target, search.query, result.phrase, now, now + ANSWER_DAYS * DAY_S
            )
            await self.messenger.tell(
                target,
                Say(
                    "search.intro.ask",
                    {
                        "name": requester.display_name or actor,
                        "place": place(requester),
                        "query": search.query,
                        "phrase": result.phrase,
                        "days": ANSWER_DAYS,
                        "prefix": self.prefix,
                    },
                ),
                effect_key=ask_key(intro_id),
                reactions=REACTIONS,
            )
            other = await self.profiles.get(target)
            await self.messenger.tell(
                actor,
                Say(
                    "search.intro.requested",
                    {"number": number, "name": display_name(other), "days": ANSWER_DAYS},
                ),
                effect_key=f"{intro_key(intro_id)}:requested",
            )
        return IntroOutcome("asked", number)

    async def _refusal(
        self, actor: str, target: str, number: int, now: float
    ) -> IntroOutcome | None:
        last = await self.store.last_between(actor, target)
        if last is not None and last.state == "asked":
            return IntroOutcome("already_asked", number)
        back = await self.store.last_between(target, actor)
        if any(i is not None and i.state == "accepted" for i in (last, back)):
            return IntroOutcome("already_introduced", number)
        if last is not None:
            return IntroOutcome("asked_recently", number)
        requested = await self.store.requested_since(actor, now - DAY_S)
        if len(requested) >= INTRODUCTIONS_PER_DAY:
            free_at = requested[len(requested) - INTRODUCTIONS_PER_DAY] + DAY_S
            hours = max(1, math.ceil((free_at - now) / HOUR_S))
            return IntroOutcome("rate_limited", number, wait_hours=hours)
        if len(await self.store.open_asks_of(target)) >= OPEN_ASKS_PER_PERSON:
            return IntroOutcome("busy", number)
        return None

    async def answer(self, actor: str, intro_id: int, yes: bool) -> AnswerOutcome:
        """The asked person's 👍/👎 (or `ja`/`nein`). Nothing happens for anyone else."""
        now = self.clock()
        async with self.db.transaction("introductions.answer"):
            intro = await self.store.intro(intro_id)
            if intro is None:
                return "not_found"
            if intro.target != actor:
                return "not_yours"
            if intro.state == "expired" or (intro.state == "asked" and intro.expires_at <= now):
                await self._expire(intro, now)
                return "expired"
            if intro.state != "asked" or intro.requester is None:
                return "settled"
            if yes:
                await self._accept(intro, now)
                return "accepted"
            await self.store.settle(intro.id, "declined", now)
            await self._tell_not_now(intro, "not_now")
        return "declined"

    async def answer_text(self, actor: str, yes: bool) -> AnswerOutcome | Literal["none", "many"]:
        """A plain `ja`/`nein` in the DM: the answer to the one open request, if there is
        exactly one ("none": not meant for us; "many": the person must pick by reaction)."""
        now = self.clock()
        open_asks = [i for i in await self.store.open_asks_of(actor) if i.expires_at > now]
        if not open_asks:
            return "none"
        if len(open_asks) > 1:
            return "many"
        return await self.answer(actor, open_asks[0].id, yes)

    async def _accept(self, intro: Introduction, now: float) -> None:
        assert intro.requester is not None and intro.target is not None
        people = await self.profiles.get_many([intro.requester, intro.target])
        requester, target = people.get(intro.requester), people.get(intro.target)
        await self.store.settle(intro.id, "accepted", now)
        await self.messenger.open_room(
            intro_key(intro.id),
            name=Say("search.room.name"),
            invite=[intro.requester, intro.target],
            intro=Say(
                "search.room.intro",
                {
                    "a_name": _name_or_id(requester, intro.requester),
                    "a_place": place(requester) if requester else "–",
                    "b_name": _name_or_id(target, intro.target),
                    "b_place": place(target) if target else "–",
                    "query": intro.query or "–",
                    "phrase": intro.phrase or "–",
                },
            ),
            effect_key=f"{intro_key(intro.id)}:room",
        )
        await self.messenger.tell(
            intro.requester,
            Say("search.intro.accepted", {"name": display_name(target)}),
            effect_key=f"{intro_key(intro.id)}:accepted",
        )

    async def _tell_not_now(self, intro: Introduction, suffix: str) -> None:
        """Kindly, and the same whether the person said no or did not answer."""
        if intro.requester is None:
            return
        target = await self.profiles.get(intro.target) if intro.target else None
        await self.messenger.tell(
            intro.requester,
            Say("search.intro.not_now", {"name": display_name(target), "prefix": self.prefix}),
            effect_key=f"{intro_key(intro.id)}:{suffix}",
        )

    async def _expire(self, intro: Introduction, now: float) -> None:
        if await self.store.settle(intro.id, "expired", now):
            await self._tell_not_now(intro, "not_now")

    async def expire_due(self, now: float) -> None:
        """Requests nobody answered within `ANSWER_DAYS`."""
        for intro in await self.store.due_intros(now):
            async with self.db.transaction("introductions.expire_due"):
                current = await self.store.intro(intro.id)
                if current is not None and current.state == "asked":
                    await self._expire(current, now)


def _name_or_id(profile: Profile | None, user_id: str) -> str:
    """In the shared room both have agreed: the Matrix ID is fine where no name is known."""
    return (profile.display_name if profile else None) or user_id
