"""Colleague search on a temporary SQLite with the real embedding model and a recording
Messenger: meaning not spelling, only findable people and never the searcher, the limits,
introductions that need a 👍, and the person's data (export, forget down to the file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.profile import ProfileField
from bot.i18n import Lang
from bot.i18n.render import render
from bot.services.colleague_search import (
    SEARCHES_PER_HOUR,
    ColleagueSearchService,
    SearchQueued,
    SearchRefused,
)
from bot.services.encoder import E5Encoder
from bot.services.introductions import (
    ANSWER_DAYS,
    DAY_S,
    INTRODUCTIONS_PER_DAY,
    OPEN_ASKS_PER_PERSON,
    ask_key,
    intro_of_ask_key,
)
from bot.services.ports import Say
from bot.services.profile_vectors import profile_source
from bot.services.profiles import ProfileService
from bot.services.vectors import VectorService
from bot.store.db import Database
from tests.support.config import directory_config
from tests.support.encoders import bundled_encoder
from tests.support.fakes import RecordingMessenger, Sent

SERVER = "rathaus.example"
SEARCHER = f"@suchende:{SERVER}"
KITA = f"@kita:{SERVER}"
BAU = f"@bau:{SERVER}"
HUND = f"@hundesteuer:{SERVER}"
HIDDEN = f"@verborgen:{SERVER}"
T0 = 1_800_000_000.0

KITA_TASKS = "Betreuungsplätze in Kindertagesstätten vermitteln"
BAU_TASKS = "Vergabe von Bauaufträgen"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    db: Database
    messenger: RecordingMessenger
    clock: Clock
    profiles: ProfileService
    vectors: VectorService
    search: ColleagueSearchService

    async def person(
        self,
        user_id: str,
        name: str | None,
        tasks: str,
        *,
        findable: bool = True,
        department: str = "Jugendamt",
        municipality: str = "Musterstadt",
    ) -> None:
        await self.profiles.set_field(user_id, ProfileField.TASKS, tasks)
        await self.profiles.set_field(user_id, ProfileField.DEPARTMENT, department)
        await self.profiles.set_field(user_id, ProfileField.MUNICIPALITY, municipality)
        if name:
            await self.profiles.set_field(user_id, ProfileField.NAME, name)
        await self.search.set_findable(user_id, findable)

    async def find(self, user_id: str, text: str) -> list[tuple[str, str]]:
        """Search, run the search as the runner does; (colleague, phrase) best first."""
        await self.vectors.refresh()
        started = await self.search.start(user_id, text)
        assert isinstance(started, SearchQueued), started
        assert await self.search.run_pending() == 1
        results = await self.search.store.results(started.search_id)
        return [(r.user_id, r.phrase) for r in results]


def make_world(db: Database, encoder: E5Encoder | None) -> World:
    messenger = RecordingMessenger()
    clock = Clock()
    profiles = ProfileService(db, directory_config().directory)
    vectors = VectorService(db, encoder)
    vectors.add_source(profile_source(profiles.repo))
    search = ColleagueSearchService(db, messenger, profiles, vectors, clock=clock)
    return World(db, messenger, clock, profiles, vectors, search)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    encoder = bundled_encoder()
    db = Database(tmp_path / "suche.db")
    await db.open()
    try:
        yield make_world(db, encoder)
    finally:
        await db.close()


def text(message: Say | None, lang: Lang = "de") -> str:
    """Render like the chat layer does: nested Says in the recipient's language."""
    assert message is not None
    params = {
        k: (render(v.key, lang, **v.params).plain if isinstance(v, Say) else v)
        for k, v in message.params.items()
    }
    return render(message.key, lang, **{"prefix": "!", **params}).plain


def told(world: World, user_id: str, key: str) -> list[Sent]:
    return [s for s in world.messenger.to(user_id) if s.message and s.message.key == key]


# -- searching -----------------------------------------------------------------------------


