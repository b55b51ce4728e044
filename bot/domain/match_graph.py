"""The eligible people of one round as a weighted graph: every rule becomes an edge weight.

Node i is the i-th eligible person. A pair's weight is its task similarity, plus the bonuses for
crossing municipalities and for people left out lately, plus a little seeded noise, minus the
fading penalty of an old meeting; -inf marks a pair the hard rules forbid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.domain.neighbours import Floats, Ints, best_per_row
from bot.domain.semantic import EmbeddingIndex
from bot.domain.similarity import Document, Similarity

if TYPE_CHECKING:
    from bot.domain.matching import MatchPerson, MatchRules, PastPair

# Rounds without a match after which someone counts as fully "left out".
_LEFT_OUT_ROUNDS = 3
# Per-person exceptions (bans, old meetings) beyond this are checked row by row instead.
_MAX_EXTRA_CANDIDATES = 64
# Entries of a dense (people x everyone) weight matrix computed at once; bounds its memory
# (each entry passes through a few temporary arrays of 8 bytes).
_ENTRIES_AT_ONCE = 1 << 18
# People short of candidates are first filled up from this many random others.
_FILL_SAMPLE = 4096
# See MatchGraph._hubness.
_HUB_DISCOUNT = 0.5
_HUB_SAMPLE = 128


def _rows_at_once(columns: int) -> int:
    return max(1, _ENTRIES_AT_ONCE // max(columns, 1))


def _codes(values: Sequence[object]) -> Ints:
    lookup: dict[object, int] = {}
    return np.array([lookup.setdefault(v, len(lookup)) for v in values], dtype=np.int32)


def _unit_noise(seed: int, a: Ints, b: Ints) -> Floats:
    """Uniform [0, 1) per unordered id pair and seed (splitmix64), independent of list order."""
    lo = np.minimum(a, b).astype(np.uint64)
    hi = np.maximum(a, b).astype(np.uint64)
    salt = np.uint64((seed * 0xBF58476D1CE4E5B9) % (1 << 64))
    z = lo * np.uint64(0x9E3779B97F4A7C15) ^ (hi + salt)
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
        self.n = len(people)
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
        self.index = similarity.index(
            [Document(p.tasks, p.topics, p.phrases, p.vectors) for p in people]
        )

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
            pos = np.minimum(
                np.searchsorted(self._exception_keys, keys), len(self._exception_keys) - 1
            )
            hit = self._exception_keys[pos] == keys
            out[hit] -= self._exception_cost[pos[hit]]
        if noise:
            out += self._rules.noise * _unit_noise(
                self._rules.seed, self._ids[rows], self._ids[cols]
            )
        return out

    def weights_between(self, xs: Ints, ys: Ints) -> NDArray[np.float64]:
        """Weight of each of xs with each of ys, a (len(xs) x len(ys)) matrix; -inf: forbidden."""
        rows = np.repeat(xs.astype(np.int64), len(ys))
        cols = np.tile(ys.astype(np.int64), len(xs))
        sims = self.index.similarity_between(xs, ys).ravel()
        weights = self.base_weight(rows, cols, sims) + self.pair_terms(rows, cols)
        return weights.reshape(len(xs), len(ys))

    def candidates(self) -> tuple[Ints, Ints, Floats]:
        """Each person's k heaviest allowed partners, as an undirected edge list.

        The index ranks by the rules that hold for whole groups and over-fetches by the number
        of pair exceptions, so cutting banned pairs afterwards still leaves the true top k.
        Whoever ends up with fewer than k (few words in common with anyone, many bans) is
        filled up from a random sample of everyone, else from everyone: a partner with no word
        in common is still better than none.
        """
        k = self.candidates_per_person
        extra = min(int(self._exceptions_per_person.max(initial=0)), _MAX_EXTRA_CANDIDATES)
        bonus = self._cross_bonus + 2 * float(self._left_out.max(initial=0.0))
        discount = self._hubness(k)
        found = self.index.top_k(k + extra, self.base_weight, self._apart, bonus, discount)
        rows, cols = found.rows, found.cols
        weights = found.weight + self.pair_terms(rows, cols)
        keep = best_per_row(rows, weights - discount[cols], k, self.n)
        parts: list[tuple[Ints, Ints, Floats]] = [(rows[keep], cols[keep], weights[keep])]
        short = np.flatnonzero(np.bincount(rows[keep], minlength=self.n) < k)
        rng = np.random.default_rng(self._rules.seed)
        sample = np.sort(rng.choice(self.n, min(self.n, _FILL_SAMPLE), replace=False))
        everyone = np.arange(self.n, dtype=np.int64)
        r, c, w = self._best_of(short, sample, k, discount)
        lacking = np.bincount(r, minlength=len(short)) < k
        if len(sample) < self.n and lacking.any():
            again = np.flatnonzero(lacking)
            keep_sample = ~lacking[r]
            parts.append((short[r[keep_sample]], sample[c[keep_sample]], w[keep_sample]))
            r, c, w = self._best_of(short[again], everyone, k, discount)
            parts.append((short[again][r], c, w))
        else:
            parts.append((short[r], sample[c], w))
        rows, cols, weights = (np.concatenate(p) for p in zip(*parts, strict=True))
        return _undirected(self.n, rows, cols, weights)

    def candidates_among(self, nodes: Ints) -> tuple[Ints, Ints, Floats]:
        """The candidate graph of `nodes` alone, numbered by position in `nodes`."""
        k = self.candidates_per_person
        rows, cols, weights = self._best_of(nodes, nodes, k)
        return _undirected(len(nodes), rows, cols, weights)

    def _hubness(self, k: int) -> Floats:
        """How much ranking should discount each person as a partner for being a "hub".

        Some profiles are similar to almost everyone and top almost every list; people whose
        lists hold only such hubs end up unpaired or badly paired, and the best pairing often
        needs partners far down a list. Ranking by weight minus half the partner's typical
        top-k weight (CSLS, Conneau et al. 2018) spreads the lists: at 1,000 people the optimum
        over these lists reached 99.8% of the optimum over all pairs, plain top-20 lists 98.5%.
        The typical top-k weight is estimated from each profile's mean similarity to everyone,
        scaled by a regression on a seeded sample whose top-k weights are computed exactly.
        """
        mean = self.index.mean_similarity()
        rng = np.random.default_rng(self._rules.seed)
        sample = np.sort(rng.choice(self.n, min(self.n, _HUB_SAMPLE), replace=False))
        everyone = np.arange(self.n, dtype=np.int64)
        typical = np.full(len(sample), np.nan)
        step = _rows_at_once(self.n)
        for start in range(0, len(sample), step):
            xs = sample[start : start + step]
            sims = self.index.similarity_between(xs, everyone).ravel()
            rows, cols = np.repeat(xs, self.n), np.tile(everyone, len(xs))
            # Bans and noise are left out: too few per person to move a typical weight.
            towards = self.base_weight(rows, cols, sims).reshape(len(xs), self.n)
            width = min(k, self.n)
            best = -np.partition(-towards, width - 1, axis=1)[:, :width]
            finite = np.isfinite(best)
            total = np.where(finite, best, 0.0).sum(axis=1)
            counted = finite.sum(axis=1)
            typical[start : start + len(xs)] = np.where(
                counted > 0, total / np.maximum(counted, 1), np.nan
            )
        known = np.isfinite(typical)
        if known.sum() < 2 or np.ptp(mean[sample][known]) == 0:
            return np.zeros(self.n)
        slope = max(float(np.polyfit(mean[sample][known], typical[known], 1)[0]), 0.0)
        return _HUB_DISCOUNT * slope * mean

    def _best_of(
        self, xs: Ints, among: Ints, k: int, discount: Floats | None = None
    ) -> tuple[Ints, Ints, Floats]:
        """Each of xs with its k best allowed partners in `among`, as positions in xs, among."""
        parts = []
        step = _rows_at_once(len(among))
        width = min(k, len(among))
        for start in range(0, len(xs), step):
            towards = self.weights_between(xs[start : start + step], among)
            ranked = towards if discount is None else towards - discount[among]
            best = np.argpartition(-ranked, width - 1, axis=1)[:, :width]
            chosen = np.take_along_axis(towards, best, axis=1)
            ok = np.isfinite(chosen)
            rows = np.repeat(np.arange(len(towards)), width)[ok.ravel()] + start
            parts.append((rows, best[ok], chosen[ok]))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        rows, cols, weights = (np.concatenate(p) for p in zip(*parts, strict=True))
        return rows, cols, weights

    def all_pairs(self) -> tuple[Ints, Ints, Floats]:
        """Every allowed pair: the reference graph for checking the pairing's quality."""
        everyone = np.arange(self.n, dtype=np.int64)
        parts = []
        step = _rows_at_once(self.n)
        for start in range(0, self.n, step):
            xs = everyone[start : start + step]
            towards = self.weights_between(xs, everyone)
            r, c = np.nonzero(np.isfinite(towards) & (xs[:, None] < everyone[None, :]))
            parts.append((xs[r], c, towards[r, c]))
        rows, cols, weights = (np.concatenate(p) for p in zip(*parts, strict=True))
        return rows, cols.astype(np.int64), weights

    def trio_gains(self, x: int, towards: Floats, a: Ints, b: Ints) -> Floats:
        """What x adds by joining each pair (a[i], b[i]); -inf where the trio breaks a rule.

        `towards` is x's weight with everyone. Both new pairs must be allowed, and all three
        must share one language.
        """
        gains = towards[a] + towards[b]
        spoken = np.zeros(len(a), dtype=bool)
        for lang in self._languages[x]:
            spoken |= self._speaks[lang][a] & self._speaks[lang][b]
        gains[~spoken] = -np.inf
        return gains

    @property
    def candidates_per_person(self) -> int:
        """More where the pairing is exact (see MatchRules)."""
        rules = self._rules
        if self.n <= rules.exact_up_to:
            return max(rules.candidates_per_person, rules.exact_candidates)
        return rules.candidates_per_person

    @property
    def by_words(self) -> int:
        """How many people are compared by their words only (no vectors yet)."""
        if isinstance(self.index, EmbeddingIndex):
            return self.index.without_vectors
        return self.n

    def describe(self, groups: Sequence[Sequence[int]]) -> Description:
        """Per group: summed pair weight without noise, mean similarity, and why.

        Groups whose members all have vectors are explained by their closest phrases, if they
        are more similar than the typical pair at all; the others by shared words.
        """
        group_of, i, j = _member_pairs(groups)
        sims = self.index.pair_scores(i, j)
        weights = self.base_weight(i, j, sims) + self.pair_terms(i, j, noise=False)
        sizes = np.bincount(group_of, minlength=len(groups))
        total_weight = np.asarray(np.bincount(group_of, weights, len(groups)), dtype=np.float64)
        mean_sim = np.bincount(group_of, sims, len(groups)) / np.maximum(sizes, 1)
        if not isinstance(self.index, EmbeddingIndex):
            words = self.index.explain(groups)
            return Description(total_weight, mean_sim, words, [()] * len(groups))
        closest = self.index.closest(groups)
        phrases = [p if s > 0 else () for p, s in zip(closest, mean_sim, strict=True)]
        words = [()] * len(groups)
        by_words = [g for g, members in enumerate(groups) if not self.index.vectored(members)]
        if by_words:
            explained = self.index.explain([groups[g] for g in by_words])
            for g, shared in zip(by_words, explained, strict=True):
                words[g] = shared
        return Description(total_weight, mean_sim, words, phrases)


