"""Topic circles (Themenrunden): small groups sharing a topic across municipalities.

A circle has `min_size`..`max_size` members who all name its topic, from at least two
municipalities; nobody is in two circles of the same period, and a group that (as a whole)
was together recently is not formed again. Within those hard rules the grouping prefers
few repeated pairs and few pairs from the same office (who know each other already).

With the topics' embedding vectors, topics that mean the same count as one ("Friedhofswesen",
"Friedhöfe", "Bestattungswesen"), under the name of the most named of them, in its most common
spelling (bot.domain.semantic.topics).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from bot.domain.semantic.topics import group_topics

_HARD = 1000  # a hard rule broken: the group is not formed
_REPEATED_PAIR = 10
_SAME_MUNICIPALITY_PAIR = 1
_SAME_OFFICE_PAIR = 2  # on top of the same-municipality cost
# Improvement attempts per placed person; groups are tiny, so this is ample and fast.
_SEARCH_STEPS_PER_PERSON = 40


@dataclass(frozen=True)
class CirclePerson:
    id: int
    municipality: str
    department: str
    topics: frozenset[str]


@dataclass(frozen=True)
class Circle:
    topic: str
    members: tuple[int, ...]  # ascending ids


def form_circles(
    people: Sequence[CirclePerson],
    configured_topics: Sequence[str],
    min_size: int = 3,
    max_size: int = 6,
    min_shared: int = 3,
    recent_together: Collection[frozenset[int]] = frozenset(),
    rng_seed: int = 0,
    meaning: Mapping[str, NDArray[np.float32]] | None = None,
) -> list[Circle]:
    """Circles for one period; the same arguments always give the same circles.

    Topics are the configured ones plus any topic named by at least `min_shared` people.
    Topics are matched after case and whitespace normalisation; with `meaning` (a unit vector
    per topic, keyed by the topic as written, any spelling) also by what they mean.
    """
    if not 2 <= min_size <= max_size:
        raise ValueError("need 2 <= min_size <= max_size")
    if len({p.id for p in people}) != len(people):
        raise ValueError("duplicate person id")
    rng = random.Random(rng_seed)
    by_id = {p.id: p for p in sorted(people, key=lambda p: p.id)}

    members: dict[str, list[int]] = defaultdict(list)
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for person in by_id.values():
        keys = {_fold(topic): topic.strip() for topic in sorted(person.topics)}
        for key, spelling in keys.items():
            if key:
                members[key].append(person.id)
                spellings[key][spelling] += 1
    configured: dict[str, str] = {}
    for topic in configured_topics:
        if _fold(topic):
            configured.setdefault(_fold(topic), topic.strip())
    names = {
        key: min(counts, key=lambda spelling: (-counts[spelling], spelling))
        for key, counts in spellings.items()
    }
    names.update(configured)
    if meaning:
        _merge_by_meaning(members, configured, meaning)

    topics = [
        key
        for key, ids in members.items()
        if (key in configured or len(ids) >= min_shared)
        and len(ids) >= min_size
        and len({_municipality(by_id[i]) for i in ids}) >= 2
    ]
    # Configured topics first (the administration asked for them), then scarce topics
    # before popular ones, so people with a rare topic are not used up elsewhere.
    topics.sort(key=lambda key: (key not in configured, len(members[key]), key))
    options = Counter(i for key in topics for i in members[key])

    grouper = _Grouper(by_id, recent_together, rng)
    assigned: set[int] = set()
    circles: list[Circle] = []
    for key in topics:
        available = [i for i in members[key] if i not in assigned]
        for group in grouper.groups(available, options, min_size, max_size):
            circles.append(Circle(names[key], tuple(sorted(group))))
            assigned.update(group)
    return circles


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _merge_by_meaning(
    members: dict[str, list[int]],
    configured: dict[str, str],
    meaning: Mapping[str, NDArray[np.float32]],
) -> None:
    """Fold topics that mean the same into the one that leads them (in place): configured
    topics lead first, then the most named. The group keeps the leader's name, which every
    member's own topic is close to."""
    vectors = {_fold(topic): vector for topic, vector in meaning.items()}
    order = [*configured, *sorted(members, key=lambda key: (-len(members[key]), key))]
    leader = group_topics(list(dict.fromkeys(order)), vectors)
    for key, lead in leader.items():
        if key == lead or key not in members:
            continue
        joined = members.setdefault(lead, [])
        joined[:] = sorted({*joined, *members.pop(key)})


