from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.circles import Circle, CirclePerson, form_circles
from bot.domain.semantic.topics import SAME_TOPIC
from bot.services.encoder import E5Encoder
from tests.support.encoders import bundled_encoder

TOPICS = ["Digitalisierung", "Bauleitplanung", "Friedhofswesen", "E-Akte", "Kita-Plätze"]


def person(pid: int, municipality: str, *topics: str, department: str = "Amt") -> CirclePerson:
    return CirclePerson(pid, municipality, department, frozenset(topics))


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


def test_one_topic_everyone_placed_in_even_circles() -> None:
    people = [person(i, "ABC"[i % 3], "Digitalisierung") for i in range(12)]
    circles = form_circles(people, [])
    assert sorted(len(c.members) for c in circles) == [6, 6]
    assert {c.topic for c in circles} == {"Digitalisierung"}
    assert sorted(i for c in circles for i in c.members) == list(range(12))


def test_leftover_people_stay_out_rather_than_break_the_size_limits() -> None:
    people = [person(i, "AB"[i % 2], "E-Akte") for i in range(7)]
    circles = form_circles(people, [], min_size=4, max_size=6)
    assert [len(c.members) for c in circles] == [6]


def test_single_municipality_forms_no_circle() -> None:
    people = [person(i, "Musterstadt", "Digitalisierung") for i in range(6)]
    assert form_circles(people, ["Digitalisierung"]) == []


def test_topics_below_min_shared_only_when_configured() -> None:
    people = [
        person(1, "A", "Friedhofswesen"),
        person(2, "B", "friedhofswesen "),
        person(3, "A", "Friedhofswesen"),
    ]
    assert form_circles(people, [], min_shared=4) == []
    assert form_circles(people, ["FRIEDHOFSWESEN"], min_shared=4) == [
        Circle("FRIEDHOFSWESEN", (1, 2, 3))
    ]
    # An emerging topic is named in its most common spelling.
    assert form_circles(people, [], min_shared=3) == [Circle("Friedhofswesen", (1, 2, 3))]


def test_rare_topic_is_served_before_a_popular_one() -> None:
    popular = [person(i, "AB"[i % 2], "Digitalisierung") for i in range(10)]
    rare = [
        person(20, "A", "Friedhofswesen", "Digitalisierung"),
        person(21, "B", "Friedhofswesen"),
        person(22, "C", "Friedhofswesen"),
    ]
    circles = form_circles(popular + rare, [])
    assert Circle("Friedhofswesen", (20, 21, 22)) in circles


def test_a_group_that_was_together_is_not_formed_again() -> None:
    people = [person(i, "AB"[i % 2], "Kita") for i in range(4)]
    assert form_circles(people, [], recent_together={frozenset(range(4))}) == []
    assert form_circles(people, [], recent_together={frozenset(range(3))}) != []


def test_next_round_mixes_the_circles_of_the_last_one() -> None:
    people = [person(i, "ABCD"[i % 4], "Digitalisierung") for i in range(16)]
    first = form_circles(people, [], max_size=4, rng_seed=1)
    assert len(first) == 4
    recent = {frozenset(c.members) for c in first}
    second = form_circles(people, [], max_size=4, recent_together=recent, rng_seed=2)
    assert len(second) == 4
    recent_pairs = {frozenset(p) for group in recent for p in combinations(group, 2)}
    repeated = [
        p for c in second for p in combinations(c.members, 2) if frozenset(p) in recent_pairs
    ]
    assert repeated == []


