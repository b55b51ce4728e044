"""What coffee rounds and topic circles share: when a round is due; the round engine
(run at most once per key, store the plan, queue rooms and introductions in chunks, admin
requests); and the follow-up "did you meet?" in the group's room with its answers
(reactions or `!getroffen ja|nein`).

A round belongs to a period (an ISO week "2026-W48" or a month "2026-12"); it is due at the
configured weekday and time of that period, moved past public holidays, and may still run
within a grace time (the bot was down). The follow-up of every group is stored with its
due time; a periodic job posts the due ones, each with a deterministic effect key.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.profile import Profile
from bot.jobs import Jobs
from bot.services.ports import Messenger, Say
from bot.store.coffee import (
    CoffeeStore,
    FigureRow,
    GroupKind,
    GroupRow,
    NewGroup,
    NewMember,
    RequestRow,
    RoundKind,
    RoundRow,
    coffee_eligible_ids,
    count_coffee_eligible,
)
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # Unix epoch seconds

YES = frozenset({"👍", "✅", "✔", "☑", "👌"})
NO = frozenset({"👎", "❌", "✖", "🚫"})
BUTTONS = ("👍", "👎")
# Weeks for "every N weeks" are counted from this Monday.
WEEK_ANCHOR = date(2024, 1, 1)
FOLLOWUP_BATCH = 200


# -- when is a round due -----------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # "2026-W48" (weekly) or "2026-12" (monthly)
    due: datetime | None  # aware; None: no round this period (holidays all week)


@cache
def _holidays(state: str, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("DE", subdiv=state, years=year))


def is_holiday(day: date, state: str | None) -> bool:
    return state is not None and day in _holidays(state, day.year)


def shift_past_holidays(day: date, state: str | None, last: date) -> date | None:
    """The day itself, or the next working day up to `last` if it is a public holiday."""
    if not is_holiday(day, state):
        return day
    wanted_weekday = day.weekday()
    candidate = day + timedelta(days=1)
    while candidate <= last:
        working = candidate.weekday() < 5 or candidate.weekday() == wanted_weekday
        if working and not is_holiday(candidate, state):
            return candidate
        candidate += timedelta(days=1)
    return None


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


@dataclass(frozen=True)
class Schedule:
    """Weekly (every `every_weeks` weeks) or monthly (the `week_of_month`-th weekday)."""

    weekday: int  # 0 = Monday
    at: clock_time
    timezone: ZoneInfo
    every_weeks: int | None = 1  # None: monthly
    week_of_month: int = 1
    holiday_state: str | None = None

    @property
    def unit(self) -> Literal["week", "month"]:
        return "month" if self.every_weeks is None else "week"

    def period_of(self, day: date) -> Period:
        """The period `day` lies in, with its due time (None if not a round period)."""
        if self.every_weeks is None:
            first = day.replace(day=1)
            offset = (self.weekday - first.weekday()) % 7
            scheduled = first + timedelta(days=offset + 7 * (self.week_of_month - 1))
            next_month = (first + timedelta(days=32)).replace(day=1)
            # Past holidays, but not beyond the scheduled day's week or the month.
            last = min(
                scheduled + timedelta(days=6 - scheduled.weekday()),
                next_month - timedelta(days=1),
            )
            return Period(month_key(day), self._due(scheduled, last))
        monday = day - timedelta(days=day.weekday())
        key = week_key(day)
        if ((monday - WEEK_ANCHOR).days // 7) % self.every_weeks != 0:
            return Period(key, None)
        scheduled = monday + timedelta(days=self.weekday)
        return Period(key, self._due(scheduled, monday + timedelta(days=6)))

    def _due(self, scheduled: date, last: date) -> datetime | None:
        day = shift_past_holidays(scheduled, self.holiday_state, last)
        if day is None:
            return None
        return datetime.combine(day, self.at, tzinfo=self.timezone)

    def due_period(self, now: float, grace_s: float) -> Period | None:
        """The period whose round is due now: due time passed, grace not yet over."""
        local = datetime.fromtimestamp(now, self.timezone).date()
        step = timedelta(days=28 if self.unit == "month" else 7)
        for day in (local, local - step):
            period = self.period_of(day)
            if period.due is None:
                continue
            due = period.due.timestamp()
            if due <= now <= due + grace_s:
                return period
        return None

    def current_key(self, now: float) -> str:
        local = datetime.fromtimestamp(now, self.timezone).date()
        return month_key(local) if self.unit == "month" else week_key(local)


# -- follow-ups and answers --------------------------------------------------------------

AnswerStatus = Literal["recorded", "withdrawn", "no_group", "not_member", "unchanged"]


@dataclass(frozen=True)
class Answer:
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
        self.messenger = messenger
        self.clock = clock

    async def send_due(self) -> int:
        """Queue every due follow-up (in chunks, each its own transaction); returns how many."""
        sent = 0
        while True:
            async with self.db.transaction():
                now = self.clock()
                due = await self.store.due_followups(now, FOLLOWUP_BATCH)
                for group in due:
                    await self.messenger.post_in_room(
                        group.room_key,
                        followup_say(group, self.prefix),
                        effect_key=group.followup_key,
                        reactions=BUTTONS,
                    )
                    await self.store.mark_followup_sent(group.id, now)
            sent += len(due)
            if len(due) < FOLLOWUP_BATCH:
                return sent

    async def on_reaction(
        self, sender: str, target_key: str, emoji: str, withdrawn: bool
    ) -> Answer:
        group = await self.store.group_by_followup_key(target_key)
        if group is None:
            return Answer("no_group")
        if emoji not in YES and emoji not in NO:
            return Answer("unchanged", group)
        if not await self.store.is_member(group.id, sender):
            return Answer("not_member", group)
        if withdrawn:
            taken_back = await self.store.withdraw_answer(group.id, sender, emoji)
            return Answer("withdrawn" if taken_back else "unchanged", group)
        met = emoji in YES
        await self.store.set_answer(group.id, sender, met, emoji, self.clock())
        return Answer("recorded", group, met)

    async def answer_by_text(self, sender: str, room_id: str, met: bool) -> Answer:
        """`!getroffen ja|nein`: in a group's room for that group, elsewhere (the DM) for
        the person's latest group."""
        group = await self.store.group_in_room(room_id)
        if group is None:
            group = await self.store.latest_group_of(sender)
            if group is None:
                return Answer("no_group")
        if not await self.store.is_member(group.id, sender):
            return Answer("not_member", group)
        await self.store.set_answer(group.id, sender, met, None, self.clock())
        return Answer("recorded", group, met)