async def test_a_search_in_other_words_finds_the_colleague_by_meaning(world: World) -> None:
    await world.person(KITA, "Kim Kita", f"{KITA_TASKS}; Elternberatung")
    await world.person(BAU, "Bo Bau", f"{BAU_TASKS}; Ausschreibungen nach VOB", department="Bauamt")
    await world.person(HUND, "Hanna Hund", "Hundesteuer veranlagen", department="Kämmerei")

    found = await world.find(SEARCHER, "Kita-Plätze vergeben")

    # Not one word in common with the search, yet first; with the matching phrase.
    assert found[0] == (KITA, KITA_TASKS)
    # "Vergabe" looks like "vergeben" but is about building contracts.
    assert found.index((BAU, BAU_TASKS)) > 0 if (BAU, BAU_TASKS) in found else True
    (sent,) = told(world, SEARCHER, "search.results")
    assert sent.effect_key.endswith(":results")
    shown = text(sent.message)
    assert "1. Kim Kita – Jugendamt, Musterstadt: »Betreuungsplätze in" in shown
    assert "@kita" not in shown  # no Matrix ID: contact only through an introduction
    assert "Elternberatung" not in shown  # only the phrase that fits, not the whole profile
    assert "nur nach gleichen Wörtern" not in shown


async def test_only_findable_confirmed_people_and_never_the_searcher(world: World) -> None:
    await world.person(SEARCHER, "Sina Suche", KITA_TASKS)  # findable herself
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    await world.person(HIDDEN, "Vera Verborgen", KITA_TASKS, findable=False)
    # Imported (never confirmed in chat), even if the column says findable.
    await world.profiles.repo.create(f"@importiert:{SERVER}", T0, source="import")
    await world.profiles.repo.update(
        f"@importiert:{SERVER}", T0, tasks=KITA_TASKS, findable=True, display_name="Ina Import"
    )

    found = await world.find(SEARCHER, "Betreuungsplätze in Kitas vermitteln")
    assert [who for who, _ in found] == [KITA]
    shown = text(told(world, SEARCHER, "search.results")[0].message)
    assert "Verborgen" not in shown and "Import" not in shown and "Sina" not in shown
    assert "Sie selbst sind nicht auffindbar" not in shown  # she is findable


async def test_nobody_fitting_says_so_and_suggests_being_findable(world: World) -> None:
    await world.person(HUND, "Hanna Hund", "Hundesteuer veranlagen")
    assert await world.find(SEARCHER, "Trinkwasserproben im Labor auswerten") == []
    (sent,) = told(world, SEARCHER, "search.none")
    assert "niemanden gefunden" in text(sent.message)
    assert "!profil auffindbar ja" in text(sent.message)


async def test_saying_no_takes_the_person_out_of_every_list(world: World) -> None:
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    assert [who for who, _ in await world.find(SEARCHER, "Kita-Plätze vergeben")] == [KITA]
    assert await world.search.set_findable(KITA, False) is True
    assert (await world.search.introduce(SEARCHER, "1")).code == "not_findable"
    latest = await world.search.store.latest_search(SEARCHER)
    assert latest is not None and await world.search.store.results(latest.id) == []
    # The queued result message named her: it is gone too.
    assert not await world.db.fetchall("SELECT 1 FROM outbox WHERE payload LIKE '%Kim Kita%'")


async def test_searches_are_rate_limited_per_person(world: World) -> None:
    for _ in range(SEARCHES_PER_HOUR):
        assert isinstance(await world.search.start(SEARCHER, "Wohngeld"), SearchQueued)
        world.clock.now += 60
    refused = await world.search.start(SEARCHER, "Wohngeld")
    assert isinstance(refused, SearchRefused) and refused.reason == "rate_limited"
    assert refused.wait_minutes == 50  # the first search of the hour was 10 minutes ago
    assert isinstance(await world.search.start(KITA, "Wohngeld"), SearchQueued)  # per person
    world.clock.now += 50 * 60
    assert isinstance(await world.search.start(SEARCHER, "Wohngeld"), SearchQueued)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("x", "too_short"),
        ("  42  ", "too_short"),
        ("@kim:rathaus.example", "person"),
        ("wer ist @kim:rathaus.example", "person"),
        ("Kita " * 60, "too_long"),
    ],
)
async def test_bad_search_texts_are_refused_with_the_reason(
    world: World, typed: str, reason: str
) -> None:
    refused = await world.search.start(SEARCHER, typed)
    assert refused == SearchRefused(reason)  # type: ignore[arg-type]