def test_colleagues_from_the_same_office_are_spread() -> None:
    people = [person(i, "AB"[i // 4], "Digitalisierung", department="Bauamt") for i in range(8)]
    circles = form_circles(people, [], max_size=4)
    for circle in circles:
        assert Counter("AB"[i // 4] for i in circle.members) == {"A": 2, "B": 2}


@pytest.mark.parametrize(("min_size", "max_size"), [(1, 4), (4, 3)])
def test_bad_sizes_are_rejected(min_size: int, max_size: int) -> None:
    with pytest.raises(ValueError):
        form_circles([], [], min_size=min_size, max_size=max_size)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError):
        form_circles([person(1, "A", "x"), person(1, "B", "x")], [])


@st.composite
def populations(draw: st.DrawFn) -> list[CirclePerson]:
    ids = draw(st.lists(st.integers(0, 200), unique=True, max_size=40))
    spellings = st.sampled_from(TOPICS).map(
        lambda t: draw(st.sampled_from([t, t.lower(), f" {t.upper()} "]))
    )
    return [
        CirclePerson(
            pid,
            draw(st.sampled_from(["Aachen", "Bonn", "Köln", "aachen"])),
            draw(st.sampled_from(["Bauamt", "IT", "Ordnungsamt"])),
            frozenset(draw(st.lists(spellings, max_size=3))),
        )
        for pid in ids
    ]


@settings(deadline=None, max_examples=150)
@given(
    people=populations(),
    configured=st.lists(st.sampled_from([*TOPICS, "Wahlen"]), max_size=2),
    sizes=st.tuples(st.integers(2, 4), st.integers(0, 3)),
    min_shared=st.integers(1, 6),
    recent_groups=st.lists(st.sets(st.integers(0, 200), min_size=2, max_size=6), max_size=30),
    seed=st.integers(0, 2**32),
)
def test_circle_invariants(
    people: list[CirclePerson],
    configured: list[str],
    sizes: tuple[int, int],
    min_shared: int,
    recent_groups: list[set[int]],
    seed: int,
) -> None:
    min_size, max_size = sizes[0], sizes[0] + sizes[1]
    recent = {frozenset(group) for group in recent_groups}
    args = (people, configured, min_size, max_size, min_shared, recent, seed)
    circles = form_circles(*args)
    assert form_circles(*args) == circles

    by_id = {p.id: p for p in people}
    topic_counts = Counter(fold(t) for p in people for t in {fold(t) for t in p.topics})
    seen: set[int] = set()
    for circle in circles:
        members = circle.members
        assert min_size <= len(members) <= max_size
        assert list(members) == sorted(set(members))
        assert len({fold(by_id[i].municipality) for i in members}) >= 2
        assert all(fold(circle.topic) in {fold(t) for t in by_id[i].topics} for i in members)
        assert fold(circle.topic) in {fold(t) for t in configured} or (
            topic_counts[fold(circle.topic)] >= min_shared
        )
        assert not any(set(members) <= group for group in recent)
        assert not seen & set(members)
        seen.update(members)


@settings(deadline=None)
@given(
    municipalities=st.lists(st.sampled_from("ABCD"), min_size=2, max_size=30).filter(
        lambda ms: len(set(ms)) >= 2
    ),
    sizes=st.tuples(st.integers(2, 4), st.integers(0, 3)),
    seed=st.integers(0, 2**32),
)
def test_a_topic_spanning_municipalities_gets_a_circle(
    municipalities: list[str], sizes: tuple[int, int], seed: int
) -> None:
    min_size, max_size = sizes[0], sizes[0] + sizes[1]
    people = [person(i, m, "E-Akte") for i, m in enumerate(municipalities)]
    circles = form_circles(people, [], min_size, max_size, min_shared=1, rng_seed=seed)
    assert (len(circles) > 0) == (len(people) >= min_size)


# --- topics that mean the same ---------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return bundled_encoder()


def meaning_of(encoder: E5Encoder, people: list[CirclePerson], *more: str) -> dict:
    topics = sorted({t for p in people for t in p.topics} | set(more))
    return dict(zip(topics, encoder.encode_blocking(topics, query=True), strict=True))


def test_topics_that_mean_the_same_form_one_circle(encoder: E5Encoder) -> None:
    people = [
        person(1, "A", "Friedhofswesen"),
        person(2, "B", "Friedhöfe"),
        person(3, "A", "Friedhofswesen"),
        person(4, "B", "Bestattungswesen"),
        person(5, "C", "Wahlen"),
        person(6, "A", "Wahlen"),
    ]
    # By spelling alone no topic is named by three people.
    assert form_circles(people, []) == []
    circles = form_circles(people, [], meaning=meaning_of(encoder, people))
    # Named as most people name it; "Wahlen" means something else and stays apart.
    assert circles == [Circle("Friedhofswesen", (1, 2, 3, 4))]


def test_a_configured_topic_gathers_what_means_the_same(encoder: E5Encoder) -> None:
    people = [
        person(1, "A", "digitale Verwaltung"),
        person(2, "B", "Digitalisierung der Verwaltung"),
        person(3, "C", "E-Government", "Digitalisierung"),
    ]
    meaning = meaning_of(encoder, people, "Digitalisierung")
    circles = form_circles(people, ["Digitalisierung"], meaning=meaning)
    assert circles == [Circle("Digitalisierung", (1, 2, 3))]


@st.composite
def meaningful(draw: st.DrawFn) -> tuple[list[CirclePerson], dict]:
    """People with topics among groups of near vectors (one group per base topic)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.standard_normal((len(TOPICS), 24))
    meaning = {}
    for t, topic in enumerate(TOPICS):
        for spelling in (topic, f"{topic} (neu)"):
            vector = base[t] + draw(st.sampled_from([0.0, 0.05, 0.8])) * rng.standard_normal(24)
            meaning[spelling] = (vector / np.linalg.norm(vector)).astype(np.float32)
    ids = draw(st.lists(st.integers(0, 200), unique=True, max_size=40))
    people = [
        CirclePerson(
            pid,
            draw(st.sampled_from(["Aachen", "Bonn", "Köln"])),
            draw(st.sampled_from(["Bauamt", "IT"])),
            frozenset(draw(st.lists(st.sampled_from(sorted(meaning)), max_size=3))),
        )
        for pid in ids
    ]
    return people, meaning


@settings(deadline=None, max_examples=60)
@given(case=meaningful(), min_shared=st.integers(1, 4), seed=st.integers(0, 2**32))
def test_circles_by_meaning_keep_every_rule(
    case: tuple[list[CirclePerson], dict], min_shared: int, seed: int
) -> None:
    people, meaning = case
    circles = form_circles(people, [], 3, 5, min_shared, rng_seed=seed, meaning=meaning)
    assert form_circles(people, [], 3, 5, min_shared, rng_seed=seed, meaning=meaning) == circles
    by_id = {p.id: p for p in people}
    seen: set[int] = set()
    for circle in circles:
        assert 3 <= len(circle.members) <= 5
        assert len({fold(by_id[i].municipality) for i in circle.members}) >= 2
        assert not seen & set(circle.members)
        seen.update(circle.members)
        # Everyone named the circle's topic or one at least SAME_TOPIC close to it.
        centre = meaning[circle.topic]
        for i in circle.members:
            closeness = max(float(meaning[t] @ centre) for t in by_id[i].topics)
            assert closeness >= SAME_TOPIC - 1e-6
