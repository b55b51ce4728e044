"""Weekly coffee matches (Kaffeerunde): plan a round, open a room per pair or trio with an
introduction that says why they were matched, follow up, and ask people who never answer
whether they want to pause.

The matching runs in a worker thread, outside any store transaction. The round, its groups
and the "pause?" questions are then stored in one transaction (a round key runs at most
once); rooms and introductions are queued in chunks afterwards (see `Rounds`), so a crash at
any point sends nothing twice and loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.config import CoffeeConfig, Config
from bot.domain.answers import NO_EMOJI, YES_EMOJI
from bot.domain.matching import (
    MatchPerson,
    MatchRules,
    PastPair,
    RoundPlan,
    plan_round,
    summarise,
)
from bot.domain.profile import Profile
from bot.domain.similarity import Document, Similarity
from bot.services.followup import BUTTONS, FollowUps
from bot.services.ports import Messenger, Say
from bot.services.profile_vectors import profile_documents
from bot.services.profiles import ProfileService
from bot.services.rounds import Clock, JobStep, Planned, PlannedGroup, Rounds, name_of, place
from bot.services.task_space import matching_similarity
from bot.services.vectors import VectorService
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import FigureRow, GroupRow, RoundRow, is_placeholder
from bot.store.db import Database

log = logging.getLogger(__name__)

STARTERS = 8  # coffee.starter.1 .. coffee.starter.8
PAUSE_KEY = "coffee:pause-question:"
PAUSE_WEEKS = 4
# Old meetings still weigh a little after the ban; older history changes nothing.
HISTORY_FADE_ROUNDS = 4 * MatchRules().repeat_fade_rounds
# Nobody said which languages they speak: German, in a German administration.
DEFAULT_LANGUAGES = frozenset({"de"})
DAY_S = 86400.0
# In a group's stored `shared`: between the phrases (one per member) that explain the match by
# meaning, e.g. ("Vergabe von Kita-Plätzen", "↔", "Betreuungsplätze vermitteln"). Shared words
# never are this sign, and it reads as meant in a data export.
CLOSE = "↔"


@dataclass(frozen=True)
class RoundFigures:
    """Aggregates of a round or a preview; never anything per person."""

    people: int
    groups: int
    trios: int
    unmatched: int
    cross_department_share: float
    cross_municipality_share: float
    mean_similarity: float

    def params(self) -> dict[str, object]:
        return {
            "people": self.people,
            "groups": self.groups,
            "trios": self.trios,
            "unmatched": self.unmatched,
            "cross_department": 100 * self.cross_department_share,
            "cross_municipality": 100 * self.cross_municipality_share,
            "similarity": self.mean_similarity,
        }


def figures_of(rows: list[FigureRow], people: int) -> RoundFigures:
    """The figures of a stored round, from its members' departments and municipalities."""
    groups: dict[int, list[FigureRow]] = defaultdict(list)
    for row in rows:
        groups[row.group_id].append(row)
    pairs = cross_department = cross_municipality = 0
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs += 1
                cross_department += a.department != b.department
                cross_municipality += a.municipality != b.municipality
    similarities = [ms[0].similarity or 0.0 for ms in groups.values()]
    return RoundFigures(
        people=people,
        groups=len(groups),
        trios=sum(len(ms) == 3 for ms in groups.values()),
        unmatched=people - len(rows),
        cross_department_share=cross_department / pairs if pairs else 0.0,
        cross_municipality_share=cross_municipality / pairs if pairs else 0.0,
        mean_similarity=sum(similarities) / len(similarities) if similarities else 0.0,
    )


def starter(room_key: str) -> Say:
    return Say(f"coffee.starter.{zlib.crc32(room_key.encode()) % STARTERS + 1}")


def why(kind: str, shared: tuple[str, ...]) -> Say:
    """The reason in the introduction: the members' closest phrases, or shared words."""
    if not shared:
        return Say("coffee.why.none")
    if len(shared) > 1 and all(mark == CLOSE for mark in shared[1::2]):
        phrases = shared[::2]
        if len({p.casefold() for p in phrases}) == 1:
            return Say(f"coffee.why.same.{kind}", {"a": phrases[0]})
        return Say(f"coffee.why.close.{kind}", dict(zip("abc", phrases, strict=False)))
    return Say(f"coffee.why.{kind}", {"shared": ", ".join(shared)})


