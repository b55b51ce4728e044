"""Weekly coffee matches: hard rules, preferences, trios, reasons, and the pairing algorithms."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.matching import (
    INELIGIBLE,
    NO_ALLOWED_PARTNER,
    NO_FREE_PARTNER,
    Group,
    MatchPerson,
    MatchRules,
    PastPair,
    RoundPlan,
    plan_round,
    summarise,
)
from bot.domain.pairing import approximate_pairs, exact_pairs
from bot.domain.phrases import split_tasks
from bot.services.encoder import E5Encoder
from tests.support.encoders import bundled_encoder

TASKS = {
    "funding": "Ich bearbeite Fördermittelanträge und Verwendungsnachweise.",
    "digital": "Digitalisierung der Verwaltung, E-Akte und Onlinezugangsgesetz.",
    "kita": "Kita-Plätze und Kindertagesbetreuung.",
    "climate": "Klimaschutzkonzept und Hitzeschutz.",
}


def person(
    pid: int,
    department: str = "",
    municipality: str = "Musterstadt",
    tasks: str = TASKS["funding"],
    topics: tuple[str, ...] = (),
    languages: frozenset[str] = frozenset({"de"}),
    never_with: frozenset[int] = frozenset(),
    since: int | None = 1,
    eligible: bool = True,
) -> MatchPerson:
    return MatchPerson(
        id=pid,
        department=department or f"Amt {pid}",
        municipality=municipality,
        tasks=tasks,
        topics=topics,
        languages=languages,
        never_with=never_with,
        rounds_since_last_match=since,
        eligible=eligible,
    )


def grouped(plan: RoundPlan) -> set[frozenset[int]]:
    return {frozenset(g.members) for g in plan.groups}


# --- hard rules ------------------------------------------------------------------------------


def test_similar_people_in_different_departments_meet() -> None:
    people = [
        person(1, tasks=TASKS["funding"]),
        person(2, tasks=TASKS["kita"]),
        person(3, tasks=TASKS["funding"]),
        person(4, tasks=TASKS["kita"]),
    ]
    plan = plan_round(people, [], MatchRules())
    assert grouped(plan) == {frozenset({1, 3}), frozenset({2, 4})}
    assert plan.unmatched == []


def test_same_department_never_meets_however_similar() -> None:
    people = [
        person(1, "Jugendamt", tasks=TASKS["kita"]),
        person(2, "Jugendamt", tasks=TASKS["kita"]),
        person(3, "Kämmerei", tasks=TASKS["climate"]),
        person(4, "Umweltamt", tasks=TASKS["climate"]),
    ]
    plan = plan_round(people, [], MatchRules())
    for group in plan.groups:
        assert len({people[m - 1].department for m in group.members}) == len(group.members)


def test_municipality_rule_pairs_the_same_department_across_municipalities() -> None:
    people = [
        person(1, "Jugendamt", "Altdorf", TASKS["kita"]),
        person(2, "Jugendamt", "Bergheim", TASKS["kita"]),
        person(3, "Kämmerei", "Altdorf", TASKS["funding"]),
        person(4, "Kämmerei", "Bergheim", TASKS["funding"]),
    ]
    plan = plan_round(people, [], MatchRules(separation="municipality"))
    assert grouped(plan) == {frozenset({1, 2}), frozenset({3, 4})}


def test_ineligible_people_are_never_matched_and_say_why() -> None:
    people = [person(1), person(2), person(3, eligible=False), person(4)]
    plan = plan_round(people, [], MatchRules())
    assert all(3 not in g.members for g in plan.groups)
    assert (3, INELIGIBLE) in plan.unmatched


def test_never_with_holds_in_both_directions() -> None:
    people = [
        person(1, tasks=TASKS["kita"], never_with=frozenset({2})),
        person(2, tasks=TASKS["kita"]),
        person(3, tasks=TASKS["climate"]),
        person(4, tasks=TASKS["climate"]),
    ]
    plan = plan_round(people, [], MatchRules())
    assert frozenset({1, 2}) not in grouped(plan)
    assert len(plan.groups) == 2


def test_people_without_a_common_language_do_not_meet() -> None:
    people = [
        person(1, languages=frozenset({"uk"})),
        person(2, languages=frozenset({"de"})),
        person(3, languages=frozenset({"de", "uk"})),
    ]
    plan = plan_round(people, [], MatchRules())
    # 1 and 2 can each meet only 3, and no trio works: no language all three speak.
    (group,) = plan.groups
    assert 3 in group.members
    assert plan.unmatched == [(({1, 2} - set(group.members)).pop(), NO_FREE_PARTNER)]


def test_nobody_to_meet_is_reported_not_dropped() -> None:
    alone = plan_round([person(1)], [], MatchRules())
    assert alone.groups == [] and alone.unmatched == [(1, NO_ALLOWED_PARTNER)]
    same = [person(i, "Hauptamt") for i in range(1, 4)]
    plan = plan_round(same, [], MatchRules())
    assert plan.groups == []
    assert sorted(plan.unmatched) == [(i, NO_ALLOWED_PARTNER) for i in range(1, 4)]
    assert plan_round([], [], MatchRules()) == RoundPlan([], [])


def test_duplicate_ids_are_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unique"):
        plan_round([person(1), person(1)], [], MatchRules())


def test_the_odd_person_joins_the_pair_they_fit_best() -> None:
    people = [
        person(1, tasks=TASKS["kita"]),
        person(2, tasks=TASKS["kita"]),
        person(3, tasks=TASKS["climate"]),
        person(4, tasks=TASKS["climate"]),
        person(5, tasks=TASKS["climate"] + " " + TASKS["climate"]),
    ]
    plan = plan_round(people, [], MatchRules())
    assert grouped(plan) == {frozenset({1, 2}), frozenset({3, 4, 5})}
    assert plan.unmatched == []


# --- history ---------------------------------------------------------------------------------


def test_a_recent_pair_is_banned_and_an_old_one_only_penalised() -> None:
    people = [person(i, tasks=TASKS["kita"]) for i in range(1, 3)]
    rules = MatchRules(repeat_ban_rounds=4)
    assert plan_round(people, [PastPair(1, 2, 4)], rules).groups == []
    assert grouped(plan_round(people, [PastPair(2, 1, 5)], rules)) == {frozenset({1, 2})}


def test_a_pair_from_just_after_the_ban_loses_against_an_equal_new_one() -> None:
    people = [person(i, tasks=TASKS["kita"]) for i in range(1, 5)]
    rules = MatchRules(repeat_ban_rounds=3, noise=0.0)
    first = plan_round(people, [], rules)
    history = [p for g in first.groups for p in g.pairs(rounds_ago=4)]
    assert grouped(plan_round(people, history, rules)).isdisjoint(grouped(first))


def test_round_after_the_ban_is_not_a_copy_of_an_earlier_round() -> None:
    """The trap: "no repeat within K" alone makes round K+1 repeat round 1."""
    topics = list(TASKS.values())
    people = [person(i, tasks=topics[i % 4] + " " + topics[(i // 4) % 4]) for i in range(16)]
    k = 3
    history: list[PastPair] = []
    rounds = []
    for number in range(8):
        plan = plan_round(people, history, MatchRules(repeat_ban_rounds=k, seed=number))
        rounds.append(grouped(plan))
        history = [replace(p, rounds_ago=p.rounds_ago + 1) for p in history]
        history += [p for g in plan.groups for p in g.pairs()]
    for r in range(len(rounds) - k - 1):
        assert rounds[r] != rounds[r + k + 1]


# --- preferences -------------------------------------------------------------------------------


def test_crossing_municipalities_breaks_a_tie() -> None:
    people = [
        person(1, municipality="Altdorf", tasks=TASKS["kita"]),
        person(2, municipality="Altdorf", tasks=TASKS["kita"]),
        person(3, municipality="Bergheim", tasks=TASKS["kita"]),
        person(4, municipality="Bergheim", tasks=TASKS["kita"]),
    ]
    plan = plan_round(people, [], MatchRules(noise=0.0))
    for group in plan.groups:
        assert len({people[m - 1].municipality for m in group.members}) == 2


def test_whoever_was_left_out_is_matched_first() -> None:
    people = [
        person(1, tasks=TASKS["kita"], since=1),
        person(2, tasks=TASKS["kita"], since=4),
        person(3, tasks=TASKS["kita"], since=1),
    ]
    # 1 and 2 met last round, so only one of them can meet 3 (no trio either): 2 waited longer.
    plan = plan_round(people, [PastPair(1, 2, 1)], MatchRules())
    assert grouped(plan) == {frozenset({2, 3})}
    assert plan.unmatched == [(1, NO_FREE_PARTNER)]


def test_groups_say_why_they_were_matched() -> None:
    people = [
        person(1, tasks="Ich bearbeite Fördermittelanträge.", topics=("Digitalisierung",)),
        person(2, tasks="Anträge auf Fördermittel und E-Akte.", topics=("digitalisierung",)),
    ]
    (group,) = plan_round(people, [], MatchRules()).groups
    assert group.shared[0] == "Digitalisierung"
    assert any("Fördermittel" in word for word in group.shared)
    assert 0 < group.similarity <= 1
    assert group.weight >= group.similarity


def test_summary_counts_without_naming_anyone() -> None:
    people = [person(i, tasks=TASKS["kita"], municipality=f"M{i % 2}") for i in range(1, 6)]
    people.append(person(6, eligible=False))
    plan = plan_round(people, [], MatchRules())
    summary = summarise(plan, people)
    assert (summary.people, summary.groups, summary.trios) == (6, 2, 1)
    assert (summary.matched, summary.unmatched) == (5, 1)
    assert summary.unmatched_by_reason == {INELIGIBLE: 1}
    assert summary.cross_department_share == 1.0
    assert 0 < summary.cross_municipality_share <= 1
    assert 0 < summary.mean_similarity <= 1


# --- by meaning --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return bundled_encoder()


def encoded(encoder: E5Encoder, someone: MatchPerson) -> MatchPerson:
    """The person as a round loads them: with the stored vectors of their phrases."""
    phrases = split_tasks(someone.tasks, someone.topics)
    return replace(someone, phrases=phrases, vectors=encoder.encode_blocking(phrases, query=True))


KITA = "Vergabe von Kita-Plätzen"
KITA_TOO = "Betreuungsplätze in Kindertagesstätten vermitteln"


def test_the_same_task_in_other_words_is_matched_and_explained(encoder: E5Encoder) -> None:
    people = [
        person(1, tasks=KITA),
        person(2, tasks="Hundesteuer veranlagen"),
        person(3, tasks=KITA_TOO),
        person(4, tasks="Friedhofsgebühren kalkulieren"),
    ]
    # By words the two Kita people share nothing; by meaning they belong together.
    plan = plan_round([encoded(encoder, p) for p in people], [], MatchRules(noise=0.0))
    assert frozenset({1, 3}) in grouped(plan)
    (kita,) = [g for g in plan.groups if set(g.members) == {1, 3}]
    assert kita.phrases == (KITA, KITA_TOO)
    assert kita.shared == ()
    assert plan.by_words == 0


def test_people_without_vectors_are_matched_by_their_words(encoder: E5Encoder) -> None:
    people = [
        encoded(encoder, person(1, tasks=KITA)),
        encoded(encoder, person(2, tasks=KITA_TOO)),
        person(3, tasks="Friedhofsgebühren kalkulieren"),  # changed their text: no vectors yet
        encoded(encoder, person(4, tasks="Friedhofsgebühren und Grabstellen")),
    ]
    plan = plan_round(people, [], MatchRules(noise=0.0))
    assert grouped(plan) == {frozenset({1, 2}), frozenset({3, 4})}
    assert plan.by_words == 1
    (words,) = [g for g in plan.groups if 3 in g.members]
    assert words.phrases == () and words.shared == ("Friedhofsgebühren",)


# --- twenty rounds, random populations ------------------------------------------------------


@st.composite
def populations(draw: st.DrawFn) -> list[MatchPerson]:
    n = draw(st.integers(0, 24))
    departments = draw(st.integers(1, 5))
    people = []
    for pid in range(n):
        languages = draw(st.sampled_from([{"de"}, {"de"}, {"de", "en"}, {"en"}, {"tr"}]))
        people.append(
            person(
                pid,
                department=f"Amt {draw(st.integers(0, departments - 1))}",
                municipality=draw(st.sampled_from(["Altdorf", "Bergheim", "Seestadt"])),
                tasks=" ".join(draw(st.lists(st.sampled_from(list(TASKS.values())), max_size=2))),
                topics=tuple(
                    draw(st.lists(st.sampled_from(["Kita", "Klima", "E-Akte"]), max_size=2))
                ),
                languages=frozenset(languages),
                never_with=frozenset(draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=2))),
                since=draw(st.sampled_from([None, 1, 2, 5])),
                eligible=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    return people


def allowed(a: MatchPerson, b: MatchPerson, recent: set[frozenset[int]], rules: MatchRules) -> bool:
    """The hard rules for one pair, written out independently of the implementation."""
    if rules.separation == "department":
        apart = a.department != b.department
    else:
        apart = a.municipality != b.municipality
    return (
        a.id != b.id
        and a.eligible
        and b.eligible
        and apart
        and bool(a.languages & b.languages)
        and b.id not in a.never_with
        and a.id not in b.never_with
        and frozenset((a.id, b.id)) not in recent
    )


def check_round(
    plan: RoundPlan, people: list[MatchPerson], history: list[PastPair], rules: MatchRules
) -> None:
    by_id = {p.id: p for p in people}
    recent = {frozenset((h.a, h.b)) for h in history if h.rounds_ago <= rules.repeat_ban_rounds}
    seen = Counter(m for g in plan.groups for m in g.members)
    assert all(count == 1 for count in seen.values()), "nobody twice in a round"
    reasons = dict(plan.unmatched)
    assert len(reasons) == len(plan.unmatched) and not set(seen) & set(reasons)
    for p in people:
        assert p.id in seen or p.id in reasons, "nobody dropped silently"
        assert (reasons.get(p.id) == INELIGIBLE) == (not p.eligible)
    for group in plan.groups:
        assert len(group.members) in (2, 3)
        members = [by_id[m] for m in group.members]
        assert frozenset.intersection(*(m.languages for m in members)), "a shared language"
        assert all(allowed(a, b, recent, rules) for a, b in itertools.combinations(members, 2))
    # Nobody is left out needlessly: whoever waits has no partner among the others waiting
    # and fits no pair as a third; "no allowed partner" means nobody at all.
    waiting = [by_id[i] for i, reason in plan.unmatched if reason == NO_FREE_PARTNER]
    for a, b in itertools.combinations(waiting, 2):
        assert not allowed(a, b, recent, rules)
    pairs = [[by_id[m] for m in g.members] for g in plan.groups if len(g.members) == 2]
    for x in waiting:
        for a, b in pairs:
            fits = allowed(x, a, recent, rules) and allowed(x, b, recent, rules)
            assert not (fits and x.languages & a.languages & b.languages)
    for i, reason in plan.unmatched:
        if reason == NO_ALLOWED_PARTNER:
            assert not any(allowed(by_id[i], other, recent, rules) for other in people)


@settings(max_examples=12, deadline=None)
@given(
    people=populations(),
    separation=st.sampled_from(["department", "municipality"]),
    ban=st.integers(1, 6),
    approximate=st.booleans(),
)
def test_twenty_rounds_keep_every_rule(
    people: list[MatchPerson], separation: str, ban: int, approximate: bool
) -> None:
    history: list[PastPair] = []
    for number in range(20):
        rules = MatchRules(
            separation=separation,  # type: ignore[arg-type]
            repeat_ban_rounds=ban,
            seed=number,
            exact_up_to=0 if approximate else 2000,
        )
        plan = plan_round(people, history, rules)
        check_round(plan, people, history, rules)
        history = [replace(p, rounds_ago=p.rounds_ago + 1) for p in history]
        history += [p for g in plan.groups for p in g.pairs()]


@settings(max_examples=12, deadline=None)
@given(
    people=populations(),
    seed=st.integers(0, 2**32 - 1),
    encoded_share=st.floats(0, 1),
    approximate=st.booleans(),
)
def test_a_round_by_meaning_keeps_every_rule(
    people: list[MatchPerson], seed: int, encoded_share: float, approximate: bool
) -> None:
    """Random phrase vectors for some people, words for the others: the same hard rules."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(8)
    mixed = []
    for p in people:
        if rng.random() < encoded_share:
            raw = centre + rng.standard_normal((2, 8))
            vectors = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)
            p = replace(p, phrases=("eins", "zwei"), vectors=vectors)
        mixed.append(p)
    history: list[PastPair] = []
    for number in range(3):
        rules = MatchRules(repeat_ban_rounds=2, seed=number, exact_up_to=0 if approximate else 2000)
        plan = plan_round(mixed, history, rules)
        check_round(plan, mixed, history, rules)
        assert all(0 <= g.similarity <= 1 + 1e-9 for g in plan.groups)
        history = [replace(p, rounds_ago=p.rounds_ago + 1) for p in history]
        history += [p for g in plan.groups for p in g.pairs()]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 21), approximate=st.booleans())
