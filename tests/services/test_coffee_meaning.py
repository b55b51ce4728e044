"""Coffee rounds and topic circles by meaning, on a temporary SQLite with the real model: a
round reads the stored vectors and never encodes, pairs the same task in other words and says
so with the closest phrases, compares people without vectors by words (and logs how many);
circles gather topics that mean the same."""

from __future__ import annotations

import logging

import pytest

from bot.services.circles import CirclesService
from bot.services.coffee import CLOSE, CoffeeService, explained, why
from bot.services.followup import FollowUps
from bot.services.ports import Say
from bot.services.profile_vectors import profile_source
from bot.services.vectors import VectorService
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.encoders import CountingEncoder, bundled_encoder
from tests.support.rounds import (
    FIRST_WEDNESDAY,
    WEDNESDAY,
    Clock,
    RenderingMessenger,
    add_people,
    circles_config,
    coffee_config,
    uid,
)

KITA = "Vergabe von Kita-Plätzen"
KITA_TOO = "Betreuungsplätze in Kindertagesstätten vermitteln"
PEOPLE: list[tuple[str, str, str, str, list[str]]] = [
    ("anna", "Bauamt", "Musterstadt", KITA, []),
    ("bernd", "Kämmerei", "Beispieldorf", KITA_TOO, []),
    ("cem", "Ordnungsamt", "Musterstadt", "Hundesteuer veranlagen", []),
    ("dora", "Bauamt", "Beispieldorf", "Friedhofsgebühren kalkulieren", []),
]


@pytest.fixture
def encoder() -> CountingEncoder:
    return CountingEncoder(bundled_encoder())


async def vectors_of(db: Database, encoder: CountingEncoder) -> VectorService:
    service = VectorService(db, encoder)
    service.add_source(profile_source(ProfileRepository(db)))
    await service.refresh()
    encoder.texts.clear()
    return service


def coffee(db: Database, vectors: VectorService) -> tuple[CoffeeService, RenderingMessenger]:
    messenger = RenderingMessenger()
    clock = Clock(WEDNESDAY)
    followups = FollowUps(db, messenger, clock)
    service = CoffeeService(db, messenger, coffee_config(), followups, clock=clock, vectors=vectors)
    return service, messenger


def reasons(messenger: RenderingMessenger) -> dict[frozenset[str], Say]:
    found = {}
    for sent in messenger.sent:
        if sent.kind == "open_room":
            assert sent.message is not None
            reason = sent.message.params["why"]
            assert isinstance(reason, Say), reason
            found[frozenset(sent.extra["invite"])] = reason
    return found


async def test_a_round_pairs_the_same_task_in_other_words_from_stored_vectors(
    db: Database, encoder: CountingEncoder
) -> None:
    await add_people(db, PEOPLE)
    vectors = await vectors_of(db, encoder)
    service, messenger = coffee(db, vectors)
    await service.run_round("coffee:2026-W48", "admin")
    assert encoder.texts == []  # the round only read stored vectors
    by_pair = reasons(messenger)
    kita = by_pair[frozenset({uid("anna"), uid("bernd")})]
    assert kita == Say("coffee.why.close.pair", {"a": KITA, "b": KITA_TOO})
    assert frozenset({uid("cem"), uid("dora")}) in by_pair


