"""The eligible people of one round as a weighted graph: every rule becomes an edge weight.

Node i is the i-th eligible person. A pair's weight is its task similarity, plus the bonuses for
crossing municipalities and for people left out lately, plus a little seeded noise, minus the
fading penalty of an old meeting; -inf marks a pair the hard rules forbid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bot.domain.neighbours import Floats, Ints, best_per_row
from bot.domain.similarity import Document, Similarity

if TYPE_CHECKING:
    from bot.domain.matching import MatchPerson, MatchRules, PastPair

# Rounds without a match after which someone counts as fully "left out".
_LEFT_OUT_ROUNDS = 3
# Per-person exceptions (bans, old meetings) beyond this are checked row by row instead.
_MAX_EXTRA_CANDIDATES = 64


def _codes(values: Sequence[object]) -> Ints:
    lookup: dict[object, int] = {}
    return np.array([lookup.setdefault(v, len(lookup)) for v in values], dtype=np.int32)


def _unit_noise(seed: int, a: Ints, b: Ints) -> Floats:
    """Uniform [0, 1) per unordered id pair and seed (splitmix64), independent of list order."""
    lo = np.minimum(a, b).astype(np.uint64)
    hi = np.maximum(a, b).astype(np.uint64)
    z = lo * np.uint64(0x9E3779B97F4A7C15) ^ (hi + np.uint64(seed & 0xFFFFFFFF) * np.uint64(0xBF58476D1CE4E5B9))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class MatchGraph:
    def __init__(
        self,
        people: Sequence[MatchPerson],
        history: Sequence[PastPair],
        rules: MatchRules,
        similarity: Similarity,
    ) -> None:
        self._rules = rules
        self.n = n = len(people)
        self._ids = np.array([p.id for p in people], dtype=np.int64)
        key = [p.department if rules.separation == "department" else p.municipality for p in people]
        self._apart = _codes(key)
        self._municipality = _codes([p.municipality for p in people])
        self._language_group = _codes([p.languages for p in people])
        sets = list(dict.fromkeys(p.languages for p in people))
        self._common_language = np.array([[bool(a & b) for b in sets] for a in sets], dtype=bool)
        self._languages = [p.languages for p in people]
        spoken = sorted(set().union(*self._languages))
        self._speaks = {
            lang: np.array([lang in langs for langs in self._languages], dtype=bool)
            for lang in spoken
        }
        self._cross_bonus = rules.cross_municipality_bonus
        # Pre-multiplied by the bonus: each member of a pair brings their share of it.
        self._left_out = rules.left_out_bonus * np.array(
            [
                1.0
                if p.rounds_since_last_match is None
                else min(max(p.rounds_since_last_match - 1, 0), _LEFT_OUT_ROUNDS) / _LEFT_OUT_ROUNDS
                for p in people
            ]
        )
        self._exceptions(people, history)
        self.index = similarity.index([Document(p.tasks, p.topics) for p in people])

    def _exceptions(self, people: Sequence[MatchPerson], history: Sequence[PastPair]) -> None:
        """Pairs with a rule of their own: banned (inf) or an old meeting (its penalty)."""
        n, rules = self.n, self._rules
        where = {p.id: i for i, p in enumerate(people)}
        cost: dict[tuple[int, int], float] = {}
        for past in history:
            a, b = where.get(past.a), where.get(past.b)
            if a is None or b is None or a == b:
                continue
            if past.rounds_ago <= rules.repeat_ban_rounds:
                penalty = np.inf
            else:
                fade = (past.rounds_ago - rules.repeat_ban_rounds) / rules.repeat_fade_rounds
                penalty = rules.repeat_penalty * 0.5**fade
            pair = (min(a, b), max(a, b))
            cost[pair] = max(cost.get(pair, 0.0), penalty)
        for i, p in enumerate(people):
            for other in p.never_with:
                j = where.get(other)
                if j is not None and j != i:
                    cost[(min(i, j), max(i, j))] = np.inf
        pairs = np.array(list(cost), dtype=np.int64).reshape(-1, 2)
        keys = pairs[:, 0] * n + pairs[:, 1]
        order = np.argsort(keys)
        self._exception_keys = keys[order]
        self._exception_cost = np.array(list(cost.values()), dtype=np.float64)[order]
        self._exceptions_per_person = np.bincount(pairs.ravel(), minlength=n)

    def base_weight(self, rows: Ints, cols: Ints, sims: Floats) -> Floats:
        """Similarity plus bonuses; -inf against the rules that hold for whole groups of people."""
        w = sims.astype(np.float64)
        w += self._cross_bonus * (self._municipality[rows] != self._municipality[cols])
        w += self._left_out[rows]
        w += self._left_out[cols]
        forbidden = self._apart[rows] == self._apart[cols]
        if not self._common_language.all():
            groups = self._language_group
            forbidden |= ~self._common_language[groups[rows], groups[cols]]
        w[forbidden] = -np.inf
        return w

    def pair_terms(self, rows: Ints, cols: Ints, noise: bool = True) -> Floats:
        """Noise minus the pair's own penalty (inf for banned pairs)."""
        keys = np.minimum(rows, cols) * self.n + np.maximum(rows, cols)
        out = np.zeros(len(rows))
        if len(self._exception_keys):
            pos = np.minimum(np.searchsorted(self._exception_keys, keys), len(self._exception_keys) - 1)
            hit = self._exception_keys[pos] == keys
            out[hit] -= self._exception_cost[pos[hit]]
        if noise:
            out += self._rules.noise * _unit_noise(self._rules.seed, self._ids[rows], self._ids[cols])
        return out

    def weight(self, rows: Ints, cols: Ints, noise: bool = True) -> Floats:
        sims = self.index.pair_scores(rows, cols)
        return self.base_weight(rows, cols, sims) + self.pair_terms(rows, cols, noise)

    def weights_from(self, x: int) -> Floats:
        """Weight of x with every node (-inf where forbidden)."""
        cols = np.arange(self.n, dtype=np.int64)
        rows = np.full(self.n, x, dtype=np.int64)
        return self.base_weight(rows, cols, self.index.row(x)) + self.pair_terms(rows, cols)

    def candidates(self) -> tuple[Ints, Ints, Floats]:
        """Each person's k heaviest allowed partners, as an undirected edge list.

        The index ranks by the cheap group rules first and over-fetches by the number of the
        person's own exceptions, so cutting banned pairs afterwards still leaves the true top k.
        Whoever ends up with fewer than k (few similar people, many bans) is ranked against
        everyone, which also finds partners with no shared word at all.
        """
        k = self._rules.candidates_per_person
        extra = min(int(self._exceptions_per_person.max(initial=0)), _MAX_EXTRA_CANDIDATES)
        found = self.index.top_k(k + extra, self.base_weight, self._apart)
        rows, cols = found.rows, found.cols
        weights = found.weight + self.pair_terms(rows, cols)
        keep = best_per_row(rows, weights, k, self.n)
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
        short = np.flatnonzero(np.bincount(rows, minlength=self.n) < k)
        extra_rows, extra_cols, extra_weights = [rows], [cols], [weights]
        for x in short:
            towards = self.weights_from(int(x))
            allowed = np.flatnonzero(np.isfinite(towards))
            best = allowed[np.argsort(-towards[allowed], kind="stable")[:k]]
            extra_rows.append(np.full(len(best), x, dtype=np.int64))
            extra_cols.append(best)
            extra_weights.append(towards[best])
        rows, cols = np.concatenate(extra_rows), np.concatenate(extra_cols)
        weights = np.concatenate(extra_weights)
        return _undirected(self.n, rows, cols, weights)

    def all_pairs(self) -> tuple[Ints, Ints, Floats]:
        """Every allowed pair: the reference graph for small rounds and for checking quality."""
        return self.pairs_among(np.arange(self.n, dtype=np.int64), local=False)

    def pairs_among(self, nodes: Ints, local: bool = True) -> tuple[Ints, Ints, Floats]:
        """Allowed pairs within `nodes`, numbered by position in `nodes` if `local`."""
        i, j = np.triu_indices(len(nodes), k=1)
        w = self.weight(nodes[i], nodes[j])
        ok = np.isfinite(w)
        if not local:
            i, j = nodes[i], nodes[j]
        return i[ok].astype(np.int64), j[ok].astype(np.int64), w[ok]

    def trio_gains(self, x: int, a: Ints, b: Ints) -> Floats:
        """What x adds by joining each pair (a[i], b[i]); -inf where the trio breaks a rule.

        Both new pairs must be allowed, and all three must share one language.
        """
        towards = self.weights_from(x)
        gains = towards[a] + towards[b]
        spoken = np.zeros(len(a), dtype=bool)
        for lang in self._languages[x]:
            spoken |= self._speaks[lang][a] & self._speaks[lang][b]
        gains[~spoken] = -np.inf
        return gains

    def describe(self, groups: Sequence[Sequence[int]]) -> tuple[Floats, Floats, list[tuple[str, ...]]]:
        """Per group: summed pair weight without noise, mean similarity, shared words."""
        group_of = np.array([g for g, m in enumerate(groups) for _ in range(len(m) * (len(m) - 1) // 2)])
        pairs = [_member_pairs(m) for m in groups]
        i = np.concatenate([p[0] for p in pairs]) if pairs else np.empty(0, dtype=np.int64)
        j = np.concatenate([p[1] for p in pairs]) if pairs else np.empty(0, dtype=np.int64)
        sims = self.index.pair_scores(i, j)
        weights = self.base_weight(i, j, sims) + self.pair_terms(i, j, noise=False)
        sizes = np.bincount(group_of, minlength=len(groups))
        total_weight = np.bincount(group_of, weights, minlength=len(groups))
        mean_sim = np.bincount(group_of, sims, minlength=len(groups)) / np.maximum(sizes, 1)
        return total_weight, mean_sim, self.index.explain(groups)


def _member_pairs(members: Sequence[int]) -> tuple[Ints, Ints]:
    i, j = np.triu_indices(len(members), k=1)
    m = np.asarray(members, dtype=np.int64)
    return m[i], m[j]


def _undirected(n: int, rows: Ints, cols: Ints, weights: Floats) -> tuple[Ints, Ints, Floats]:
    """Each pair once, whichever side listed it."""
    keys = np.minimum(rows, cols) * n + np.maximum(rows, cols)
    keys, first = np.unique(keys, return_index=True)
    return keys // n, keys % n, weights[first]