def test_everyone_meets_someone_when_everyone_may_meet(n: int, approximate: bool) -> None:
    people = [person(i, tasks=list(TASKS.values())[i % 4]) for i in range(n)]
    plan = plan_round(people, [], MatchRules(exact_up_to=0 if approximate else 2000))
    assert plan.unmatched == []
    assert sum(len(g.members) == 3 for g in plan.groups) == n % 2


def test_the_left_over_person_with_a_fitting_pair_is_never_dropped() -> None:
    # Three departments, one language each side: the fifth person must join a trio.
    people = [person(i, department=f"Amt {i % 3}") for i in range(5)]
    plan = plan_round(people, [], MatchRules())
    assert plan.unmatched == []
    assert [len(g.members) for g in plan.groups].count(3) == 1


# --- pairing algorithms -----------------------------------------------------------------------


def brute_force(n: int, edges: dict[tuple[int, int], float]) -> tuple[int, float]:
    """(most pairs, best weight among those) over all matchings of a tiny graph."""
    best = (0, 0.0)

    def extend(free: list[int], pairs: int, weight: float) -> None:
        nonlocal best
        best = max(best, (pairs, round(weight, 9)))
        if len(free) < 2:
            return
        first, rest = free[0], free[1:]
        extend(rest, pairs, weight)
        for i, other in enumerate(rest):
            if (first, other) in edges:
                extend(rest[:i] + rest[i + 1 :], pairs + 1, weight + edges[(first, other)])

    extend(list(range(n)), 0, 0.0)
    return best


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 9) -> tuple[int, dict[tuple[int, int], float]]:
    n = draw(st.integers(1, max_nodes))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    weights = draw(st.lists(st.floats(-0.2, 1.0), min_size=len(chosen), max_size=len(chosen)))
    return n, dict(zip(chosen, weights, strict=True))


