"""The round engine shared by coffee rounds and topic circles: the schedule and the job,
run at most once per key, store the plan, queue rooms and introductions in chunks, answer
admin requests."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from bot.config import CirclesConfig, CoffeeConfig, Config
from bot.domain.profile import Profile
from bot.domain.roles import Role
from bot.services.ports import Messenger, Say
from bot.services.round_schedule import Schedule
from bot.services.vectors import VectorService
from bot.store.coffee import CoffeeStore
from bot.store.coffee_eligibility import coffee_eligible_ids, count_coffee_eligible
from bot.store.coffee_rows import (
    FigureRow,
    GroupKind,
    GroupRow,
    NewGroup,
    NewMember,
    RequestRow,
    RoundKind,
    RoundRow,
)
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # Unix epoch seconds
# A step of the job, run on its own: one failing holds back no other.
JobStep = Callable[[], Awaitable[object]]
# The config section of a kind of round.
S = TypeVar("S", bound=CoffeeConfig | CirclesConfig)

INTRO_CHUNK = 100  # groups whose room and introduction are queued per transaction
BIG_ROUND = 1000  # from this many people on, an admin request is acknowledged first
Mode = Literal["run", "preview"]


@dataclass(frozen=True)
class PlannedGroup:
    kind: GroupKind
    members: tuple[Profile, ...]
    topic: str | None = None
    weight: float | None = None
    similarity: float | None = None
    shared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Planned:
    people: list[Profile]  # everyone who took part
    groups: list[PlannedGroup]
    seq: int  # the number this round will get
    preview: Say  # what an admin sees for `probe`


def on_allowed_server(user_id: str, allowed: Sequence[str]) -> bool:
    return user_id.partition(":")[2] in allowed


def place(profile: Profile) -> str:
    """The place for an introduction, e.g. "Bauamt, Musterstadt"."""
    return ", ".join(p for p in (profile.department, profile.municipality) if p) or "–"


def name_of(profile: Profile) -> str:
    return profile.display_name or profile.user_id


class Rounds(ABC, Generic[S]):
    """Runs rounds of one kind: at most once per key, the plan stored in one transaction
    before any message is queued, rooms and introductions queued in chunks afterwards (a
    restart finishes the chunks still missing), admin requests answered by the job."""

    kind: RoundKind

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        settings: S,
        clock: Clock,
        *,
        vectors: VectorService | None = None,
        week_of_month: int = 1,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.config = config
        self.settings = settings
        self.clock = clock
        # Stored embedding vectors of the profiles; a round never encodes (bot.services.vectors).
        self.vectors = vectors
        self.store = CoffeeStore(db)
        self.profiles = ProfileRepository(db)
        self.wake: Callable[[], None] = lambda: None  # set by the hub: run the job now
        weekday, at = settings.slot()
        self.schedule = Schedule(
            weekday=weekday,
            at=at,
            timezone=ZoneInfo(config.timezone),
            every_weeks=settings.every_weeks,
            week_of_month=week_of_month,
            holiday_state=settings.holiday_state,
        )

    # -- what a kind of round defines ----------------------------------------------------

    @abstractmethod
    async def plan(self) -> Planned: ...

    @abstractmethod
    async def introduce(self, group: GroupRow, members: list[Profile]) -> None:
        """Queue the room and the introduction of one stored group."""

    @abstractmethod
    def report(self, row: RoundRow, figures: list[FigureRow]) -> Say: ...

    def keep(self, group: PlannedGroup, still: set[str]) -> PlannedGroup | None:
        """The group as it may still go ahead when only `still` take part any more."""
        return group if all(p.user_id in still for p in group.members) else None

    async def after_store(self, planned: Planned, row: RoundRow, now: float) -> None:
        """More effects of the round, in the transaction that stores it (default: none)."""

    def extra_steps(self) -> tuple[JobStep, ...]:
        """What the job does after the rounds' own steps (default: nothing)."""
        return ()

    async def eligible(self, now: float) -> list[Profile]:
        allowed = self.config.homeserver.allowed_homeservers
        return [
            p
            for p in await self.profiles.eligible_for_coffee(now)
            if on_allowed_server(p.user_id, allowed)
        ]

    # -- the job -------------------------------------------------------------------------

    async def tick(self) -> None:
        """Admin requests, the due round, unfinished introductions, then `extra_steps`.
        Each step on its own: one failing holds back no other."""
        # Requests once more at the end: one that came in meanwhile need not wait.
        steps = (self.handle_requests, self._scheduled, self.queue_intros, self.handle_requests)
        for step in (*steps, *self.extra_steps()):
            try:
                await step()
            except Exception:
                log.exception("%s: %s failed; retried at the next check", self.kind, step.__name__)

    async def _scheduled(self) -> None:
        if not self.settings.enabled:
            return
        # Both kinds are checked every `coffee.check_interval_s` (the hub schedules them so):
        # the grace covers at least two checks.
        grace = max(self.settings.grace_hours * 3600, 2 * self.config.coffee.check_interval_s)
        period = self.schedule.due_period(self.clock(), grace)
        if period is None:
            return
        key = self.round_key(period.key)
        if await self.store.round_by_key(key) is None:
            row = await self.run_round(key, "schedule")
            log.info("%s round %s: %d groups for %d people", self.kind, key, row.groups, row.people)

    # -- running -------------------------------------------------------------------------

    def round_key(self, period_key: str) -> str:
        return f"{self.kind}:{period_key}"

    async def run_round(self, key: str, trigger: str) -> RoundRow:
        """Run the round `key` (or find it, if it ran already) and queue its messages."""
        existing = await self.store.round_by_key(key)
        if existing is None:
            planned = await self.plan()
            existing = await self._store(key, trigger, planned)
        await self.queue_intros()
        return existing

    async def _store(self, key: str, trigger: str, planned: Planned) -> RoundRow:
        async with self.db.transaction("rounds.store"):
            now = self.clock()
            # Someone may have opted out while the plan was made.
            still = await coffee_eligible_ids(self.db, now)
            groups = [k for g in planned.groups if (k := self.keep(g, still)) is not None]
            row = await self.store.insert_round(
                self.kind,
                key,
                trigger=trigger,
                started_at=now,
                people=len(planned.people),
                groups=len(groups),
                unmatched=len(planned.people) - sum(len(g.members) for g in groups),
            )
            if row is None:  # ran meanwhile
                found = await self.store.round_by_key(key)
                assert found is not None
                return found
            due = now + self.followup_after_s
            await self.store.insert_groups(
                row.id,
                [self._new_group(key, idx, group, due) for idx, group in enumerate(groups)],
                now,
            )
            await self.after_store(planned, row, now)
            return row

    @property
    def followup_after_s(self) -> float:
        return self.settings.followup_after_days * 86400

    def _new_group(self, key: str, idx: int, group: PlannedGroup, due: float) -> NewGroup:
        room_key = f"{key}/{idx}"
        return NewGroup(
            idx=idx,
            kind=group.kind,
            members=tuple(
                NewMember(p.user_id, p.department or "", p.municipality or "")
                for p in group.members
            ),
            room_key=room_key,
            intro_key=f"{room_key}:intro",
            followup_key=f"{room_key}:followup",
            followup_due_at=due,
            topic=group.topic,
            weight=group.weight,
            similarity=group.similarity,
            shared=group.shared,
        )

    async def queue_intros(self) -> int:
        """Queue rooms and introductions of stored groups that have none yet, a chunk per
        transaction (effect keys make a repeated chunk harmless)."""
        queued = 0
        while True:
            async with self.db.transaction("rounds.queue_intros"):
                groups = await self.store.unqueued_groups(self.kind, INTRO_CHUNK)
                members = await self.store.members_of([g.id for g in groups])
                people = await self.profiles.get_many(
                    [m.person for ms in members.values() for m in ms]
                )
                now = self.clock()
                for group in groups:
                    profiles = [people.get(m.person) for m in members[group.id]]
                    # A member forgot themselves in between: no introduction naming a gap.
                    if all(p is not None for p in profiles) and len(profiles) >= 2:
                        await self.introduce(group, [p for p in profiles if p is not None])
                    await self.store.mark_intro_queued(group.id, now)
            queued += len(groups)
            if len(groups) < INTRO_CHUNK:
                return queued

    # -- admin requests ------------------------------------------------------------------

    async def request(
        self,
        actor: str,
        roles: frozenset[str],
        mode: Mode,
        event_id: str,
        reply_room: str | None,
    ) -> bool:
        """Store an admin's request for the job (False: not allowed)."""
        if Role.ADMIN not in roles:
            return False
        await self.store.add_request(event_id, self.kind, mode, actor, reply_room, self.clock())
        self.wake()
        return True

    async def handle_requests(self) -> None:
        for request in await self.store.open_requests(self.kind):
            await self._handle(request)

    async def _handle(self, request: RequestRow) -> None:
        answer_key = f"{self.kind}:request:{request.id}"
        if await count_coffee_eligible(self.db, self.clock()) >= BIG_ROUND:
            await self._answer(request, Say("coffee.admin.working"), f"{answer_key}:working")
        if request.mode == "preview":
            planned = await self.plan()
            async with self.db.transaction("rounds.handle"):
                await self._answer(request, planned.preview, f"{answer_key}:answer")
                await self.store.finish_request(request.id, self.clock())
            return
        key = request.round_key
        if key is None:
            key = await self.next_admin_key()
            await self.store.set_request_key(request.id, key)
        row = await self.run_round(key, "admin")
        figures = await self.store.figures(row.id)
        async with self.db.transaction("rounds.handle"):
            await self._answer(request, self.report(row, figures), f"{answer_key}:answer")
            await self.store.finish_request(request.id, self.clock())

    async def next_admin_key(self) -> str:
        """This period's round if it has not run yet, else an extra one ("…+1")."""
        base = self.round_key(self.schedule.current_key(self.clock()))
        if await self.store.round_by_key(base) is None:
            return base
        return f"{base}+{len(await self.store.keys_like(base + '+')) + 1}"

    async def _answer(self, request: RequestRow, message: Say, effect_key: str) -> None:
        if request.reply_room is None:
            await self.messenger.tell(request.requested_by, message, effect_key=effect_key)
        else:
            await self.messenger.post(
                request.reply_room, message, effect_key=effect_key, mention=[request.requested_by]
            )
