"""Weekly coffee matches (Kaffeerunde): plan a round, open a room per pair or trio with an
introduction that says why, follow up, and ask people who never answer whether to pause.

A round runs at most once per key ("coffee:2026-W48"): the round row, its groups and every
message it sends are written in one transaction, so a crash before the commit leaves no
trace (the round runs again) and after it the outbox delivers each message exactly once.
The matching itself runs before that transaction, in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.matching import (
    Group,
    MatchPerson,
    MatchRules,
    PastPair,
    RoundPlan,
    plan_round,
    summarise,
)
from bot.domain.profile import Profile
from bot.domain.similarity import Similarity
from bot.services.followup import BUTTONS, NO, YES, Clock, FollowUps, Schedule
from bot.services.ports import Messenger, Say
from bot.store.coffee import CoffeeStore, NewGroup, NewMember
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

log = logging.getLogger(__name__)

ADMIN_ROLE = "admin"  # bot.commands.registry.Role.ADMIN; services do not import commands
STARTERS = 8  # coffee.starter.1 .. coffee.starter.8
PAUSE_KEY = "coffee:pause-question:"
PAUSE_WEEKS = 4
# Old meetings still weigh a little after the ban; older history does not change anything.
HISTORY_FADE_ROUNDS = 4 * MatchRules().repeat_fade_rounds
DEFAULT_LANGUAGES = frozenset({"de"})
DAY_S = 86400.0

Status = Literal["ran", "already_ran", "not_allowed", "preview"]


class NotAllowed(Exception):
    """The acting person may not do this (the chat layer checks too)."""


@dataclass(frozen=True)
class RoundReport:
    status: Status
    key: str
    people: int = 0
    groups: int = 0
    trios: int = 0
    unmatched: int = 0
    cross_department_share: float = 0.0
    cross_municipality_share: float = 0.0
    mean_similarity: float = 0.0
    pause_questions: int = 0


@dataclass(frozen=True)
class Prepared:
    """Everything a round needs, read before its transaction."""

    profiles: list[Profile]
    people: list[MatchPerson]
    history: list[PastPair]
    seq: int


def on_allowed_server(user_id: str, allowed: Sequence[str]) -> bool:
    return user_id.partition(":")[2] in allowed


def place(profile: Profile) -> str:
    """The place for the introduction, e.g. "Bauamt, Musterstadt"."""
    return ", ".join(p for p in (profile.department, profile.municipality) if p) or "–"


def name_of(profile: Profile) -> str:
    return profile.display_name or profile.user_id


def starter(key: str) -> Say:
    return Say(f"coffee.starter.{zlib.crc32(key.encode()) % STARTERS + 1}")


def why(group: Group) -> Say:
    if not group.shared:
        return Say("coffee.why.none")
    kind = "trio" if len(group.members) == 3 else "pair"
    return Say(f"coffee.why.{kind}", {"shared": ", ".join(group.shared)})


class CoffeeService:
    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        followups: FollowUps | None = None,
        *,
        clock: Clock = time.time,
        similarity: Similarity | None = None,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.config = config
        self.settings = config.coffee
        self.clock = clock
        self.similarity = similarity
        self.store = CoffeeStore(db)
        self.profiles = ProfileRepository(db)
        self.followups = followups or FollowUps(db, messenger, clock, config.bot.command_prefix)
        weekday, at = self.settings.slot()
        self.schedule = Schedule(
            weekday=weekday,
            at=at,
            timezone=ZoneInfo(config.timezone),
            every_weeks=self.settings.every_weeks,
            holiday_state=self.settings.holiday_state,
        )
        self._last_prune = 0.0

    # -- entry points --------------------------------------------------------------------

    async def tick(self) -> None:
        """The periodic job: the due round (if any), due follow-ups, retention."""
        now = self.clock()
        if self.settings.enabled:
            grace = max(self.settings.grace_hours * 3600, 2 * self.settings.check_interval_s)
            period = self.schedule.due_period(now, grace)
            if period is not None and await self.store.round_by_key(self.key(period.key)) is None:
                report = await self.run_round(self.key(period.key), "schedule")
                log.info("coffee round %s: %s", report.key, report)
        await self.followups.send_due()
        if now - self._last_prune > DAY_S:
            self._last_prune = now
            await self.store.prune(self.settings.keep_history_days * DAY_S)

    async def run_now(self, actor_roles: frozenset[str]) -> RoundReport:
        """`!admin runde`: this period's round if it has not run yet, else an extra one."""
        if ADMIN_ROLE not in actor_roles:
            return RoundReport("not_allowed", "")
        base = self.key(self.schedule.current_key(self.clock()))
        key = base
        if await self.store.round_by_key(base) is not None:
            extra = len(await self.store.keys_like(base + "+"))
            key = f"{base}+{extra + 1}"
        return await self.run_round(key, "admin")

    async def preview(self, actor_roles: frozenset[str]) -> RoundReport:
        """`!admin runde probe`: what a round would do now, without sending anything."""
        if ADMIN_ROLE not in actor_roles:
            return RoundReport("not_allowed", "")
        prepared = await self.prepare()
        plan = await self._plan(prepared)
        return self._report("preview", "", prepared, plan)

    @staticmethod
    def key(period_key: str) -> str:
        return f"coffee:{period_key}"

    # -- a round -------------------------------------------------------------------------

    async def prepare(self) -> Prepared:
        now = self.clock()
        allowed = self.config.homeserver.allowed_homeservers
        profiles = [
            p for p in await self.profiles.eligible_for_coffee(now)
            if on_allowed_server(p.user_id, allowed)
        ]  # fmt: skip
        seq = await self.store.last_seq("coffee") + 1
        ids = {p.user_id: p.id for p in profiles}
        last = await self.store.last_matched_seq("coffee")
        people = [
            MatchPerson(
                id=p.id,
                department=p.department or "",
                municipality=p.municipality or "",
                tasks=p.tasks or "",
                topics=p.topics,
                languages=frozenset(p.languages) or DEFAULT_LANGUAGES,
                never_with=frozenset(),
                rounds_since_last_match=(seq - last[p.user_id] if p.user_id in last else None),
                eligible=True,
            )
            for p in profiles
        ]
        window = self.settings.repeat_ban_rounds + HISTORY_FADE_ROUNDS
        members: dict[int, list[int]] = defaultdict(list)
        seq_of: dict[int, int] = {}
        for round_seq, group_id, person in await self.store.memberships_since(
            "coffee", seq - window
        ):
            if person in ids:
                members[group_id].append(ids[person])
                seq_of[group_id] = round_seq
        history = [
            PastPair(a, b, seq - seq_of[group_id])
            for group_id, ms in members.items()
            for i, a in enumerate(ms)
            for b in ms[i + 1 :]
        ]
        return Prepared(profiles, people, history, seq)

    def rules(self, seq: int) -> MatchRules:
        s = self.settings
        return MatchRules(
            separation=s.separation,
            repeat_ban_rounds=s.repeat_ban_rounds,
            cross_municipality_bonus=s.cross_municipality_bonus,
            candidates_per_person=s.candidates_per_person,
            seed=seq,
        )

    async def _plan(self, prepared: Prepared) -> RoundPlan:
        if len(prepared.people) < 2:
            return RoundPlan(groups=[], unmatched=[(p.id, "too_few") for p in prepared.people])
        return await asyncio.to_thread(
            plan_round, prepared.people, prepared.history, self.rules(prepared.seq),
            self.similarity,
        )  # fmt: skip

    async def run_round(self, key: str, trigger: str) -> RoundReport:
        if await self.store.round_by_key(key) is not None:
            return RoundReport("already_ran", key)
        prepared = await self.prepare()
        plan = await self._plan(prepared)
        async with self.db.transaction():
            now = self.clock()
            # Someone may have opted out while the matching ran: their group waits a round.
            still = {p.user_id for p in await self.profiles.eligible_for_coffee(now)}
            by_id = {p.id: p for p in prepared.profiles}
            groups = [g for g in plan.groups if all(by_id[m].user_id in still for m in g.members)]
            plan = RoundPlan(groups, plan.unmatched)
            row = await self.store.insert_round(
                "coffee",
                key,
                trigger=trigger,
                started_at=now,
                people=len(prepared.people),
                groups=len(groups),
                unmatched=len(prepared.people) - sum(len(g.members) for g in groups),
            )
            if row is None:
                return RoundReport("already_ran", key)
            asked = await self._ask_pause_questions(prepared, now)
            due = now + self.settings.followup_after_days * DAY_S
            new_groups = [self._new_group(key, i, g, by_id, due) for i, g in enumerate(groups)]
            await self.store.insert_groups(row.id, new_groups, now)
            for group, new in zip(groups, new_groups, strict=True):
                await self._introduce(group, new, by_id)
        report = self._report("ran", key, prepared, plan)
        return RoundReport(**{**report.__dict__, "pause_questions": asked})

    def _new_group(
        self, key: str, idx: int, group: Group, by_id: dict[int, Profile], due: float
    ) -> NewGroup:
        room_key = f"{key}/{idx}"
        return NewGroup(
            idx=idx,
            kind="trio" if len(group.members) == 3 else "pair",
            members=tuple(
                NewMember(by_id[m].user_id, by_id[m].department or "", by_id[m].municipality or "")
                for m in group.members
            ),
            room_key=room_key,
            intro_key=f"{room_key}:intro",
            followup_key=f"{room_key}:followup",
            followup_due_at=due,
            weight=group.weight,
            similarity=group.similarity,
            shared=group.shared,
        )

    async def _introduce(self, group: Group, new: NewGroup, by_id: dict[int, Profile]) -> None:
        members = [by_id[m] for m in group.members]
        params: dict[str, object] = {
            "why": why(group),
            "starter": starter(new.room_key),
            "minutes": 15,
        }
        for letter, profile in zip("abc", members, strict=False):
            params[f"{letter}_name"] = name_of(profile)
            params[f"{letter}_place"] = place(profile)
        names = " & ".join(name_of(p) for p in members)
        await self.messenger.open_room(
            new.room_key,
            name=Say("coffee.room.name", {"names": names}),
            invite=[p.user_id for p in members],
            intro=Say(f"coffee.intro.{new.kind}", params),
            effect_key=new.intro_key,
        )

    def _report(self, status: Status, key: str, prepared: Prepared, plan: RoundPlan) -> RoundReport:
        summary = summarise(plan, prepared.people)
        return RoundReport(
            status=status,
            key=key,
            people=summary.people,
            groups=summary.groups,
            trios=summary.trios,
            unmatched=summary.people - summary.matched,
            cross_department_share=summary.cross_department_share,
            cross_municipality_share=summary.cross_municipality_share,
            mean_similarity=summary.mean_similarity,
        )

    # -- "you never answer: pause?" ------------------------------------------------------

    async def _ask_pause_questions(self, prepared: Prepared, now: float) -> int:
        """Ask (never decide) everyone whose last introductions all went unanswered."""
        needed = self.settings.unanswered_before_question
        window = prepared.seq - 4 * needed
        streaks = await self.store.answer_streaks(
            "coffee", (p.user_id for p in prepared.profiles), window
        )
        asked = 0
        for person, newest_group, engaged in streaks:
            if len(engaged) < needed or any(engaged[:needed]):
                continue
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
            asked += 1
        return asked

    @property
    def prefix(self) -> str:
        return self.config.bot.command_prefix

    async def on_pause_answer(
        self, sender: str, target_key: str, emoji: str, withdrawn: bool
    ) -> bool:
        """A reaction on the pause question: 👍 pauses for four weeks, 👎 keeps going."""
        if not target_key.startswith(PAUSE_KEY):
            return False
        _, _, person = target_key.removeprefix(PAUSE_KEY).partition(":")
        if person != sender or withdrawn or (emoji not in YES and emoji not in NO):
            return True
        from bot.services.profiles import ProfileService

        if emoji in YES:
            service = ProfileService(self.db, self.config.directory)
            await service.pause_coffee(
                sender, PAUSE_WEEKS, datetime.fromtimestamp(self.clock(), UTC)
            )
            reply = Say("coffee.pause_answer.paused", {"weeks": PAUSE_WEEKS, "prefix": self.prefix})
        else:
            reply = Say("coffee.pause_answer.stay")
        await self.messenger.tell(sender, reply, effect_key=f"{target_key}:answer:{emoji}")
        return True


class CoffeeHistory:
    """Personal data of the coffee rounds and circles: memberships and answers."""

    section = "coffee_and_circles"

    def __init__(self, db: Database, config: Config) -> None:
        self.store = CoffeeStore(db)
        self.config = config

    async def export(self, user_id: str) -> Any:
        return await self.store.export(user_id)

    async def forget(self, user_id: str) -> None:
        directory = self.config.directory
        await self.store.forget(user_id, [*directory.departments, *directory.municipalities])