async def test_people_without_vectors_are_compared_by_words(
    db: Database, encoder: CountingEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    await add_people(db, PEOPLE)
    vectors = await vectors_of(db, encoder)
    # Cem changed his text after the last refresh: no vectors for it yet.
    await ProfileRepository(db).update(uid("cem"), tasks="Friedhofsgebühren und Hundesteuer")
    service, messenger = coffee(db, vectors)
    with caplog.at_level(logging.INFO, logger="bot.services.coffee"):
        await service.run_round("coffee:2026-W48", "admin")
    assert encoder.texts == []
    assert "1 of 4 people compared by words only (no stored vectors)" in caplog.text
    by_pair = reasons(messenger)
    assert by_pair[frozenset({uid("cem"), uid("dora")})] == Say(
        "coffee.why.pair", {"shared": "Friedhofsgebühren"}
    )
    assert by_pair[frozenset({uid("anna"), uid("bernd")})].key == "coffee.why.close.pair"


def test_the_stored_reason_reads_back_as_phrases_or_words() -> None:
    stored = explained((KITA, KITA_TOO), ())
    assert stored == (KITA, CLOSE, KITA_TOO)
    assert why("pair", stored) == Say("coffee.why.close.pair", {"a": KITA, "b": KITA_TOO})
    trio = explained(("Wahlen", "wahlen", "WAHLEN"), ())
    assert why("trio", trio) == Say("coffee.why.same.trio", {"a": "Wahlen"})
    assert why("pair", explained((), ("Fördermittel",))) == Say(
        "coffee.why.pair", {"shared": "Fördermittel"}
    )
    assert why("pair", ()) == Say("coffee.why.none")


async def circle_people(db: Database, people: list[tuple[str, str, list[str]]]) -> None:
    repo = ProfileRepository(db)
    for name, municipality, topics in people:
        user = uid(name)
        await repo.create(user, 1_700_000_000.0, confirmed=True)
        await repo.update(
            user,
            display_name=name.capitalize(),
            department="Bauamt",
            municipality=municipality,
            tasks="Verwaltung",
            topics=topics,
            coffee=True,
        )


async def test_circles_gather_topics_that_mean_the_same(
    db: Database, encoder: CountingEncoder
) -> None:
    await circle_people(
        db,
        [
            ("anna", "Musterstadt", ["Friedhofswesen"]),
            ("bernd", "Beispieldorf", ["Friedhofswesen"]),
            ("cem", "Musterstadt", ["Friedhöfe"]),
            ("dora", "Kreisstadt", ["Bestattungswesen"]),
            ("emil", "Kreisstadt", ["Wahlen"]),
        ],
    )
    vectors = await vectors_of(db, encoder)
    config = circles_config(min_shared=3, topics=["Digitalisierung"])
    service = CirclesService(
        db, RenderingMessenger(), config, clock=Clock(FIRST_WEDNESDAY + 60), vectors=vectors
    )
    planned = await service.plan()
    assert [(g.topic, sorted(p.user_id for p in g.members)) for g in planned.groups] == [
        ("Friedhofswesen", sorted(uid(n) for n in ("anna", "bernd", "cem", "dora")))
    ]
    # Only the configured topic was encoded while planning; the profiles' were stored.
    assert encoder.texts == ["Digitalisierung"]


async def test_circles_without_the_model_match_topics_by_spelling(db: Database) -> None:
    await circle_people(
        db,
        [
            ("anna", "Musterstadt", ["Friedhofswesen"]),
            ("bernd", "Beispieldorf", ["Friedhofswesen"]),
            ("cem", "Musterstadt", ["Friedhöfe"]),
        ],
    )
    vectors = VectorService(db, None)
    service = CirclesService(
        db, RenderingMessenger(), circles_config(), clock=Clock(FIRST_WEDNESDAY), vectors=vectors
    )
    assert (await service.plan()).groups == []


async def test_a_round_compares_people_in_the_task_space(
    db: Database, encoder: CountingEncoder
) -> None:
    """By e5's own cosine the allotment gardens' administration sits nearest the fire
    brigade's administration; the round pairs it with the allotments' leases, the same work in
    other words (tasks of the paraphrase pool)."""
    await add_people(
        db,
        [
            ("anna", "Grünflächenamt", "Musterstadt", "Verwaltung der Kleingartenanlagen", []),
            (
                "bernd",
                "Liegenschaften",
                "Beispieldorf",
                "Schrebergärten verpachten und Streit um Parzellen schlichten",
                [],
            ),
            (
                "cem",
                "Ordnungsamt",
                "Beispieldorf",
                "Verwaltung der Freiwilligen Feuerwehr",
                [],
            ),
            ("dora", "Sozialamt", "Musterstadt", "Grundsteuer und Gewerbesteuer festsetzen", []),
        ],
    )
    service, messenger = coffee(db, await vectors_of(db, encoder))
    await service.run_round("coffee:2026-W48", "admin")
    assert frozenset({uid("anna"), uid("bernd")}) in reasons(messenger)
