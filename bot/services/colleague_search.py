"""Colleague search: `!suche` finds the people whose tasks are closest in meaning to a text,
among those who agreed to be findable; `!vorstellen` asks one of them for an introduction,
and only their 👍 opens a shared room.

The search itself runs outside the command: the handler (inside the event's transaction)
only checks the rate limit, stores the search and answers "einen Moment"; a runner task,
woken right after, encodes the text on the encoder's thread, ranks the candidates in a
worker thread and then, in one short transaction, stores the numbered results and queues
them to the person. A periodic job runs whatever a restart left pending, expires
unanswered introduction requests and applies the retention limits (docs/search.md).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bot.domain.colleague_search import (
    LIMIT,
    Candidate,
    Hit,
    SearchError,
    parse_number,
    parse_search,
    rank_colleagues,
)
from bot.domain.phrases import split_phrases
from bot.domain.profile import Profile
from bot.services.ports import Messenger, Say
from bot.services.profile_vectors import KIND as PROFILE_KIND
from bot.services.profile_vectors import profile_phrases
from bot.services.profiles import ProfileService
from bot.services.rounds import place
from bot.services.vectors import VectorService
from bot.store.colleague_search import (
    ColleagueSearchStore,
    Introduction,
    ResultRow,
    SearchRow,
    intro_key,
    search_key,
)
from bot.store.db import Database

log = logging.getLogger(__name__)

HOUR_S = 3600.0
DAY_S = 86400.0
SEARCHES_PER_HOUR = 10
# Introduction requests a person may send per day, and that may wait for one person's
# answer at once: nobody is flooded with requests.
INTRODUCTIONS_PER_DAY = 3
OPEN_ASKS_PER_PERSON = 3
ANSWER_DAYS = 7
# A result list is needed for `!vorstellen` only; it goes a day after the search.
RESULTS_KEEP_S = DAY_S
# Settled requests are kept this long, so the same person is not asked twice by the same
# requester within it; then they are deleted.
REPEAT_AFTER_DAYS = 90
REACTIONS = ("👍", "👎")
# The periodic job: searches a restart left pending, due requests, retention.
TICK_S = 60.0
FORMER = "eine ehemalige Person"

Clock = Callable[[], float]


@dataclass(frozen=True)
class SearchQueued:
    search_id: int
    query: str


@dataclass(frozen=True)
class SearchRefused:
    reason: Literal["too_short", "too_long", "person", "rate_limited"]
    wait_minutes: int = 0


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


@dataclass
class _Runner:
    """Runs `work` in its own task whenever woken; a wake during a run means one run more."""

    work: Callable[[], Any]
    dirty: bool = False
    # Off until the bot starts its jobs (tests and tools run pending searches themselves).
    running: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def wake(self) -> None:
        self.dirty = True
        if self.running and (self.task is None or self.task.done()):
            # A fresh context: the waker may be inside a store transaction.
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name="colleague-search", context=contextvars.Context()
            )

    async def _run(self) -> None:
        while self.dirty:
            self.dirty = False
            try:
                await self.work()
            except Exception:
                # The periodic job tries again.
                log.exception("colleague search: running pending searches failed")
                return


class ColleagueSearchService:
    """Searches, introductions and the person's data about them (a PersonalDataOwner)."""

    section = "colleague_search"

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        profiles: ProfileService,
        vectors: VectorService,
        *,
        prefix: str = "!",
        clock: Clock = time.time,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.profiles = profiles
        self.vectors = vectors
        self.prefix = prefix
        self.clock = clock
        self.store = ColleagueSearchStore(db)
        self._runner = _Runner(self.run_pending)
        self._pruned_at = 0.0

    def wake(self) -> None:
        """Run pending searches now (safe inside a transaction: the run waits for it)."""
        self._runner.wake()

    def start_runner(self) -> None:
        """From now on a new search is run at once (called when the bot starts its jobs)."""
        self._runner.running = True
        self._runner.wake()

    # -- findable ------------------------------------------------------------------------

    async def set_findable(self, actor: str, on: bool) -> bool:
        """`!profil auffindbar ja|nein`; returns whether the person was findable before.
        Saying no takes the person out of every result list at once."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        async with self.db.transaction():
            before = await self.profiles.get(actor)
            if not on and before is None:
                return False
            if on:
                before = await self.profiles.ensure(actor, now)
            await self.profiles.repo.update(actor, now, findable=on)
            if not on:
                await self.store.drop_from_results(actor)
        return before is not None and before.findable

    # -- searching -----------------------------------------------------------------------

    async def start(self, actor: str, text: str) -> SearchQueued | SearchRefused:
        """Store a search for the runner; called inside the command's transaction."""
        parsed = parse_search(text)
        if isinstance(parsed, SearchError):
            return SearchRefused(parsed.value)
        now = self.clock()
        async with self.db.transaction():
            recent = await self.store.searches_since(actor, now - HOUR_S)
            if len(recent) >= SEARCHES_PER_HOUR:
                free_at = recent[len(recent) - SEARCHES_PER_HOUR] + HOUR_S
                return SearchRefused("rate_limited", max(1, math.ceil((free_at - now) / 60)))
            search_id = await self.store.add_search(actor, parsed, now)
        self.wake()
        return SearchQueued(search_id, parsed)

    async def run_pending(self) -> int:
        """Answer every search not answered yet; how many."""
        tried: set[int] = set()
        while True:
            pending = [s for s in await self.store.pending_searches() if s.id not in tried]
            if not pending:
                return len(tried)
            for search in pending:
                tried.add(search.id)
                try:
                    await self.run_search(search)
                except Exception:
                    log.exception("colleague search %d failed", search.id)
                    await self._failed(search)

    async def run_search(self, search: SearchRow) -> list[Hit]:
        ids = await self.store.findable_ids(exclude=search.user_id)
        found = await self.profiles.get_many(ids)
        people = [found[i] for i in ids if i in found]
        phrases = {p.user_id: profile_phrases(p) for p in people}
        stored = await self.vectors.vectors(PROFILE_KIND, phrases)
        query_vectors = None
        if self.vectors.available:
            try:
                query_vectors = await self.vectors.encode(
                    split_phrases(search.query) or (search.query,), query=True
                )
            except Exception:
                log.exception("encoding a search failed; comparing words instead")
        candidates = [
            Candidate(p.user_id, phrases[p.user_id], stored.get(p.user_id)) for p in people
        ]
        # Ranking thousands of phrase vectors is CPU work: off the event loop.
        hits = await asyncio.to_thread(
            rank_colleagues, search.query, query_vectors, candidates, LIMIT
        )
        method: Literal["meaning", "words"] = "words" if query_vectors is None else "meaning"
        async with self.db.transaction():
            # Whoever said "no" meanwhile is not shown.
            hits = [h for h in hits if await self.store.is_findable(h.key)]
            rows = [ResultRow(i, h.key, h.phrase, h.score) for i, h in enumerate(hits, 1)]
            if not await self.store.finish_search(search.id, rows, method, self.clock()):
                return hits
            searcher = await self.profiles.get(search.user_id)
            await self.messenger.tell(
                search.user_id,
                self._results(search.query, hits, found, method, searcher),
                effect_key=f"{search_key(search.id)}:results",
            )
        return hits

    def _results(
        self,
        query: str,
        hits: list[Hit],
        profiles: dict[str, Profile],
        method: str,
        searcher: Profile | None,
    ) -> Say:
        tip = (
            Say("search.empty")
            if searcher is not None and searcher.findable
            else Say("search.tip.findable", {"prefix": self.prefix})
        )
        if not hits:
            return Say("search.none", {"query": query, "prefix": self.prefix, "tip": tip})
        lines: dict[str, object] = {f"r{i}": Say("search.empty") for i in range(1, LIMIT + 1)}
        for rank, hit in enumerate(hits, 1):
            profile = profiles[hit.key]
            params = {"rank": rank, "place": place(profile), "phrase": hit.phrase}
            if profile.display_name:
                lines[f"r{rank}"] = Say("search.result", {**params, "name": profile.display_name})
            else:
                lines[f"r{rank}"] = Say("search.result_unnamed", params)
        note = Say("search.note.words" if method == "words" else "search.empty")
        return Say(
            "search.results",
            {"query": query, "prefix": self.prefix, "tip": tip, "note": note, **lines},
        )

    async def _failed(self, search: SearchRow) -> None:
        async with self.db.transaction():
            if await self.store.finish_search(search.id, [], "words", self.clock()):
                await self.messenger.tell(
                    search.user_id,
                    Say("search.failed", {"prefix": self.prefix}),
                    effect_key=f"{search_key(search.id)}:results",
                )

    # -- introductions -------------------------------------------------------------------

    async def introduce(self, actor: str, text: str) -> IntroOutcome:
        """`!vorstellen <Nr>`: ask result Nr of the person's last search for an introduction.
        Called inside the command's transaction."""
        number = parse_number(text)
        if number is None:
            return IntroOutcome("bad_number")
        now = self.clock()
        async with self.db.transaction():
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
        async with self.db.transaction():
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

    # -- the periodic job ----------------------------------------------------------------

    async def tick(self) -> None:
        """Pending searches (left by a restart), due requests, retention."""
        now = self.clock()
        await self.run_pending()
        for intro in await self.store.due_intros(now):
            async with self.db.transaction():
                current = await self.store.intro(intro.id)
                if current is not None and current.state == "asked":
                    await self._expire(current, now)
        if now - self._pruned_at >= HOUR_S:
            self._pruned_at = now
            await self.prune(now)

    async def prune(self, now: float) -> tuple[int, int]:
        searches = await self.store.prune_searches(now - RESULTS_KEEP_S)
        intros = await self.store.prune_intros(now - REPEAT_AFTER_DAYS * DAY_S)
        return searches, intros

    # -- personal data -------------------------------------------------------------------

    async def export(self, user_id: str) -> dict[str, Any]:
        searches = [
            {
                "text": search.query,
                "searched_at": _iso(search.created_at),
                "results": [
                    {"number": r.rank, "colleague": r.user_id, "task": r.phrase} for r in results
                ],
            }
            for search, results in await self.store.searches_of(user_id)
        ]
        requested, received = [], []
        for intro in await self.store.intros_of(user_id):
            item = {
                "state": intro.state,
                "asked_at": _iso(intro.created_at),
                "answered_at": None if intro.answered_at is None else _iso(intro.answered_at),
            }
            if intro.requester == user_id:
                requested.append({"to": intro.target or FORMER, **item, "search": intro.query})
            if intro.target == user_id:
                received.append({"from": intro.requester or FORMER, **item})
        return {
            "searches": searches,
            "introductions_requested": requested,
            "introductions_received": received,
        }

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        for intro in await self.store.forget(user_id, self.clock()):
            if intro.requester is not None:
                await self.messenger.tell(
                    intro.requester,
                    Say("search.intro.gone", {"prefix": self.prefix}),
                    effect_key=f"{intro_key(intro.id)}:gone",
                )


def _name_or_id(profile: Profile | None, user_id: str) -> str:
    """In the shared room both have agreed: the Matrix ID is fine where no name is known."""
    return (profile.display_name if profile else None) or user_id


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