def _municipality(person: CirclePerson) -> str:
    return _fold(person.municipality)


class _Grouper:
    def __init__(
        self,
        by_id: dict[int, CirclePerson],
        recent_together: Collection[frozenset[int]],
        rng: random.Random,
    ) -> None:
        self._rng = rng
        self._municipality = {i: _municipality(p) for i, p in by_id.items()}
        self._office = {i: (self._municipality[i], _fold(p.department)) for i, p in by_id.items()}
        self._recent_pairs: set[frozenset[int]] = set()
        self._recent_by_member: dict[int, list[frozenset[int]]] = defaultdict(list)
        for group in recent_together:
            self._recent_pairs.update(frozenset(pair) for pair in combinations(group, 2))
            for i in group:
                self._recent_by_member[i].append(group)

    def groups(
        self, available: list[int], options: Counter[int], min_size: int, max_size: int
    ) -> list[list[int]]:
        """Split the available people of one topic into valid groups (possibly none)."""
        n = len(available)
        if n < min_size:
            return []
        count = -(-n // max_size)
        if count * min_size > n:
            count = n // min_size
        placed = min(n, count * max_size)

        order = available[:]
        self._rng.shuffle(order)
        # People with fewer topics go first: the others may still find a circle elsewhere.
        order.sort(key=lambda i: options[i])
        selected, pool = order[:placed], order[placed:]
        # Dealing out people sorted by municipality spreads each municipality over groups.
        selected.sort(key=lambda i: self._municipality[i])
        groups = [selected[g::count] for g in range(count)]
        self._improve(groups, pool, placed)
        return [group for group in groups if self._cost(group) < _HARD]

    def _improve(self, groups: list[list[int]], pool: list[int], placed: int) -> None:
        """Hill-climb by swapping members between groups or with unplaced people."""
        if len(groups) < 2 and not pool:
            return
        costs = [self._cost(group) for group in groups]
        for _ in range(_SEARCH_STEPS_PER_PERSON * placed):
            a = self._rng.randrange(len(groups))
            b = self._rng.randrange(len(groups) + (1 if pool else 0))
            if a == b:
                continue
            in_pool = b == len(groups)
            group_a, other = groups[a], pool if in_pool else groups[b]
            x, y = self._rng.randrange(len(group_a)), self._rng.randrange(len(other))
            group_a[x], other[y] = other[y], group_a[x]
            new_a = self._cost(group_a)
            new_b = 0 if in_pool else self._cost(other)
            if new_a + new_b < costs[a] + (0 if in_pool else costs[b]):
                costs[a] = new_a
                if not in_pool:
                    costs[b] = new_b
            else:
                group_a[x], other[y] = other[y], group_a[x]

    def _cost(self, group: list[int]) -> int:
        cost = 0
        if len({self._municipality[i] for i in group}) < 2:
            cost += _HARD
        members = set(group)
        if any(members <= recent for recent in self._recent_by_member[group[0]]):
            cost += _HARD
        for i, j in combinations(group, 2):
            if frozenset((i, j)) in self._recent_pairs:
                cost += _REPEATED_PAIR
            if self._municipality[i] == self._municipality[j]:
                cost += _SAME_MUNICIPALITY_PAIR
                if self._office[i] == self._office[j]:
                    cost += _SAME_OFFICE_PAIR
        return cost
