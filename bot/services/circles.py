"""Topic circles (Themenrunden): periodically, small groups of people who name the same
topic and come from at least two municipalities, each with a room and an introduction.

Members may live on other homeservers (federation) as long as their server is on the
allow-list. Rounds, groups and follow-ups use the coffee tables and `FollowUps`; a round
runs at most once per key ("circle:2026-12"), written in one transaction with its messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.circles import Circle, CirclePerson, form_circles
from bot.domain.profile import Profile
from bot.services.coffee import ADMIN_ROLE, DAY_S, name_of, on_allowed_server, place
from bot.services.followup import Clock, FollowUps, Schedule
from bot.services.ports import Messenger, Say
from bot.store.coffee import CoffeeStore, NewGroup, NewMember
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

log = logging.getLogger(__name__)

Status = Literal["ran", "already_ran", "not_allowed", "preview"]


@dataclass(frozen=True)
class CircleReport:
    status: Status
    key: str
    people: int = 0
    circles: int = 0
    members: int = 0
    topics: tuple[str, ...] = ()
    cross_municipality_share: float = 0.0  # of the member pairs


class CirclesService:
    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        followups: FollowUps | None = None,
        *,
        clock: Clock = time.time,
    ) -> None:
        self.db = db
        self.messenger = messenger
        self.config = config
        self.settings = config.circles
        self.clock = clock
        self.store = CoffeeStore(db)
        self.profiles = ProfileRepository(db)
        self.followups = followups or FollowUps(db, messenger, clock, config.bot.command_prefix)
        weekday, at = self.settings.slot()
        self.schedule = Schedule(
            weekday=weekday,
            at=at,
            timezone=ZoneInfo(config.timezone),
            every_weeks=self.settings.every_weeks,
            week_of_month=self.settings.week_of_month,
            holiday_state=self.settings.holiday_state,
        )

    @staticmethod
    def key(period_key: str) -> str:
        return f"circle:{period_key}"

    async def tick(self) -> None:
        """The periodic job: the due circle round, if any (follow-ups: `FollowUps`)."""
        if not self.settings.enabled:
            return
        grace = max(self.settings.grace_hours * 3600, 2 * self.config.coffee.check_interval_s)
        period = self.schedule.due_period(self.clock(), grace)
        if period is not None and await self.store.round_by_key(self.key(period.key)) is None:
            report = await self.run_round(self.key(period.key), "schedule")
            log.info("circle round %s: %s", report.key, report)

    async def run_now(self, actor_roles: frozenset[str]) -> CircleReport:
        if ADMIN_ROLE not in actor_roles:
            return CircleReport("not_allowed", "")
        base = self.key(self.schedule.current_key(self.clock()))
        key = base
        if await self.store.round_by_key(base) is not None:
            extra = len(await self.store.keys_like(base + "+"))
            key = f"{base}+{extra + 1}"
        return await self.run_round(key, "admin")

    async def preview(self, actor_roles: frozenset[str]) -> CircleReport:
        if ADMIN_ROLE not in actor_roles:
            return CircleReport("not_allowed", "")
        profiles, circles = await self._plan()
        return self._report("preview", "", profiles, circles)

    async def _plan(self) -> tuple[list[Profile], list[Circle]]:
        now = self.clock()
        allowed = self.config.homeserver.allowed_homeservers
        profiles = [
            p
            for p in await self.profiles.eligible_for_coffee(now)
            if on_allowed_server(p.user_id, allowed) and p.topics
        ]
        ids = {p.user_id: p.id for p in profiles}
        seq = await self.store.last_seq("circle") + 1
        recent = []
        if self.settings.repeat_ban_rounds:
            for group in await self.store.recent_circles(seq - self.settings.repeat_ban_rounds):
                known = frozenset(ids[m] for m in group if m in ids)
                if len(known) >= 2:
                    recent.append(known)
        people = [
            CirclePerson(p.id, p.municipality or "", p.department or "", frozenset(p.topics))
            for p in profiles
        ]
        s = self.settings
        circles = await asyncio.to_thread(
            form_circles,
            people,
            s.topics,
            s.min_size,
            s.max_size,
            s.min_shared,
            recent,
            seq,
        )
        return profiles, circles

    async def run_round(self, key: str, trigger: str) -> CircleReport:
        if await self.store.round_by_key(key) is not None:
            return CircleReport("already_ran", key)
        profiles, circles = await self._plan()
        by_id = {p.id: p for p in profiles}
        async with self.db.transaction():
            now = self.clock()
            still = {p.user_id for p in await self.profiles.eligible_for_coffee(now)}
            # Someone opted out while we planned: the circle goes ahead without them if it
            # is still large enough.
            kept: list[Circle] = []
            for circle in circles:
                members = tuple(m for m in circle.members if by_id[m].user_id in still)
                towns = {(by_id[m].municipality or "").casefold() for m in members}
                if len(members) >= self.settings.min_size and len(towns) >= 2:
                    kept.append(Circle(circle.topic, members))
            row = await self.store.insert_round(
                "circle",
                key,
                trigger=trigger,
                started_at=now,
                people=len(profiles),
                groups=len(kept),
                unmatched=len(profiles) - sum(len(c.members) for c in kept),
            )
            if row is None:
                return CircleReport("already_ran", key)
            due = now + self.settings.followup_after_days * DAY_S
            new_groups = []
            for idx, circle in enumerate(kept):
                room_key = f"{key}/{idx}"
                new_groups.append(
                    NewGroup(
                        idx=idx,
                        kind="circle",
                        members=tuple(
                            NewMember(
                                by_id[m].user_id,
                                by_id[m].department or "",
                                by_id[m].municipality or "",
                            )
                            for m in circle.members
                        ),
                        room_key=room_key,
                        intro_key=f"{room_key}:intro",
                        followup_key=f"{room_key}:followup",
                        followup_due_at=due,
                        topic=circle.topic,
                        shared=(circle.topic,),
                    )
                )
            await self.store.insert_groups(row.id, new_groups, now)
            for circle, new in zip(kept, new_groups, strict=True):
                await self._introduce(circle, new, by_id)
        return self._report("ran", key, profiles, kept)

    async def _introduce(self, circle: Circle, new: NewGroup, by_id: dict[int, Profile]) -> None:
        members = [by_id[m] for m in circle.members]
        lines = "\n".join(f"• {name_of(p)} – {place(p)}" for p in members)
        municipalities = len({(p.municipality or "").casefold() for p in members})
        await self.messenger.open_room(
            new.room_key,
            name=Say("circles.room.name", {"topic": circle.topic}),
            invite=[p.user_id for p in members],
            intro=Say(
                "circles.intro",
                {
                    "topic": circle.topic,
                    "members": lines,
                    "count": len(members),
                    "municipalities": municipalities,
                    "minutes": 30,
                },
            ),
            effect_key=new.intro_key,
        )

    def _report(
        self, status: Status, key: str, profiles: list[Profile], circles: list[Circle]
    ) -> CircleReport:
        by_id = {p.id: p for p in profiles}
        pairs = cross = 0
        for circle in circles:
            towns = [(by_id[m].municipality or "").casefold() for m in circle.members]
            for i, a in enumerate(towns):
                for b in towns[i + 1 :]:
                    pairs += 1
                    cross += a != b
        return CircleReport(
            status=status,
            key=key,
            people=len(profiles),
            circles=len(circles),
            members=sum(len(c.members) for c in circles),
            topics=tuple(dict.fromkeys(c.topic for c in circles)),
            cross_municipality_share=cross / pairs if pairs else 0.0,
        )