async def test_without_the_model_it_compares_words_and_says_so(tmp_path: Path) -> None:
    db = Database(tmp_path / "ohne-modell.db")
    await db.open()
    try:
        world = make_world(db, None)
        await world.person(KITA, "Kim Kita", "Vergabe von Kita-Plätzen; Elternberatung")
        await world.person(BAU, "Bo Bau", BAU_TASKS)
        found = await world.find(SEARCHER, "Elternberatung für Familien")
        assert found == [(KITA, "Elternberatung")]
        (sent,) = told(world, SEARCHER, "search.results")
        assert "nur nach gleichen Wörtern" in text(sent.message)
    finally:
        await db.close()


async def test_the_result_list_is_gone_after_a_day(world: World) -> None:
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    await world.find(SEARCHER, "Kita-Plätze vergeben")
    world.clock.now += DAY_S + 1
    assert (await world.search.introduce(SEARCHER, "1")).code == "no_search"
    await world.search.tick()
    assert await world.db.fetchall("SELECT * FROM colleague_searches") == []
    assert await world.db.fetchall("SELECT * FROM colleague_search_results") == []
    assert not await world.db.fetchall("SELECT 1 FROM outbox WHERE key LIKE 'search:%'")


async def test_the_runner_answers_at_once_and_the_job_catches_up(world: World) -> None:
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    await world.vectors.refresh()
    # Before the bot starts its jobs (or after a crash) a search stays pending ...
    left = await world.search.start(SEARCHER, "Kita-Plätze vergeben")
    assert isinstance(left, SearchQueued)
    await asyncio.sleep(0.05)
    assert (await world.search.store.pending_searches())[0].id == left.search_id
    # ... and the periodic job answers it.
    await world.search.tick()
    assert len(told(world, SEARCHER, "search.results")) == 1

    # Once started, the runner answers a search stored inside a command's transaction as
    # soon as that transaction is committed, without waiting for the job.
    world.search.start_runner()
    async with world.db.transaction(
        "test.colleague_search.test_the_runner_answers_at_once_and_the_job_catches_up"
    ):
        fresh = await world.search.start(SEARCHER, "Kinderbetreuung vermitteln")
        assert isinstance(fresh, SearchQueued)
    for _ in range(200):
        if not await world.search.store.pending_searches():
            break
        await asyncio.sleep(0.05)
    assert len(told(world, SEARCHER, "search.results")) == 2
    # Only the latest list is kept (the one `!vorstellen` refers to).
    assert await world.search.store.results(left.search_id) == []
    assert [r.user_id for r in await world.search.store.results(fresh.search_id)] == [KITA]


# -- introductions -------------------------------------------------------------------------


async def _asked(world: World) -> int:
    await world.person(SEARCHER, "Sina Suche", "Elternbeiträge berechnen", department="Amt 51")
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    await world.find(SEARCHER, "Kita-Plätze vergeben")
    assert (await world.search.introduce(SEARCHER, "Nr. 1")).code == "asked"
    (ask,) = told(world, KITA, "search.intro.ask")
    intro_id = intro_of_ask_key(ask.effect_key)
    assert intro_id is not None and ask.effect_key == ask_key(intro_id)
    return intro_id