def explained(phrases: tuple[str, ...], words: tuple[str, ...]) -> tuple[str, ...]:
    """What a group stores as the reason for its match (see `CLOSE` and `why`)."""
    if not phrases:
        return words
    return tuple(item for phrase in phrases for item in (CLOSE, phrase))[1:]


class CoffeeService(Rounds[CoffeeConfig]):
    kind = "coffee"

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        followups: FollowUps | None = None,
        *,
        clock: Clock = time.time,
        similarity: Similarity | None = None,
        vectors: VectorService | None = None,
    ) -> None:
        super().__init__(db, messenger, config, config.coffee, clock, vectors=vectors)
        self.similarity = similarity or matching_similarity()
        self.followups = followups or FollowUps(db, messenger, clock, self.prefix)
        self._last_prune = 0.0

    @property
    def prefix(self) -> str:
        return self.config.bot.command_prefix

    # -- the job -------------------------------------------------------------------------

    def extra_steps(self) -> tuple[JobStep, ...]:
        # The coffee job also posts the due follow-ups of circles (`FollowUps.send_due`).
        return (self.followups.send_due, self._prune)

    async def _prune(self) -> None:
        """Retention of past rounds, once a day."""
        now = self.clock()
        if now - self._last_prune > DAY_S:
            self._last_prune = now
            await self.store.prune(self.settings.keep_history_days * DAY_S)

    # -- planning ------------------------------------------------------------------------

    async def plan(self) -> Planned:
        now = self.clock()
        profiles = await self.eligible(now)
        seq = await self.store.last_seq("coffee") + 1
        people = await self._people(profiles, seq)
        history = await self._history(profiles, seq)
        if len(people) < 2:
            plan = RoundPlan(groups=[], unmatched=[(p.id, "too_few") for p in people])
        else:
            plan = await asyncio.to_thread(
                plan_round, people, history, self.rules(seq), self.similarity
            )
            if plan.by_words:
                log.info(
                    "coffee round %d: %d of %d people compared by words only (no stored vectors)",
                    seq,
                    plan.by_words,
                    len(people),
                )
        by_id = {p.id: p for p in profiles}
        groups = [
            PlannedGroup(
                kind="trio" if len(g.members) == 3 else "pair",
                members=tuple(by_id[m] for m in g.members),
                weight=g.weight,
                similarity=g.similarity,
                shared=explained(g.phrases, g.shared),
            )
            for g in plan.groups
        ]
        summary = summarise(plan, people)
        preview = RoundFigures(
            people=summary.people,
            groups=summary.groups,
            trios=summary.trios,
            unmatched=summary.people - summary.matched,
            cross_department_share=summary.cross_department_share,
            cross_municipality_share=summary.cross_municipality_share,
            mean_similarity=summary.mean_similarity,
        )
        return Planned(profiles, groups, seq, Say("coffee.admin.preview", preview.params()))

    async def _people(self, profiles: list[Profile], seq: int) -> list[MatchPerson]:
        last = await self.store.last_matched_seq("coffee")
        documents = (
            await profile_documents(self.vectors, profiles)
            if self.vectors is not None
            else [Document(p.tasks or "", p.topics) for p in profiles]
        )
        return [
            MatchPerson(
                id=p.id,
                department=p.department or "",
                municipality=p.municipality or "",
                tasks=p.tasks or "",
                topics=p.topics,
                languages=frozenset(p.languages) or DEFAULT_LANGUAGES,
                never_with=frozenset(),
                rounds_since_last_match=seq - last[p.user_id] if p.user_id in last else None,
                eligible=True,
                phrases=d.phrases,
                vectors=d.vectors,
            )
            for p, d in zip(profiles, documents, strict=True)
        ]

    async def _history(self, profiles: list[Profile], seq: int) -> list[PastPair]:
        """Who met whom in the rounds that still matter, among today's participants."""
        ids = {p.user_id: p.id for p in profiles}
        window = self.settings.repeat_ban_rounds + HISTORY_FADE_ROUNDS
        members: dict[int, list[int]] = defaultdict(list)
        seq_of: dict[int, int] = {}
        for round_seq, group_id, person in await self.store.memberships_since(
            "coffee", seq - window
        ):
            if person in ids:
                members[group_id].append(ids[person])
                seq_of[group_id] = round_seq
        return [
            PastPair(a, b, seq - seq_of[group_id])
            for group_id, ms in members.items()
            for i, a in enumerate(ms)
            for b in ms[i + 1 :]
        ]

    def rules(self, seq: int) -> MatchRules:
        s = self.settings
        return MatchRules(
            separation=s.separation,
            repeat_ban_rounds=s.repeat_ban_rounds,
            cross_municipality_bonus=s.cross_municipality_bonus,
            candidates_per_person=s.candidates_per_person,
            seed=seq,
        )

    # -- messages ------------------------------------------------------------------------

    async def introduce(self, group: GroupRow, members: list[Profile]) -> None:
        kind = "trio" if len(members) == 3 else "pair"
        params: dict[str, object] = {
            "why": why(kind, group.shared),
            "starter": starter(group.room_key),
            "minutes": 15,
        }
        for letter, profile in zip("abc", members, strict=False):
            params[f"{letter}_name"] = name_of(profile)
            params[f"{letter}_place"] = place(profile)
        await self.messenger.open_room(
            group.room_key,
            name=Say("coffee.room.name", {"names": " & ".join(name_of(p) for p in members)}),
            invite=[p.user_id for p in members],
            intro=Say(f"coffee.intro.{kind}", params),
            effect_key=group.intro_key,
        )

    def report(self, row: RoundRow, figures: list[FigureRow]) -> Say:
        params = figures_of(figures, row.people).params()
        return Say(
            "coffee.admin.ran",
            {
                **params,
                "round": row.key.removeprefix("coffee:"),
                "questions": row.pause_questions,
            },
        )

    # -- "you never answer: pause?" ------------------------------------------------------

    async def after_store(self, planned: Planned, row: RoundRow, now: float) -> None:
        """Ask (never decide) everyone whose last introductions all went unanswered."""
        needed = self.settings.unanswered_before_question
        streaks = await self.store.answer_streaks(
            "coffee", (p.user_id for p in planned.people), planned.seq - 4 * needed
        )
        asked = 0
        for person, newest_group, engaged in streaks:
            if len(engaged) < needed or any(engaged[:needed]):
                continue
            asked += 1
            await self.messenger.tell(
                person,
                Say(
                    "coffee.pause_question",
                    {"count": needed, "weeks": PAUSE_WEEKS, "prefix": self.prefix},
                ),
                effect_key=f"{PAUSE_KEY}{newest_group}:{person}",
                reactions=BUTTONS,
            )
            await self.store.record_pause_question(person, newest_group, now)
        if asked:
            await self.store.set_pause_questions(row.id, asked)

    async def on_pause_answer(
        self, sender: str, target_key: str, emoji: str, withdrawn: bool
    ) -> bool:
        """A reaction on the pause question: 👍 pauses for four weeks, 👎 keeps going.
        False if the reaction is not on a pause question."""
        if not target_key.startswith(PAUSE_KEY):
            return False
        _, _, person = target_key.removeprefix(PAUSE_KEY).partition(":")
        if person != sender or withdrawn or (emoji not in YES_EMOJI and emoji not in NO_EMOJI):
            return True
        if emoji in YES_EMOJI:
            service = ProfileService(self.db, self.config.directory)
            now = datetime.fromtimestamp(self.clock(), UTC)
            await service.pause_coffee(sender, PAUSE_WEEKS, now)
            reply = Say("coffee.pause_answer.paused", {"weeks": PAUSE_WEEKS, "prefix": self.prefix})
        else:
            reply = Say("coffee.pause_answer.stay")
        await self.messenger.tell(sender, reply, effect_key=f"{target_key}:answer:{emoji}")
        return True


class CoffeeHistory:
    """Personal data of coffee rounds and circles: memberships, answers, admin requests."""

    section = "coffee_and_circles"

    def __init__(self, db: Database, config: Config) -> None:
        self.store = CoffeeStore(db)
        self.config = config

    async def export(self, user_id: str) -> Any:
        return await self.store.export(user_id)

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        if is_placeholder(user_id):
            return
        directory = self.config.directory
        await self.store.forget(user_id, [*directory.departments, *directory.municipalities])