def as_arrays(edges: dict[tuple[int, int], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    return u, v, np.array(list(edges.values()), dtype=np.float64)


def is_matching(mate: np.ndarray, edges: dict[tuple[int, int], float]) -> tuple[int, float]:
    pairs, weight = 0, 0.0
    for a, b in enumerate(mate.tolist()):
        if b >= 0:
            assert mate[b] == a
            if a < b:
                assert (a, b) in edges
                pairs += 1
                weight += edges[(a, b)]
    return pairs, round(weight, 9)


@settings(max_examples=80, deadline=None)
@given(graph=graphs())
def test_exact_pairs_is_optimal(graph: tuple[int, dict[tuple[int, int], float]]) -> None:
    n, edges = graph
    pairs, weight = is_matching(exact_pairs(n, *as_arrays(edges)), edges)
    best_pairs, best_weight = brute_force(n, edges)
    assert pairs == best_pairs
    assert weight == pytest.approx(best_weight, abs=1e-5)


@settings(max_examples=80, deadline=None)
@given(graph=graphs(max_nodes=12))
def test_approximate_pairs_is_a_valid_matching(
    graph: tuple[int, dict[tuple[int, int], float]],
) -> None:
    n, edges = graph
    pairs, _ = is_matching(approximate_pairs(n, *as_arrays(edges)), edges)
    best_pairs, _ = brute_force(n, edges)
    assert pairs >= best_pairs - 1  # short augmenting paths only: at most one pair missed here


def test_approximate_pairs_comes_close_to_the_optimum_on_a_sparse_graph() -> None:
    rng = np.random.default_rng(7)
    n, per_node = 600, 8
    u = np.repeat(np.arange(n), per_node)
    v = rng.integers(0, n, n * per_node)
    keys = np.unique(np.minimum(u, v)[u != v] * n + np.maximum(u, v)[u != v])
    u, v = keys // n, keys % n
    w = rng.random(len(u))
    edges = dict(zip(zip(u.tolist(), v.tolist(), strict=True), w.tolist(), strict=True))
    exact = is_matching(exact_pairs(n, u, v, w), edges)
    approx = is_matching(approximate_pairs(n, u, v, w), edges)
    assert approx[0] >= exact[0] - 3
    assert approx[1] >= 0.99 * exact[1]


def test_group_pairs_cover_a_trio() -> None:
    assert Group((1, 2, 3), 0.0, 0.0, ()).pairs(2) == [
        PastPair(1, 2, 2),
        PastPair(1, 3, 2),
        PastPair(2, 3, 2),
    ]