async def test_introduction_only_after_a_thumbs_up(world: World) -> None:
    intro_id = await _asked(world)
    (ask,) = told(world, KITA, "search.intro.ask")
    shown = text(ask.message)
    assert "Sina Suche (Amt 51, Musterstadt) möchte Sie gern kennenlernen" in shown
    assert "»Kita-Plätze vergeben«" in shown and f"»{KITA_TASKS}«" in shown
    assert ask.extra["reactions"] == ("👍", "👎")
    (requested,) = told(world, SEARCHER, "search.intro.requested")
    assert "Kim Kita (Nr. 1)" in text(requested.message)
    # Nobody is contacted beyond the question: no room yet.
    assert [s for s in world.messenger.sent if s.kind == "open_room"] == []

    assert await world.search.answer(SEARCHER, intro_id, True) == "not_yours"
    assert await world.search.answer(KITA, intro_id, True) == "accepted"
    (room,) = [s for s in world.messenger.sent if s.kind == "open_room"]
    assert sorted(room.extra["invite"]) == sorted([SEARCHER, KITA])
    intro = text(room.message)
    assert "Sina Suche" in intro and "Kim Kita" in intro and KITA_TASKS in intro
    assert told(world, SEARCHER, "search.intro.accepted")
    # Answering again changes nothing; asking again says they know each other.
    assert await world.search.answer(KITA, intro_id, False) == "settled"
    assert (await world.search.introduce(SEARCHER, "1")).code == "already_introduced"
    stored = await world.search.store.intro(intro_id)
    assert stored is not None and stored.state == "accepted" and stored.query is None


async def test_a_no_is_passed_on_kindly_and_not_asked_again(world: World) -> None:
    intro_id = await _asked(world)
    assert await world.search.answer(KITA, intro_id, False) == "declined"
    (sent,) = told(world, SEARCHER, "search.intro.not_now")
    assert "kommt diesmal leider nicht zustande" in text(sent.message)
    assert "Kim Kita" in text(sent.message)
    assert [s for s in world.messenger.sent if s.kind == "open_room"] == []
    assert (await world.search.introduce(SEARCHER, "1")).code == "asked_recently"


async def test_no_answer_within_a_week_is_a_kind_no(world: World) -> None:
    intro_id = await _asked(world)
    assert (await world.search.introduce(SEARCHER, "1")).code == "already_asked"
    world.clock.now += ANSWER_DAYS * DAY_S - 60
    await world.search.tick()
    assert told(world, SEARCHER, "search.intro.not_now") == []
    world.clock.now += 120
    await world.search.tick()
    (sent,) = told(world, SEARCHER, "search.intro.not_now")
    assert sent.effect_key == f"intro:{intro_id}:not_now"
    assert await world.search.answer(KITA, intro_id, True) == "expired"
    assert [s for s in world.messenger.sent if s.kind == "open_room"] == []


async def test_a_typed_yes_answers_the_one_open_request(world: World) -> None:
    intro_id = await _asked(world)
    assert await world.search.answer_text(SEARCHER, True) == "none"  # nothing asked of her
    assert await world.search.answer_text(KITA, True) == "accepted"
    stored = await world.search.store.intro(intro_id)
    assert stored is not None and stored.state == "accepted"
    assert await world.search.answer_text(KITA, True) == "none"


async def test_introductions_are_limited_per_requester_and_per_person_asked(
    world: World,
) -> None:
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    searchers = [f"@frage{i}:{SERVER}" for i in range(OPEN_ASKS_PER_PERSON + 1)]
    for who in searchers:
        await world.find(who, "Kita-Plätze vergeben")
    for who in searchers[:-1]:
        assert (await world.search.introduce(who, "1")).code == "asked"
    assert (await world.search.introduce(searchers[-1], "1")).code == "busy"
    assert await world.search.answer_text(KITA, True) == "many"

    colleagues = [f"@kollegin{i}:{SERVER}" for i in range(INTRODUCTIONS_PER_DAY + 1)]
    for who in colleagues:
        await world.person(who, f"Kollegin {who[9]}", "Wohngeldanträge bearbeiten")
    found = await world.find(SEARCHER, "Wohngeld bearbeiten")
    assert len(found) == INTRODUCTIONS_PER_DAY + 1
    for number in range(1, INTRODUCTIONS_PER_DAY + 1):
        assert (await world.search.introduce(SEARCHER, str(number))).code == "asked"
    refused = await world.search.introduce(SEARCHER, str(INTRODUCTIONS_PER_DAY + 1))
    assert refused.code == "rate_limited" and refused.wait_hours == 24


