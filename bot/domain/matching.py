"""Weekly coffee matches: who meets whom this round, and why.

`plan_round` is a pure function: people, past pairs and rules in, groups and the people left
unmatched (each with a reason) out. Hard rules are never bent; among the allowed pairings the
heaviest one wins, where weight is task similarity plus small bonuses for crossing
municipalities and for people who were left out lately.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bot.domain.match_graph import MatchGraph
from bot.domain.neighbours import Ints
from bot.domain.pairing import approximate_pairs, exact_pairs
from bot.domain.semantic import EmbeddingSimilarity
from bot.domain.similarity import Similarity

Separation = Literal["department", "municipality"]

INELIGIBLE = "ineligible"
NO_ALLOWED_PARTNER = "no_allowed_partner"  # nobody in this round passes the hard rules with them
NO_FREE_PARTNER = "no_free_partner"  # allowed partners exist, but all are taken and no trio fits


@dataclass(frozen=True, slots=True)
class MatchPerson:
    id: int
    department: str
    municipality: str
    tasks: str
    topics: tuple[str, ...]
    languages: frozenset[str]
    never_with: frozenset[int]
    rounds_since_last_match: int | None  # None: never matched
    eligible: bool  # opted in and not paused
    # The phrases of tasks and topics and their stored vectors (`Document`); without vectors
    # the person is compared by words.
    phrases: tuple[str, ...] = ()
    vectors: NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MatchRules:
    """What a round must respect and what it prefers.

    A pair's weight is its task similarity (0..1), plus `cross_municipality_bonus` if the two
    work in different municipalities, plus `left_out_bonus` per member who had no match for a
    while (full bonus after three rounds without one, or if never matched). The bonuses are
    small on purpose: similarity first, then crossing municipalities, then the left-out.

    A pair is banned for `repeat_ban_rounds` rounds after it met; after that it carries a
    penalty that halves every `repeat_fade_rounds`. Without the penalty (and a little seeded
    noise) an optimal, deterministic matcher would hand out the very same pairs again one round
    after the ban ends. Set the ban longer than the history you keep for a permanent one. Pass a
    new `seed` every round (e.g. the round number).

    Each person's `candidates_per_person` best partners form the graph that is paired: exactly
    (blossom) up to `exact_up_to` people, by auction and repair above (see pairing.py). Where
    the pairing is exact, each person gets `exact_candidates` instead: compared by meaning,
    nearly everyone is a little similar to everyone, so the best pairing reaches further down
    the lists than with shared words. At 1,000 people 40 candidates kept 99.8% of the optimum
    over all pairs, 20 only 99.4%; at 2,000 the round took 1.9 s instead of 1.6 s. Above, the
    pairing's memory grows with the candidates (docs/BENCHMARKS.md).
    """

    separation: Separation = "department"
    repeat_ban_rounds: int = 26
    cross_municipality_bonus: float = 0.05
    left_out_bonus: float = 0.03
    candidates_per_person: int = 20
    seed: int = 0
    repeat_penalty: float = 0.2
    repeat_fade_rounds: int = 13
    noise: float = 0.01
    exact_up_to: int = 2000
    exact_candidates: int = 40


@dataclass(frozen=True, slots=True)
class PastPair:
    """Two people who met `rounds_ago` rounds back; a trio is recorded as its three pairs."""

    a: int
    b: int
    rounds_ago: int


@dataclass(frozen=True, slots=True)
class Group:
    members: tuple[int, ...]  # person ids; two, or three when it absorbed an odd person
    weight: float  # sum over the member pairs, without the tie-breaking noise
    similarity: float  # mean task similarity of the member pairs
    shared: tuple[str, ...]  # readable shared topics and terms, for the introduction
    # Or, matched by meaning: each member's phrase closest to the others', in member order.
    phrases: tuple[str, ...] = ()

    def pairs(self, rounds_ago: int = 1) -> list[PastPair]:
        m = self.members
        return [
            PastPair(m[i], m[j], rounds_ago) for i in range(len(m)) for j in range(i + 1, len(m))
        ]


@dataclass(frozen=True, slots=True)
class RoundPlan:
    groups: list[Group]
    unmatched: list[tuple[int, str]]  # (person id, reason code)
    by_words: int = 0  # eligible people compared by their words only (no vectors)


@dataclass(frozen=True, slots=True)
class RoundSummary:
    """Preview figures for admins: aggregates only, never per person."""

    people: int
    groups: int
    trios: int
    matched: int
    unmatched: int
    unmatched_by_reason: dict[str, int]
    cross_department_share: float  # of the member pairs in groups
    cross_municipality_share: float
    mean_similarity: float  # mean over groups of their members' task similarity


def plan_round(
    people: Sequence[MatchPerson],
    history: Sequence[PastPair],
    rules: MatchRules,
    similarity: Similarity | None = None,
) -> RoundPlan:
    """This round's pairs (and trios), and everyone left out with a reason code.

    `people` are all candidates of the round, eligible or not; `history` the pairs of earlier
    rounds that are still relevant (trios as their three pairs). Candidate graph, pairing
    (cardinality first, then weight), a second pairing among whoever is left, then each
    remaining person joins the pair they fit best as a third.
    """
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise ValueError("person ids must be unique")
    unmatched = [(p.id, INELIGIBLE) for p in people if not p.eligible]
    eligible = [p for p in people if p.eligible]
    if len(eligible) < 2:
        return RoundPlan([], unmatched + [(p.id, NO_ALLOWED_PARTNER) for p in eligible])
    graph = MatchGraph(eligible, history, rules, similarity or EmbeddingSimilarity())
    u, v, w = graph.candidates()
    n = len(eligible)
    pairer = exact_pairs if n <= rules.exact_up_to else approximate_pairs
    mate = pairer(n, u, v, w)
    _pair_leftovers(graph, mate, rules)
    groups: list[list[int]] = [[int(x), int(mate[x])] for x in range(n) if 0 <= x < mate[x]]
    for x, reason in _join_trios(graph, groups, np.flatnonzero(mate < 0)):
        unmatched.append((eligible[x].id, reason))
    why = graph.describe(groups)
    return RoundPlan(
        groups=[
            Group(
                members=tuple(eligible[m].id for m in g),
                weight=float(why.weight[i]),
                # float32 products: identical texts can come out at 1.0000001.
                similarity=min(1.0, float(why.similarity[i])),
                shared=why.words[i],
                phrases=why.phrases[i],
            )
            for i, g in enumerate(groups)
        ],
        unmatched=unmatched,
        by_words=graph.by_words,
    )


def _pair_leftovers(graph: MatchGraph, mate: Ints, rules: MatchRules) -> None:
    """Pair whoever the candidate graph left alone among themselves.

    Candidate lists favour people who are similar to many ("hubs"); someone whose every
    candidate is such a hub can end up with nobody. Those left over get a candidate graph of
    their own, again and again while it pairs anyone.
    """
    lonely = np.flatnonzero(mate < 0)
    while len(lonely) >= 2:
        u, v, w = graph.candidates_among(lonely)
        pairer = exact_pairs if len(lonely) <= rules.exact_up_to else approximate_pairs
        local = pairer(len(lonely), u, v, w)
        if not (local >= 0).any():
            return
        paired = np.flatnonzero(local >= 0)
        mate[lonely[paired]] = lonely[local[paired]]
        lonely = lonely[local < 0]


def _join_trios(graph: MatchGraph, groups: list[list[int]], alone: Ints) -> list[tuple[int, str]]:
    """Add each of `alone` to the pair (in `groups`, all pairs) it fits best, a pair taking
    one third at most; those no pair can take, with a reason code. The pairs' members are
    gathered once, not per person: at 50,000 people, walking all groups for each of a few
    hundred left alone took seconds."""
    a = np.array([g[0] for g in groups], dtype=np.int64)
    b = np.array([g[1] for g in groups], dtype=np.int64)
    still_pair = np.ones(len(groups), dtype=bool)
    everyone = np.arange(graph.n)
    left: list[tuple[int, str]] = []
    for x in map(int, alone):
        towards = graph.weights_between(np.array([x]), everyone)[0]
        if not np.isfinite(towards).any():
            left.append((x, NO_ALLOWED_PARTNER))
            continue
        gains = graph.trio_gains(x, towards, a, b)
        gains[~still_pair] = -np.inf
        best = int(np.argmax(gains)) if len(gains) else -1
        if best < 0 or not np.isfinite(gains[best]):
            left.append((x, NO_FREE_PARTNER))
            continue
        groups[best].append(x)
        still_pair[best] = False
    return left


def summarise(plan: RoundPlan, people: Sequence[MatchPerson]) -> RoundSummary:
    by_id = {p.id: p for p in people}
    member_pairs = [(by_id[p.a], by_id[p.b]) for g in plan.groups for p in g.pairs()]
    n_pairs = len(member_pairs)
    matched = sum(len(g.members) for g in plan.groups)

    def share(count: int) -> float:
        return count / n_pairs if n_pairs else 0.0

    return RoundSummary(
        people=len(people),
        groups=len(plan.groups),
        trios=sum(len(g.members) == 3 for g in plan.groups),
        matched=matched,
        unmatched=len(plan.unmatched),
        unmatched_by_reason=dict(Counter(reason for _, reason in plan.unmatched)),
        cross_department_share=share(sum(a.department != b.department for a, b in member_pairs)),
        cross_municipality_share=share(
            sum(a.municipality != b.municipality for a, b in member_pairs)
        ),
        mean_similarity=(
            sum(g.similarity for g in plan.groups) / len(plan.groups) if plan.groups else 0.0
        ),
    )