# -- the round engine shared by coffee rounds and topic circles --------------------------

INTRO_CHUNK = 100  # groups whose room and introduction are queued per transaction
BIG_ROUND = 1000  # from this many people on, an admin request is acknowledged first
ADMIN_ROLE = "admin"  # bot.commands.registry.Role.ADMIN; services do not import commands
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


def wake_job(jobs: Jobs, job_id: str) -> Callable[[], None]:
    """A callable that makes the scheduler run `job_id` now.

    Called from a command handler, i.e. inside the event's store transaction: the job must
    not inherit that task's context (it would think it is inside the transaction), so the
    scheduler is poked from a fresh context on the next loop iteration. The job then waits
    for the store lock, which the handler's transaction releases when it commits.
    """

    def poke() -> None:
        try:
            jobs.scheduler.modify_job(job_id, next_run_time=datetime.now(jobs.timezone))
        except Exception:  # not scheduled yet (before the first sync): the first run sees it
            log.debug("could not wake job %s", job_id)

    def wake() -> None:
        asyncio.get_running_loop().call_soon(poke, context=contextvars.Context())

    return wake


class Rounds(ABC):
    """Runs rounds of one kind: at most once per key, the plan stored in one transaction
    before any message is queued, rooms and introductions queued in chunks afterwards (a
    restart finishes the chunks still missing), admin requests answered by the job."""

    kind: RoundKind
    schedule: Schedule

    def __init__(self, db: Database, messenger: Messenger, config: Config, clock: Clock) -> None:
        self.db = db
        self.messenger = messenger
        self.config = config
        self.clock = clock
        self.store = CoffeeStore(db)
        self.profiles = ProfileRepository(db)
        self.wake: Callable[[], None] = lambda: None  # set by the hub: run the job now

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

    async def after_store(self, planned: Planned, row: RoundRow, now: float) -> None:  # noqa: B027
        """More effects of the round, in the transaction that stores it (default: none)."""

    async def eligible(self, now: float) -> list[Profile]:
        allowed = self.config.homeserver.allowed_homeservers
        return [
            p
            for p in await self.profiles.eligible_for_coffee(now)
            if on_allowed_server(p.user_id, allowed)
        ]

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
        async with self.db.transaction():
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
        settings = self.config.coffee if self.kind == "coffee" else self.config.circles
        return settings.followup_after_days * 86400

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
            async with self.db.transaction():
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
        if ADMIN_ROLE not in roles:
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
            async with self.db.transaction():
                await self._answer(request, planned.preview, f"{answer_key}:answer")
                await self.store.finish_request(request.id, self.clock())
            return
        key = request.round_key
        if key is None:
            key = await self.next_admin_key()
            await self.store.set_request_key(request.id, key)
        row = await self.run_round(key, "admin")
        figures = await self.store.figures(row.id)
        async with self.db.transaction():
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