@pytest.mark.parametrize(
    ("typed", "code"), [("zwei", "bad_number"), ("9", "out_of_range"), ("0", "out_of_range")]
)
async def test_bad_numbers_are_refused(world: World, typed: str, code: str) -> None:
    await world.person(KITA, "Kim Kita", KITA_TASKS)
    await world.find(SEARCHER, "Kita-Plätze vergeben")
    outcome = await world.search.introduce(SEARCHER, typed)
    assert outcome.code == code
    assert not told(world, KITA, "search.intro.ask")


# -- personal data -------------------------------------------------------------------------


async def test_export_shows_searches_results_and_requests(world: World) -> None:
    intro_id = await _asked(world)
    mine = await world.search.export(SEARCHER)
    (search,) = mine["searches"]
    assert search["text"] == "Kita-Plätze vergeben"
    assert search["results"] == [{"number": 1, "colleague": KITA, "task": KITA_TASKS}]
    assert mine["introductions_requested"][0]["to"] == KITA
    assert mine["introductions_requested"][0]["state"] == "asked"
    assert await world.search.user_ids() == {SEARCHER, KITA}
    theirs = await world.search.export(KITA)
    assert theirs["searches"] == []
    assert theirs["introductions_received"][0]["from"] == SEARCHER
    assert (await world.profiles.repo.export(KITA) or {})["findable"] is True
    assert intro_id


def raw_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_forgetting_the_person_asked_leaves_no_trace(world: World, tmp_path: Path) -> None:
    from bot.services.personal_data import ChatTraces
    from bot.services.privacy import PrivacyService, ProfileData

    intro_id = await _asked(world)
    privacy = PrivacyService(
        world.db,
        [ProfileData(world.db), ChatTraces(world.db), world.vectors, world.search],
        None,
    )
    await privacy.forget(KITA)
    await privacy.checkpoint()
    data = raw_bytes(tmp_path / "suche.db")
    for trace in (KITA.encode(), b"Kim Kita", "Kindertagesstätten".encode()):
        assert trace not in data, trace
    # The requester learns that it will not happen, without a name.
    (gone,) = told(world, SEARCHER, "search.intro.gone")
    assert gone.effect_key == f"intro:{intro_id}:gone"
    mine = await world.search.export(SEARCHER)
    assert mine["searches"][0]["results"] == []
    assert mine["introductions_requested"][0]["to"] == "eine ehemalige Person"


async def test_forgetting_the_searcher_leaves_no_trace(world: World, tmp_path: Path) -> None:
    from bot.services.personal_data import ChatTraces
    from bot.services.privacy import PrivacyService, ProfileData

    intro_id = await _asked(world)
    assert await world.search.answer(KITA, intro_id, True) == "accepted"
    privacy = PrivacyService(
        world.db,
        [ProfileData(world.db), ChatTraces(world.db), world.vectors, world.search],
        None,
    )
    await privacy.forget(SEARCHER)
    await privacy.checkpoint()
    data = raw_bytes(tmp_path / "suche.db")
    for trace in (SEARCHER.encode(), b"Sina Suche", "Kita-Plätze vergeben".encode()):
        assert trace not in data, trace
    theirs = await world.search.export(KITA)
    assert theirs["introductions_received"][0]["from"] == "eine ehemalige Person"
    assert theirs["introductions_received"][0]["state"] == "accepted"
