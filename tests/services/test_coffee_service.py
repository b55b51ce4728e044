"""Coffee rounds on a temporary SQLite with a recording Messenger: who is matched and why,
a round key runs once, the schedule (grace, holidays, every N weeks), follow-ups and their
answers, the "pause?" question after unanswered introductions, preview and forgetting."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

import pytest

from bot.config import Config
from bot.services.coffee import PAUSE_KEY, CoffeeHistory, CoffeeService
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.store.coffee import CoffeeStore
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.fakes import Sent
from tests.support.rounds import (
    BERLIN,
    WEDNESDAY,
    Clock,
    RenderingMessenger,
    add_people,
    at,
    coffee_config,
    uid,
)

ADMIN = frozenset({"admin"})
ADMIN_ID = "@admin:rathaus.example"

# Six colleagues, three departments, two municipalities; similar tasks across departments.
PEOPLE = [
    ("anna", "Bauamt", "Musterstadt", "Fördermittelanträge, Digitalisierung", ["Fördermittel"]),
    ("bernd", "Kämmerei", "Musterstadt", "Fördermittelanträge und Haushalt", ["Fördermittel"]),
    ("cem", "Ordnungsamt", "Beispieldorf", "Digitalisierung der Bußgeldverfahren", ["E-Akte"]),
    ("dora", "Bauamt", "Beispieldorf", "E-Akte einführen, Digitalisierung", ["E-Akte"]),
    ("emil", "Kämmerei", "Beispieldorf", "Friedhofsgebühren kalkulieren", ["Friedhofswesen"]),
    ("frida", "Ordnungsamt", "Musterstadt", "Friedhofswesen und Gebühren", ["Friedhofswesen"]),
]


class World:
    def __init__(self, db: Database, config: Config, now: float) -> None:
        self.db = db
        self.clock = Clock(now)
        self.messenger = RenderingMessenger()
        self.followups = FollowUps(db, self.messenger, self.clock)
        self.coffee = CoffeeService(db, self.messenger, config, self.followups, clock=self.clock)
        self.store = CoffeeStore(db)
        self.requests = 0
        self.woken = 0
        self.coffee.wake = self._wake

    def _wake(self) -> None:
        self.woken += 1

    def intros(self) -> list[Sent]:
        return [s for s in self.messenger.sent if s.kind == "open_room"]

    async def admin(self, mode: str = "run", room: str | None = None) -> Sent:
        """`!admin runde [probe]` as the chat layer does it, then the job; the answer."""
        self.requests += 1
        assert await self.coffee.request(ADMIN_ID, ADMIN, mode, f"$event{self.requests}", room)  # type: ignore[arg-type]
        await self.coffee.tick()
        answers = [s for s in self.messenger.sent if s.effect_key.startswith("coffee:request:")]
        assert answers and answers[-1].message is not None
        return answers[-1]


MONDAY_9 = at(2026, 11, 23, 9, 0)  # Monday of 2026-W48


@pytest.fixture
async def world(db: Database) -> World:
    await add_people(db, PEOPLE)
    # Wednesday of that week: the scheduled round is past its grace, nothing runs by itself.
    return World(db, coffee_config(), WEDNESDAY)


async def test_round_pairs_everyone_once_across_departments_and_says_why(world: World) -> None:
    answer = await world.admin()
    assert world.woken == 1  # the job was asked to run at once
    assert answer.kind == "tell" and answer.target == ADMIN_ID
    assert answer.message is not None and answer.message.key == "coffee.admin.ran"
    figures = answer.message.params
    assert figures["round"] == "2026-W48"
    assert (figures["people"], figures["groups"], figures["unmatched"]) == (6, 3, 0)
    assert figures["cross_department"] == 100.0
    intros = world.intros()
    invited = Counter(u for s in intros for u in s.extra["invite"])
    assert invited == Counter({uid(n): 1 for n, *_ in PEOPLE})
    departments = {uid(n): d for n, d, *_ in PEOPLE}
    for sent in intros:
        members = sent.extra["invite"]
        assert len({departments[m] for m in members}) == len(members)
        assert sent.message is not None and sent.message.key == "coffee.intro.pair"
        why = sent.message.params["why"]
        assert isinstance(why, Say) and why.key == "coffee.why.pair"
        assert why.params["shared"]  # the introduction names what they share
        assert sent.message.params["starter"].key.startswith("coffee.starter.")  # type: ignore[attr-defined]
        assert sent.effect_key == f"{sent.target}:intro"
    # Every group is recorded with its members, a follow-up due later, nothing answered yet.
    row = await world.store.round_by_key("coffee:2026-W48")
    assert row is not None
    groups = await world.store.groups_of_round(row.id)
    assert [g.room_key for g in groups] == [s.target for s in intros]
    assert all(g.followup_due_at == pytest.approx(world.clock.now + 3 * 86400) for g in groups)


async def test_shared_reasons_name_the_common_work(world: World) -> None:
    await world.admin()
    by_pair = {
        frozenset(s.extra["invite"]): s.message.params["why"].params["shared"]  # type: ignore[union-attr]
        for s in world.intros()
    }
    assert any("Fördermittel" in shared for shared in by_pair.values())


async def test_a_round_key_runs_once_even_when_started_twice_at_once(world: World) -> None:
    first, second = await asyncio.gather(
        world.coffee.run_round("coffee:2026-W48", "schedule"),
        world.coffee.run_round("coffee:2026-W48", "admin"),
    )
    assert first == second  # both see the one stored round
    assert len(world.intros()) == 3
    again = await world.coffee.run_round("coffee:2026-W48", "schedule")
    assert again == first and len(world.intros()) == 3
    rows = await world.db.fetchall("SELECT key FROM coffee_rounds")
    assert [r[0] for r in rows] == ["coffee:2026-W48"]


async def test_introductions_queued_after_a_crash_between_store_and_queue(world: World) -> None:
    planned = await world.coffee.plan()
    await world.coffee._store("coffee:2026-W48", "schedule", planned)
    assert world.intros() == []  # stored, then the process died before queueing
    await world.coffee.tick()  # after the restart
    assert len(world.intros()) == 3
    await world.coffee.tick()
    assert len(world.intros()) == 3
    row = await world.store.round_by_key("coffee:2026-W48")
    assert row is not None
    groups = await world.store.groups_of_round(row.id)
    assert all(g.intro_queued_at is not None for g in groups)


async def test_admin_round_after_the_scheduled_one_is_an_extra_round(world: World) -> None:
    world.clock.now = MONDAY_9 + 30
    await world.coffee.tick()
    assert len(world.intros()) == 3
    extra = await world.admin(room="!admins:rathaus.example")
    assert extra.kind == "post" and extra.target == "!admins:rathaus.example"
    assert extra.extra["mention"] == [ADMIN_ID]
    assert extra.message is not None and extra.message.params["round"] == "2026-W48+1"
    # Nobody meets last round's partner again.
    pairs = [frozenset(s.extra["invite"]) for s in world.intros()]
    assert len(set(pairs)) == len(pairs) == 6


async def test_only_admins_run_or_preview(world: World) -> None:
    assert not await world.coffee.request(uid("anna"), frozenset({"staff"}), "run", "$e1", None)
    assert not await world.coffee.request(uid("anna"), frozenset(), "preview", "$e2", None)
    await world.coffee.tick()
    assert world.messenger.sent == []


async def test_a_request_is_carried_out_once_even_after_a_crash(world: World) -> None:
    assert await world.coffee.request(ADMIN_ID, ADMIN, "run", "$e1", None)
    assert await world.coffee.request(ADMIN_ID, ADMIN, "run", "$e1", None)  # replayed event
    # The job fixed the round key, ran the round, then "crashed" before answering.
    request = (await world.store.open_requests("coffee"))[0]
    key = await world.coffee.next_admin_key()
    await world.store.set_request_key(request.id, key)
    await world.coffee.run_round(key, "admin")
    await world.coffee.tick()  # after the restart: the same round, answered once
    rounds = [r[0] for r in await world.db.fetchall("SELECT key FROM coffee_rounds")]
    assert rounds == ["coffee:2026-W48"]
    answers = [s for s in world.messenger.sent if s.effect_key.startswith("coffee:request:")]
    assert len(answers) == 1 and len(world.intros()) == 3
    assert await world.store.open_requests("coffee") == []


async def test_preview_sends_and_stores_nothing(world: World) -> None:
    answer = await world.admin("preview")
    assert answer.message is not None and answer.message.key == "coffee.admin.preview"
    figures = answer.message.params
    assert (figures["people"], figures["groups"]) == (6, 3)
    assert 0 < figures["similarity"] <= 1  # type: ignore[operator]
    assert figures["cross_department"] == 100.0
    assert world.messenger.sent == [answer]
    assert tuple(await world.db.fetchone("SELECT COUNT(*) FROM coffee_rounds") or ()) == (0,)


async def test_scheduled_round_runs_once_at_its_time(world: World) -> None:
    world.clock.now = MONDAY_9 - 60
    await world.coffee.tick()
    assert world.intros() == []
    world.clock.now = MONDAY_9 + 5
    await world.coffee.tick()
    world.clock.now = MONDAY_9 + 120
    await world.coffee.tick()
    assert len(world.intros()) == 3
    assert [r[0] for r in await world.db.fetchall("SELECT key FROM coffee_rounds")] == [
        "coffee:2026-W48"
    ]


async def test_missed_round_runs_within_grace_but_not_after(db: Database) -> None:
    await add_people(db, PEOPLE)
    late = World(db, coffee_config(grace_hours=24), MONDAY_9 + 23 * 3600)
    await late.coffee.tick()  # the bot came back the same day: the round runs
    assert len(late.intros()) == 3
    too_late = World(db, coffee_config(grace_hours=24), at(2026, 12, 1, 10, 0))
    await too_late.coffee.tick()  # Tuesday of the next week, 25 h after its Monday: skipped
    assert too_late.intros() == []
    assert [r[0] for r in await db.fetchall("SELECT key FROM coffee_rounds")] == ["coffee:2026-W48"]


async def test_public_holiday_moves_the_round_to_the_next_working_day(db: Database) -> None:
    await add_people(db, PEOPLE)
    config = coffee_config(holiday_state="NW", grace_hours=2)
    easter_monday = World(db, config, at(2026, 4, 6, 9, 30))
    await easter_monday.coffee.tick()
    assert easter_monday.intros() == []
    tuesday = World(db, config, at(2026, 4, 7, 9, 30))
    await tuesday.coffee.tick()
    assert len(tuesday.intros()) == 3
    assert (await db.fetchone("SELECT key FROM coffee_rounds"))[0] == "coffee:2026-W15"  # type: ignore[index]
    # Without a holiday state, Easter Monday is an ordinary Monday.
    plain = World(db, coffee_config(), at(2026, 4, 13, 9, 30))
    assert plain.coffee.schedule.period_of(datetime(2026, 4, 6).date()).due == datetime(
        2026, 4, 6, 9, 0, tzinfo=BERLIN
    )


async def test_every_second_week_skips_the_weeks_between(db: Database) -> None:
    await add_people(db, PEOPLE)
    config = coffee_config(every_weeks=2)
    w48 = World(db, config, MONDAY_9 + 60)
    w49 = World(db, config, MONDAY_9 + 7 * 86400 + 60)
    await w48.coffee.tick()
    await w49.coffee.tick()
    ran = [r[0] for r in await db.fetchall("SELECT key FROM coffee_rounds")]
    assert len(ran) == 1 and ran[0] in ("coffee:2026-W48", "coffee:2026-W49")


async def test_paused_and_opted_out_people_are_not_matched(world: World) -> None:
    repo = ProfileRepository(world.db)
    await repo.update(uid("anna"), coffee=False)
    await repo.update(uid("bernd"), coffee_paused_until=world.clock.now + 86400)
    await world.admin()
    invited = {u for s in world.intros() for u in s.extra["invite"]}
    assert invited == {uid(n) for n in ("cem", "dora", "emil", "frida")}


async def test_odd_person_joins_a_trio_instead_of_being_dropped(world: World) -> None:
    await ProfileRepository(world.db).update(uid("frida"), coffee=False)
    figures = (await world.admin()).message.params  # type: ignore[union-attr]
    assert (figures["groups"], figures["trios"], figures["unmatched"]) == (2, 1, 0)
    kinds = sorted(s.message.key for s in world.intros() if s.message)
    assert kinds == ["coffee.intro.pair", "coffee.intro.trio"]


async def test_followup_is_asked_once_when_due_and_reactions_are_answers(world: World) -> None:
    await world.admin()
    await world.coffee.tick()
    assert not [s for s in world.messenger.sent if s.kind == "post_in_room"]
    world.clock.now += 3 * 86400 + 1
    await world.coffee.tick()
    await world.coffee.tick()
    followups = [s for s in world.messenger.sent if s.kind == "post_in_room"]
    assert len(followups) == 3
    assert all(s.extra["reactions"] == ("👍", "👎") for s in followups)
    assert all(s.message and s.message.key == "coffee.followup.pair" for s in followups)
    first = followups[0]
    group = await world.store.group_by_followup_key(first.effect_key)
    assert group is not None
    a, b = (m.person for m in await world.store.members(group.id))

    answer = await world.followups.on_reaction(a, first.effect_key, "👍", False)
    assert answer.status == "recorded" and answer.met is True
    assert [m.met for m in await world.store.members(group.id)] == [True, None]
    # A stranger's reaction changes nothing.
    stranger = await world.followups.on_reaction(uid("zoe"), first.effect_key, "👍", False)
    assert stranger.status == "not_member"
    # Withdrawing the reaction takes the answer back.
    await world.followups.on_reaction(a, first.effect_key, "👍", True)
    assert [m.met for m in await world.store.members(group.id)] == [None, None]
    await world.followups.on_reaction(b, first.effect_key, "👎", False)
    assert [m.met for m in await world.store.members(group.id)] == [None, False]
    # Withdrawing another emoji than the one that gave the answer keeps the answer.
    await world.followups.on_reaction(b, first.effect_key, "👍", True)
    assert [m.met for m in await world.store.members(group.id)] == [None, False]


async def test_text_answer_in_the_room_and_in_the_dm(world: World) -> None:
    await world.admin()
    intro = world.intros()[0]
    a, b = intro.extra["invite"]
    await world.db.execute(
        "INSERT INTO purpose_rooms (key, room_id, created_at) VALUES (?, ?, 0)",
        (intro.target, "!match:rathaus.example"),
        name="test.seed_purpose_room",
    )
    answer = await world.followups.answer_by_text(a, "!match:rathaus.example", True)
    assert answer.status == "recorded" and answer.group and answer.group.room_key == intro.target
    in_dm = await world.followups.answer_by_text(b, "!dm-of-b:rathaus.example", False)
    assert in_dm.status == "recorded" and in_dm.group and in_dm.group.room_key == intro.target
    outsider = next(u for s in world.intros()[1:] for u in s.extra["invite"])
    refused = await world.followups.answer_by_text(outsider, "!match:rathaus.example", True)
    assert refused.status == "not_member"
    nobody = await world.followups.answer_by_text(uid("zoe"), "!dm:rathaus.example", True)
    assert nobody.status == "no_group"


async def run_weeks(world: World, weeks: int) -> None:
    for _ in range(weeks):
        await world.coffee.tick()
        world.clock.now += 3 * 86400 + 60
        await world.coffee.tick()  # follow-ups
        world.clock.now += 4 * 86400 - 60


def pause_questions(world: World) -> list[Sent]:
    return [s for s in world.messenger.sent if s.effect_key.startswith(PAUSE_KEY)]


async def test_three_unanswered_introductions_lead_to_a_question_not_a_removal(
    db: Database,
) -> None:
    await add_people(db, PEOPLE)
    world = World(db, coffee_config(repeat_ban_rounds=1), MONDAY_9 + 30)
    await run_weeks(world, 3)
    assert pause_questions(world) == []
    # Anna answers "no" to her latest follow-up: she is engaged, her partner is not.
    latest = await world.store.latest_group_of(uid("anna"))
    assert latest is not None
    await world.followups.on_reaction(uid("anna"), latest.followup_key, "👎", False)
    # Whoever confirms a meeting answers for the whole group.
    met = await world.store.latest_group_of(uid("cem"))
    assert met is not None and met.id != latest.id
    await world.followups.on_reaction(uid("cem"), met.followup_key, "👍", False)
    cem_partner = {m.person for m in await world.store.members(met.id)} - {uid("cem")}
    await run_weeks(world, 1)  # round 4 starts: three unanswered in a row for the others
    asked = pause_questions(world)
    everyone = {uid(n) for n, *_ in PEOPLE}
    assert {s.target for s in asked} == everyone - {uid("anna"), uid("cem")} - cem_partner
    assert all(s.kind == "tell" and s.extra["reactions"] == ("👍", "👎") for s in asked)
    assert all(s.message and s.message.key == "coffee.pause_question" for s in asked)
    # Nobody was removed: round 4 still matched all six.
    row = await world.store.last_round("coffee")
    assert row is not None and row.unmatched == 0 and row.groups == 3
    # Not asked again in the next round (only after three more unanswered).
    await run_weeks(world, 1)
    assert len(pause_questions(world)) == len(asked)

    # 👍 on the question pauses the person for four weeks; 👎 keeps them in.
    yes, no = asked[0], asked[1]
    assert await world.coffee.on_pause_answer(yes.target, yes.effect_key, "👍", False)
    assert await world.coffee.on_pause_answer(no.target, no.effect_key, "👎", False)
    # Someone else's reaction on the question does nothing.
    assert await world.coffee.on_pause_answer(uid("zoe"), yes.effect_key, "👍", False)
    profile = await ProfileRepository(db).get(yes.target)
    assert profile is not None and profile.coffee_paused_until is not None
    declined = await ProfileRepository(db).get(no.target)
    assert declined is not None and declined.coffee_paused_until is None
    replies = [
        s.message.key for s in world.messenger.sent if ":answer:" in s.effect_key and s.message
    ]
    assert sorted(replies) == ["coffee.pause_answer.paused", "coffee.pause_answer.stay"]
    await run_weeks(world, 1)
    last = await world.store.last_round("coffee")
    assert last is not None
    groups = await world.store.groups_of_round(last.id)
    members = {m.person for g in groups for m in await world.store.members(g.id)}
    assert yes.target not in members


async def test_no_repeat_of_a_recent_pair(db: Database) -> None:
    await add_people(db, PEOPLE)
    world = World(db, coffee_config(repeat_ban_rounds=26), MONDAY_9 + 30)
    await run_weeks(world, 2)
    pairs = [frozenset(s.extra["invite"]) for s in world.intros()]
    assert len(pairs) == 6 and len(set(pairs)) == 6


async def test_forgotten_person_becomes_a_placeholder_and_history_stays(world: World) -> None:
    await world.admin()
    anna = uid("anna")
    group = await world.store.latest_group_of(anna)
    assert group is not None
    await world.followups.on_reaction(anna, group.followup_key, "👍", False)
    history = CoffeeHistory(world.db, coffee_config())
    exported = await history.export(anna)
    assert exported[0]["met"] is True and exported[0]["round"] == "coffee:2026-W48"
    await history.forget(anna)
    members = await world.store.members(group.id)
    assert len(members) == 2 and anna not in {m.person for m in members}
    placeholder = next(m for m in members if m.person.startswith("~forgotten:"))
    assert placeholder.met is True  # the tie still counts for the statistics
    assert placeholder.department == "Bauamt"  # a configured department stays
    assert placeholder.municipality == ""  # a typed-in municipality goes
    assert await history.export(anna) == []
    # The partner's history is whole: their next round still avoids the placeholder pair.
    partner = next(m.person for m in members if m.person != placeholder.person)
    assert (await world.store.last_matched_seq("coffee"))[partner] == 1
    assert len({m.person for m in members}) == 2
    rows = await world.db.fetchall("SELECT person FROM coffee_members")
    shared = await world.db.fetchone("SELECT shared FROM coffee_groups WHERE id = ?", (group.id,))
    assert anna not in {r["person"] for r in rows}
    assert shared is not None and shared["shared"] == "[]"


async def test_people_on_other_homeservers_only_when_allowed(db: Database) -> None:
    await add_people(db, PEOPLE)
    repo = ProfileRepository(db)
    outsider = "@gina:elsewhere.example"
    await repo.create(outsider, 1_700_000_000.0, confirmed=True)
    await repo.update(
        outsider, department="Bauamt", municipality="Fern", tasks="Digitalisierung", coffee=True
    )
    world = World(db, coffee_config(), MONDAY_9 + 30)
    await world.admin()
    assert outsider not in {u for s in world.intros() for u in s.extra["invite"]}
