"""Topic circles (Themenrunden): periodically, small groups of people who name the same
topic and come from at least two municipalities, each with a room and an introduction.

Members may live on other homeservers (federation) as long as their server is on the
allow-list. Rounds, groups, admin requests and follow-ups use the shared machinery in
`bot.services.rounds`; a circle round runs at most once per key ("circle:2026-12").

Topics that mean the same form one circle: the profiles' stored topic vectors, and the few
configured topics encoded when the round is planned (outside any store transaction).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from bot.config import CirclesConfig, Config
from bot.domain.circles import Circle, CirclePerson, form_circles
from bot.domain.phrases import split_tasks
from bot.domain.profile import Profile
from bot.services.ports import Messenger, Say
from bot.services.profile_vectors import profile_documents
from bot.services.rounds import Clock, Planned, PlannedGroup, Rounds, name_of, place
from bot.services.vectors import VectorService
from bot.store.coffee_rows import FigureRow, GroupRow, RoundRow
from bot.store.db import Database

MEETING_MINUTES = 30


def _town(profile: Profile) -> str:
    return " ".join((profile.municipality or "").casefold().split())


def circle_figures(rows: list[FigureRow], people: int) -> dict[str, object]:
    groups: dict[int, list[FigureRow]] = defaultdict(list)
    for row in rows:
        groups[row.group_id].append(row)
    pairs = cross = 0
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs += 1
                cross += a.municipality.casefold() != b.municipality.casefold()
    topics = dict.fromkeys(ms[0].topic or "" for ms in groups.values())
    return {
        "circles": len(groups),
        "members": len(rows),
        "people": people,
        "topics": ", ".join(topics) or "–",
        "cross_municipality": 100 * cross / pairs if pairs else 0.0,
    }


class CirclesService(Rounds[CirclesConfig]):
    """Circle rounds; their follow-ups are posted by the coffee job (`extra_steps`)."""

    kind = "circle"

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        *,
        clock: Clock = time.time,
        vectors: VectorService | None = None,
    ) -> None:
        settings = config.circles
        super().__init__(
            db,
            messenger,
            config,
            settings,
            clock,
            vectors=vectors,
            week_of_month=settings.week_of_month,
        )

    async def plan(self) -> Planned:
        profiles = [p for p in await self.eligible(self.clock()) if p.topics]
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
        meaning = await self._meaning(profiles)
        circles: list[Circle] = await asyncio.to_thread(
            form_circles,
            people,
            s.topics,
            s.min_size,
            s.max_size,
            s.min_shared,
            recent,
            seq,
            meaning,
        )
        by_id = {p.id: p for p in profiles}
        groups = [
            PlannedGroup(
                kind="circle",
                members=tuple(by_id[m] for m in c.members),
                topic=c.topic,
                shared=(c.topic,),
            )
            for c in circles
        ]
        rows = [
            FigureRow(i, "circle", None, g.topic, p.department or "", p.municipality or "")
            for i, g in enumerate(groups)
            for p in g.members
        ]
        preview = Say("circles.admin.preview", circle_figures(rows, len(profiles)))
        if not groups:
            preview = self._none(Say("circles.admin.preview_label"), len(profiles))
        return Planned(profiles, groups, seq, preview)

    async def _meaning(self, profiles: list[Profile]) -> dict[str, NDArray[np.float32]]:
        """A unit vector per topic as written: stored with the profiles, and encoded now for
        the configured topics. Empty without the model (topics then match by spelling)."""
        if self.vectors is None or not self.vectors.available:
            return {}
        found: dict[str, NDArray[np.float32]] = {}
        for profile, document in zip(
            profiles, await profile_documents(self.vectors, profiles), strict=True
        ):
            if document.vectors is None:
                continue
            folded = (phrase.casefold() for phrase in document.phrases)
            rows = dict(zip(folded, document.vectors, strict=True))
            for topic in profile.topics:
                # The topic as a phrase: cut and trimmed the way its vector was computed.
                phrase = split_tasks(None, (topic,))
                if phrase and phrase[0].casefold() in rows:
                    found[topic] = rows[phrase[0].casefold()]
        configured = [t for t in self.settings.topics if t.strip() and t not in found]
        if configured:
            encoded = await self.vectors.encode(configured, query=True)
            if encoded is not None:
                found.update(zip(configured, encoded, strict=True))
        return found

    def keep(self, group: PlannedGroup, still: set[str]) -> PlannedGroup | None:
        """Someone opted out meanwhile: the circle goes ahead without them if it is still
        large enough and still spans two municipalities."""
        members = tuple(p for p in group.members if p.user_id in still)
        if len(members) < self.settings.min_size or len({_town(p) for p in members}) < 2:
            return None
        return PlannedGroup(group.kind, members, group.topic, shared=group.shared)

    async def introduce(self, group: GroupRow, members: list[Profile]) -> None:
        topic = group.topic or ""
        await self.messenger.open_room(
            group.room_key,
            name=Say("circles.room.name", {"topic": topic}),
            invite=[p.user_id for p in members],
            intro=Say(
                "circles.intro",
                {
                    "topic": topic,
                    "members": "\n".join(f"• {name_of(p)} – {place(p)}" for p in members),
                    "municipalities": len({_town(p) for p in members}),
                    "minutes": MEETING_MINUTES,
                },
            ),
            effect_key=group.intro_key,
        )

    def report(self, row: RoundRow, figures: list[FigureRow]) -> Say:
        label = row.key.removeprefix("circle:")
        if not figures:
            return self._none(label, row.people)
        return Say("circles.admin.ran", {**circle_figures(figures, row.people), "round": label})

    def _none(self, label: str | Say, people: int) -> Say:
        return Say(
            "circles.admin.none",
            {"round": label, "min_size": self.settings.min_size, "people": people},
        )