@dataclass(frozen=True, slots=True)
class Description:
    """Per group (in the order asked): weight, mean similarity, shared words, closest phrases
    (one per member, in member order; () when not explained by meaning)."""

    weight: Floats
    similarity: Floats
    words: list[tuple[str, ...]]
    phrases: list[tuple[str, ...]]


def _member_pairs(groups: Sequence[Sequence[int]]) -> tuple[Ints, Ints, Ints]:
    """All member pairs of all groups: (group number, first member, second member)."""
    found: list[tuple[Ints, Ints, Ints]] = []
    for size in sorted({len(g) for g in groups}):
        which = np.array([g for g, members in enumerate(groups) if len(members) == size])
        members = np.array([groups[g] for g in which], dtype=np.int64).reshape(len(which), size)
        first, second = np.triu_indices(size, k=1)
        found.append(
            (np.repeat(which, len(first)), members[:, first].ravel(), members[:, second].ravel())
        )
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    group_of, i, j = (np.concatenate(f) for f in zip(*found, strict=True))
    return group_of, i, j


def _undirected(n: int, rows: Ints, cols: Ints, weights: Floats) -> tuple[Ints, Ints, Floats]:
    """Each pair once, whichever side listed it."""
    keys = np.minimum(rows, cols) * n + np.maximum(rows, cols)
    keys, first = np.unique(keys, return_index=True)
    return keys // n, keys % n, weights[first]
