"""Each person's best partners among dense unit vectors, without the full N x N product.

Above `exact_up_to` people the vectors are grouped into cells by k-means (spherical, seeded),
and each person compares itself only with the members of its `probes` nearest cells: the cost
is ~N x probes x cell size instead of N^2, in blocks of float32 matrix products (BLAS). At
20,000 synthetic people (bench/matching.py --shards) cells of ~600 and 3 probes kept 99.3% of
the weight the exact search over everyone matched, in a quarter of the time; 4 probes kept
99.55% but made the round at 50,000 people 45% slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from bot.domain.neighbours import EdgeWeigher, Floats, Ints, Neighbours, best_per_row

Vectors = NDArray[np.float32]
# Similarities (rows x columns, float32, 0..1) of the given rows with the given columns.
Product = Callable[[Ints, Ints], Vectors]

_KMEANS_ROUNDS = 8
_FIT_PER_CELL = 64
# A cell this many times the target size (people with near-identical texts) is cut at random:
# its members are interchangeable, and a huge cell would cost every row that probes it.
_OVERSIZED = 3
_BLOCK_ROWS = 2048


@dataclass(frozen=True, slots=True)
class Cells:
    """Cell number of each searchable row and the cells each of them probes (its own too)."""

    of: Ints  # per row: its cell, -1 for rows that are not searched (no vector)
    probes: Ints  # (rows x probes) cell numbers; -1 where a row probes fewer


def one_cell(n: int) -> Cells:
    """Everyone in one cell, searched by every row: the exact search."""
    return Cells(np.zeros(n, dtype=np.int64), np.zeros((n, 1), dtype=np.int64))


def cells(
    x: Vectors, searchable: Ints, size: int, probes: int, exact_up_to: int, seed: int
) -> Cells:
    """Spherical k-means cells of the searchable rows of `x`; one cell (an exact search) up
    to `exact_up_to` of them."""
    n = x.shape[0]
    of = np.full(n, -1, dtype=np.int64)
    if len(searchable) <= max(exact_up_to, size):
        of[searchable] = 0
        table = np.full((n, 1), -1, dtype=np.int64)
        table[searchable, 0] = 0
        return Cells(of, table)
    rng = np.random.default_rng(seed)
    points = x[searchable]
    count = -(-len(searchable) // size)
    # Centres are fitted on a sample: enough members per cell to place it, a fraction of
    # the work at 50,000 people.
    fit = points[rng.choice(len(points), min(len(points), _FIT_PER_CELL * count), replace=False)]
    centres = fit[rng.choice(len(fit), count, replace=False)]
    for _ in range(_KMEANS_ROUNDS):
        assigned = np.argmax(fit @ centres.T, axis=1)
        centres = _centres(fit, assigned, count, centres)
    scores = points @ centres.T
    assigned = np.argmax(scores, axis=1)
    assigned, centres, scores = _cut_oversized(assigned, centres, scores, size, rng)
    width = min(probes, centres.shape[0])
    nearest = np.argpartition(-scores, width - 1, axis=1)[:, :width]
    # Ties (the parts of a cut cell share a centre) may push a row's own cell out.
    own = (nearest == assigned[:, None]).any(axis=1)
    nearest[~own, -1] = assigned[~own]
    table = np.full((n, width), -1, dtype=np.int64)
    table[searchable] = nearest
    of[searchable] = assigned
    return Cells(of, table)


def _centres(points: Vectors, assigned: Ints, count: int, old: Vectors) -> Vectors:
    """Unit mean of each cell's members; an empty cell keeps its old centre."""
    onehot = sp.csr_matrix(
        (np.ones(len(assigned), dtype=np.float32), (assigned, np.arange(len(assigned)))),
        shape=(count, len(assigned)),
    )
    sums = np.asarray(onehot @ points, dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.where(norms > 0, sums / np.maximum(norms, 1e-12), old).astype(np.float32)


def _cut_oversized(
    assigned: Ints, centres: Vectors, scores: Vectors, size: int, rng: np.random.Generator
) -> tuple[Ints, Vectors, Vectors]:
    sizes = np.bincount(assigned, minlength=centres.shape[0])
    extra_centres, extra_scores = [], []
    next_cell = centres.shape[0]
    for cell in np.flatnonzero(sizes > _OVERSIZED * size):
        members = rng.permutation(np.flatnonzero(assigned == cell))
        for part in np.array_split(members, -(-len(members) // size))[1:]:
            assigned[part] = next_cell
            next_cell += 1
            extra_centres.append(centres[cell])
            extra_scores.append(scores[:, cell])
    if not extra_centres:
        return assigned, centres, scores
    return (
        assigned,
        np.vstack([centres, np.stack(extra_centres)]),
        np.hstack([scores, np.stack(extra_scores, axis=1)]),
    )


# Pairs (rows, columns, similarities, weights) of some rows, each row's best k of them.
Found = tuple[Ints, Ints, Floats, Floats]


@dataclass(frozen=True, slots=True)
class Search:
    """One candidate search: what each row is looking for, and how pairs are judged."""

    product: Product
    cells: Cells
    k: int
    weigh: EdgeWeigher | None
    apart: Ints | None
    max_bonus: float
    discount: Floats | None
    # At most this many pairs per row and cell go to the weigher (None: all within the slack).
    reach: int | None = None

    def run(self, rows: Ints, best: Best) -> None:
        """Offer `best` the heaviest allowed pairs of each of `rows` in the cells it probes."""
        n = len(best.slot)
        owned = self.cells.probes[rows]
        pair_row = np.repeat(rows, owned.shape[1])
        pair_cell = owned.ravel()
        keep = pair_cell >= 0
        pair_row, pair_cell = pair_row[keep], pair_cell[keep]
        order = np.argsort(pair_cell, kind="stable")
        pair_row, pair_cell = pair_row[order], pair_cell[order]
        bounds = np.flatnonzero(np.diff(pair_cell)) + 1
        group = self.apart if self.apart is not None else np.arange(n)
        members_of = _members(self.cells.of, group)
        for part in np.split(np.arange(len(pair_cell)), bounds):
            if len(part) == 0:
                continue
            members = members_of[int(pair_cell[part[0]])]
            searching = pair_row[part]
            searching = searching[np.lexsort((searching, group[searching]))]
            for start in range(0, len(searching), _BLOCK_ROWS):
                best.add(*self._block(searching[start : start + _BLOCK_ROWS], members))

    def _block(self, rows: Ints, members: Ints) -> Found:
        """Each row's k heaviest allowed pairs with these members (both sorted by group).

        Only the pairs ranked within `max_bonus` of the row's k-th best similarity (less the
        discount), at most `reach` of them, go to the weigher: no other pair can outweigh
        those k. That holds only if the weigher allows them; a row where it forbids one of
        them has all its pairs weighed.
        """
        ranked = self.product(rows, members)
        # Only partners with a positive similarity are candidates (as with word vectors).
        ranked[ranked <= 0] = -np.inf
        if self.discount is not None:
            ranked -= np.asarray(self.discount[members], dtype=np.float32)[None, :]
        self._forbid_own_group(ranked, rows, members)
        m = len(members)
        width = min(self.k, m)
        deep = m if self.reach is None else min(max(self.reach, width), m)
        top = np.partition(ranked, m - deep, axis=1)[:, m - deep :]
        deepest = top[:, 0]
        kth = np.partition(top, deep - width, axis=1)[:, deep - width]
        # Where fewer than k are allowed, everything allowed is near.
        lowest = np.float32(np.finfo(np.float32).min)
        slack = np.float32(self.max_bonus)
        threshold = np.where(np.isfinite(kth), np.maximum(kth - slack, deepest), lowest)
        r: Ints
        c: Ints
        r, c = np.nonzero(ranked >= threshold[:, None])
        sims, weights = self._weighed(ranked, rows, members, r, c)
        setters = (ranked[r, c] >= kth[r]) & np.isfinite(kth[r])
        unsafe = np.unique(r[setters & ~np.isfinite(weights)])
        if len(unsafe):
            r, c = self._widened(ranked, r, c, weights, unsafe, width)
            sims, weights = self._weighed(ranked, rows, members, r, c)
        pair_cols = members[c]
        finite = np.flatnonzero(np.isfinite(weights))
        ranking = self._ranking(weights[finite], pair_cols[finite])
        # The pairs come row by row, as best_per_row wants them.
        best = finite[best_per_row(r[finite], ranking, self.k, len(rows))]
        return rows[r[best]], pair_cols[best], sims[best], weights[best]

    def _widened(
        self, ranked: Vectors, r: Ints, c: Ints, weights: Floats, unsafe: Ints, width: int
    ) -> tuple[Ints, Ints]:
        """The pairs to weigh, where the weigher forbade pairs that set a row's cut: the cut
        moves to the k-th best pair it allowed (all of that row's pairs if it allowed fewer
        than k). Sorted by row again."""
        allowed = np.isfinite(weights) & np.isin(r, unsafe)
        counts = np.bincount(r[allowed], minlength=len(ranked))
        lowest = np.full(len(ranked), -np.inf, dtype=np.float32)
        enough = unsafe[counts[unsafe] >= width]
        if len(enough):
            # The width-th best ranking among each row's allowed pairs (rows in order).
            values = ranked[r[allowed], c[allowed]]
            rows_of = r[allowed]
            order = np.lexsort((-values, rows_of))
            firsts = np.searchsorted(rows_of[order], enough)
            lowest[enough] = values[order][firsts + width - 1] - np.float32(self.max_bonus)
        at, more_c = np.nonzero(ranked[unsafe] >= lowest[unsafe][:, None])
        more_r = unsafe[at]
        keep = np.isfinite(ranked[more_r, more_c])
        again = np.isin(r, unsafe)
        r = np.concatenate([r[~again], more_r[keep]])
        c = np.concatenate([c[~again], more_c[keep]])
        order = np.argsort(r, kind="stable")
        return r[order], c[order]

    def _forbid_own_group(self, ranked: Vectors, rows: Ints, members: Ints) -> None:
        """-inf for pairs within one `apart` group (oneself, without groups): both sides come
        sorted by group, so each group is one rectangle."""
        if self.apart is None:
            where = np.flatnonzero(np.isin(rows, members))
            ranked[where, np.searchsorted(members, rows[where])] = -np.inf
            return
        row_groups, col_groups = self.apart[rows], self.apart[members]
        shared = np.intersect1d(row_groups, col_groups)
        row_lo = np.searchsorted(row_groups, shared)
        row_hi = np.searchsorted(row_groups, shared, side="right")
        col_lo = np.searchsorted(col_groups, shared)
        col_hi = np.searchsorted(col_groups, shared, side="right")
        for a, b, c, d in zip(row_lo, row_hi, col_lo, col_hi, strict=True):
            ranked[a:b, c:d] = -np.inf

    def _weighed(
        self, ranked: Vectors, rows: Ints, members: Ints, r: Ints, c: Ints
    ) -> tuple[Floats, Floats]:
        """Similarities and weights of the pairs (rows[r], members[c]) of a block."""
        cols = members[c]
        sims = ranked[r, c].astype(np.float64)
        if self.discount is not None:
            sims += self.discount[cols]
        weights = self.weigh(rows[r], cols, sims) if self.weigh is not None else sims.copy()
        return sims, weights

    def _ranking(self, weights: Floats, cols: Ints) -> Floats:
        return weights if self.discount is None else weights - self.discount[cols]


class Best:
    """The k heaviest pairs found so far for each of some rows (less the partner's discount
    while ranking), updated block by block: memory for k pairs per row, whatever is offered."""

    def __init__(self, rows: Ints, k: int, n: int, discount: Floats | None) -> None:
        self.rows = np.sort(rows)
        self.k = k
        self.discount = discount
        self.slot = np.full(n, -1, dtype=np.int64)
        self.slot[self.rows] = np.arange(len(self.rows))
        shape = (len(self.rows), k)
        self.ranking = np.full(shape, -np.inf)
        self.cols = np.zeros(shape, dtype=np.int64)
        self.sims = np.zeros(shape)
        self.weights = np.zeros(shape)

    def add(self, rows: Ints, cols: Ints, sims: Floats, weights: Floats) -> None:
        """Offer pairs; each row's pairs must come together, at most k of them."""
        if len(rows) == 0:
            return
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        counts = np.diff(np.r_[starts, len(rows)])
        slot = self.slot[rows[starts]]
        local = np.repeat(np.arange(len(starts)), counts)
        within = np.arange(len(rows)) - np.repeat(starts, counts)
        ranking = weights if self.discount is None else weights - self.discount[cols]
        shape = (len(starts), self.k)
        fresh = [np.full(shape, -np.inf), np.zeros(shape, np.int64)]
        fresh += [np.zeros(shape), np.zeros(shape)]
        for table, values in zip(fresh, (ranking, cols, sims, weights), strict=True):
            table[local, within] = values
        tables = (self.ranking, self.cols, self.sims, self.weights)
        both = [np.hstack([t[slot], f]) for t, f in zip(tables, fresh, strict=True)]
        top = np.argpartition(-both[0], self.k - 1, axis=1)[:, : self.k]
        for table, merged in zip(tables, both, strict=True):
            table[slot] = np.take_along_axis(merged, top, axis=1)

    def found(self) -> Found:
        """All kept pairs, by row."""
        where = np.isfinite(self.ranking)
        rows = np.repeat(self.rows, where.sum(axis=1))
        return rows, self.cols[where], self.sims[where], self.weights[where]


def _members(of: Ints, group: Ints) -> dict[int, Ints]:
    """The members of each cell, sorted by group (then number)."""
    order = np.lexsort((np.arange(len(of)), group, of))
    ranked = of[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    return {
        int(ranked[s]): order[s:e]
        for s, e in zip(starts, [*starts[1:], len(order)], strict=True)
        if ranked[s] >= 0
    }


def dense_top_k(searches: Sequence[Search], searched: Ints, n: int) -> Neighbours:
    """Each searched row's k heaviest allowed partners, from all the searches (which differ
    in cells and similarity only: meaning among people with vectors, words with the others)."""
    first = searches[0]
    best = Best(searched, first.k, n, first.discount)
    for search in searches:
        search.run(searched, best)
    return Neighbours(*best.found())
