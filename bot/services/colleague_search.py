"""Colleague search: `!suche` finds the people whose tasks are closest in meaning to a text,
among those who agreed to be findable; `!vorstellen` asks one of them for an introduction,
and only their 👍 opens a shared room (`bot.services.introductions`).

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
    parse_search,
    rank_colleagues,
)
from bot.domain.phrases import split_tasks
from bot.domain.profile import Profile
from bot.services.introductions import (
    DAY_S,
    HOUR_S,
    RESULTS_KEEP_S,
    Clock,
    Introductions,
)
from bot.services.ports import Messenger, Say
from bot.services.profile_vectors import KIND as PROFILE_KIND
from bot.services.profile_vectors import profile_phrases
from bot.services.profiles import ProfileService
from bot.services.rounds import place
from bot.services.vectors import VectorService
from bot.store.colleague_search import (
    ColleagueSearchStore,
    ResultRow,
    SearchRow,
    intro_key,
    search_key,
)
from bot.store.db import Database

log = logging.getLogger(__name__)

SEARCHES_PER_HOUR = 10
# Settled requests are kept this long, so the same person is not asked twice by the same
# requester within it; then they are deleted.
REPEAT_AFTER_DAYS = 90
# The periodic job: searches a restart left pending, due requests, retention.
TICK_S = 60.0
FORMER = "eine ehemalige Person"


@dataclass(frozen=True)
class SearchQueued:
    search_id: int
    query: str


@dataclass(frozen=True)
class SearchRefused:
    reason: Literal["too_short", "too_long", "person", "rate_limited"]
    wait_minutes: int = 0


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


class ColleagueSearchService(Introductions):
    """Searches, introductions (`Introductions`) and the person's data about them (a
    PersonalDataOwner)."""

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
        async with self.db.transaction("colleague_search.set_findable"):
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
        async with self.db.transaction("colleague_search.start"):
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
                    split_tasks(search.query) or (search.query,), query=True
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
        async with self.db.transaction("colleague_search.run_search"):
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
        async with self.db.transaction("colleague_search.failed"):
            if await self.store.finish_search(search.id, [], "words", self.clock()):
                await self.messenger.tell(
                    search.user_id,
                    Say("search.failed", {"prefix": self.prefix}),
                    effect_key=f"{search_key(search.id)}:results",
                )

    # -- the periodic job ----------------------------------------------------------------

    async def tick(self) -> None:
        """Pending searches (left by a restart), due requests, retention."""
        now = self.clock()
        await self.run_pending()
        await self.expire_due(now)
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


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
