"""Topic circles on a temporary SQLite with a recording Messenger: circles share a topic and
span municipalities, members from federated homeservers on the allow-list are included,
a round runs once, the monthly schedule, preview, and the shared follow-up."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.config import Config
from bot.services.circles import CirclesService
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.coffee import CoffeeStore
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.fakes import Sent
from tests.support.rounds import (
    BERLIN,
    FIRST_WEDNESDAY,
    HOME,
    NEIGHBOUR,
    Clock,
    RenderingMessenger,
    circles_config,
    uid,
)

ADMIN = frozenset({"admin"})
ADMIN_ID = "@admin:rathaus.example"

# name, server, department, municipality, topics
PEOPLE = [
    ("anna", HOME, "Bauamt", "Musterstadt", ["Digitalisierung", "E-Akte"]),
    ("bernd", HOME, "Kämmerei", "Musterstadt", ["Digitalisierung"]),
    ("cem", NEIGHBOUR, "Ordnungsamt", "Kreisstadt", ["digitalisierung"]),
    ("dora", NEIGHBOUR, "Bauamt", "Kreisstadt", ["Friedhofswesen"]),
    ("emil", HOME, "Kämmerei", "Beispieldorf", ["Friedhofswesen", "Digitalisierung"]),
    ("frida", HOME, "Ordnungsamt", "Musterstadt", ["Friedhofswesen"]),
    ("gina", "fremd.example", "Bauamt", "Fernstadt", ["Digitalisierung"]),
]


@pytest.fixture
async def db(db: Database) -> Database:
    """The kit's store with PEOPLE onboarded and opted in."""
    repo = ProfileRepository(db)
    for name, server, department, municipality, topics in PEOPLE:
        user = uid(name, server)
        await repo.create(user, 1_700_000_000.0, confirmed=True)
        await repo.update(
            user,
            display_name=name.capitalize(),
            department=department,
            municipality=municipality,
            tasks="Verwaltung",
            topics=topics,
            coffee=True,
        )
    return db


class World:
    def __init__(self, db: Database, config: Config, now: float = FIRST_WEDNESDAY + 60) -> None:
        self.db = db
        self.clock = Clock(now)
        self.messenger = RenderingMessenger()
        self.followups = FollowUps(db, self.messenger, self.clock)
        self.circles = CirclesService(db, self.messenger, config, clock=self.clock)
        self.store = CoffeeStore(db)
        self.requests = 0

    def intros(self) -> list[Sent]:
        return [s for s in self.messenger.sent if s.kind == "open_room"]

    async def admin(self, mode: str = "run") -> Say:
        """`!admin themenrunde [probe]` and the job; the answer to the admin."""
        self.requests += 1
        event = f"$event{self.requests}"
        assert await self.circles.request(ADMIN_ID, ADMIN, mode, event, None)  # type: ignore[arg-type]
        await self.circles.tick()
        answers = [s for s in self.messenger.sent if s.effect_key.startswith("circle:request:")]
        assert answers and answers[-1].message is not None
        return answers[-1].message


async def test_circles_share_a_topic_across_municipalities_and_servers(db: Database) -> None:
    world = World(db, circles_config())
    answer = await world.admin()
    assert answer.key == "circles.admin.ran" and answer.params["round"] == "2026-12"
    assert set(str(answer.params["topics"]).split(", ")) == {"Digitalisierung", "Friedhofswesen"}
    assert answer.params["cross_municipality"] > 0  # type: ignore[operator]
    intros = world.intros()
    assert len(intros) == 2
    towns = {uid(n, s): m for n, s, _, m, _ in PEOPLE}
    for sent in intros:
        members = sent.extra["invite"]
        assert 3 <= len(members) <= 6
        assert len({towns[m] for m in members}) >= 2
        assert sent.message is not None and sent.message.key == "circles.intro"
        topic = sent.message.params["topic"]
        assert sent.extra["name"].params["topic"] == topic
        # Each member with department and municipality in the introduction.
        lines = str(sent.message.params["members"])
        for person in members:
            name, _, department, municipality, _ = next(
                p for p in PEOPLE if uid(p[0], p[1]) == person
            )
            assert f"{name.capitalize()} – {department}, {municipality}" in lines
    everyone = [m for s in intros for m in s.extra["invite"]]
    assert len(everyone) == len(set(everyone))  # nobody in two circles
    # The neighbour server is on the allow-list, the stranger's is not.
    assert uid("cem", NEIGHBOUR) in everyone
    assert uid("gina", "fremd.example") not in everyone


async def test_circle_round_runs_once_and_preview_sends_nothing(db: Database) -> None:
    world = World(db, circles_config(enabled=False))
    preview = await world.admin("preview")
    assert preview.key == "circles.admin.preview" and preview.params["circles"] == 2
    assert [s.kind for s in world.messenger.sent] == ["tell"]
    world.circles.settings = circles_config().circles  # the schedule switched on
    await world.circles.tick()
    await world.circles.tick()
    assert len(world.intros()) == 2
    row = await world.circles.run_round("circle:2026-12", "admin")
    assert row.key == "circle:2026-12" and len(world.intros()) == 2
    assert not await world.circles.request(ADMIN_ID, frozenset(), "run", "$x", None)


async def test_no_circle_is_reported_as_such(db: Database) -> None:
    world = World(db, circles_config(min_size=5, enabled=False))
    answer = await world.admin()
    assert answer.key == "circles.admin.none" and answer.params["min_size"] == 5
    preview = await world.admin("preview")
    assert preview.key == "circles.admin.none"
    assert world.intros() == []


async def test_monthly_schedule_is_the_first_wednesday(db: Database) -> None:
    world = World(db, circles_config(), FIRST_WEDNESDAY - 7 * 86400)
    period = world.circles.schedule.period_of(date(2026, 12, 20))
    assert period.key == "2026-12"
    assert period.due == datetime(2026, 12, 2, 10, 0, tzinfo=BERLIN)
    await world.circles.tick()  # 25 November: the November circle (4 Nov) is long past
    assert world.intros() == []
    world.clock.now = FIRST_WEDNESDAY + 3600
    await world.circles.tick()
    assert len(world.intros()) == 2


async def test_recent_circle_is_not_formed_again(db: Database) -> None:
    world = World(db, circles_config(topics=["Digitalisierung"], enabled=False))
    await world.admin()
    first = {frozenset(s.extra["invite"]) for s in world.intros()}
    assert first
    world.clock.now += 40 * 86400
    await world.admin()
    second = {frozenset(s.extra["invite"]) for s in world.intros()[len(first) :]}
    assert not first & second


async def test_circle_followup_uses_the_shared_machinery(db: Database) -> None:
    world = World(db, circles_config(followup_after_days=7))
    await world.admin()
    world.clock.now += 7 * 86400 + 1
    assert await world.followups.send_due() == 2
    followups = [s for s in world.messenger.sent if s.kind == "post_in_room"]
    assert {s.message.key for s in followups if s.message} == {"circles.followup"}
    group = await world.store.group_by_followup_key(followups[0].effect_key)
    assert group is not None and group.kind == "circle"
    member = (await world.store.members(group.id))[0].person
    answer = await world.followups.on_reaction(member, followups[0].effect_key, "👍", False)
    assert answer.status == "recorded"
