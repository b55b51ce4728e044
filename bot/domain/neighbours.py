"""Exact top-k neighbours of sparse unit vectors, filtered by the caller's rules."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

Ints = NDArray[np.integer[Any]]
Floats = NDArray[np.floating[Any]]
# Gets candidate pairs (row, column, similarity) and returns their weights; -inf or NaN means the
# pair is not allowed. Callers put their hard rules and bonuses here, so that a row is cut down
# to its k best only among the partners it may actually get.
EdgeWeigher = Callable[[Ints, Ints, Floats], Floats]

_PAIR_CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Each row's best columns, flattened: rows[i] -> cols[i] with similarity and weight."""

    rows: Ints
    cols: Ints
    similarity: Floats
    weight: Floats


def pair_scores(x: sp.csr_matrix, rows: Ints, cols: Ints) -> Floats:
    """Dot products of the row pairs (rows[i], cols[i]), in chunks to bound memory."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _PAIR_CHUNK):
        stop = start + _PAIR_CHUNK
        product = x[rows[start:stop]].multiply(x[cols[start:stop]])
        out[start:stop] = np.asarray(product.sum(axis=1)).ravel()
    return out


def top_k(
    x: sp.csr_matrix,
    k: int,
    weigh: EdgeWeigher | None,
    apart: Ints | None,
    max_bonus: float = 0.0,
    discount: Floats | None = None,
    shard_size: int | None = None,
    seed: int = 0,
    block_rows: int = 1024,
) -> Neighbours:
    """For every row its k heaviest allowed partners among those with a positive dot product.

    Exact up to `shard_size` rows; beyond, within shards of similar rows (see `_shards`).
    Rows only meet columns of another `apart` group (another department, say): the most
    similar but forbidden pairs are not even computed. `max_bonus` bounds what the weigher
    adds to a similarity, which lets each row weigh only the pairs that can still make its k
    best. `discount` (per column) is subtracted from weights while ranking, not in the result.
    """
    n = x.shape[0]
    groups = np.zeros(n, dtype=np.int64) if apart is None else np.asarray(apart, dtype=np.int64)
    shard = _shards(x, shard_size, np.random.default_rng(seed))
    search = _Search(k, weigh, discount, max_bonus, exclude_self=apart is None)
    parts: list[tuple[Ints, Ints, Floats]] = []
    for part in np.unique(shard):
        # Members in group order: a group is one range of columns, and rows are taken a
        # group at a time, so its own columns can be left out of the product.
        members = np.flatnonzero(shard == part)
        members = members[np.argsort(groups[members], kind="stable")]
        transposed = sp.csr_matrix(x[members].T)
        cuts = np.flatnonzero(np.diff(groups[members])) + 1
        for lo, hi in itertools.pairwise([0, *cuts.tolist(), len(members)]):
            columns = transposed if apart is None else _without_columns(transposed, lo, hi)
            for start in range(lo, hi, block_rows):
                rows = members[start : min(start + block_rows, hi)]
                parts.append(search.block(x[rows] @ columns, rows, members, start))
    if not parts:
        nothing = np.empty(0, dtype=np.int64)
        return Neighbours(nothing, nothing, np.empty(0), np.empty(0))
    rows, cols, sims = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((cols, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    weights = weigh(rows, cols, sims) if weigh is not None else sims
    return Neighbours(rows, cols, sims, weights)


def _without_columns(matrix: sp.csr_matrix, lo: int, hi: int) -> sp.csr_matrix:
    out = matrix.copy()
    out.data[(out.indices >= lo) & (out.indices < hi)] = 0
    out.eliminate_zeros()
    return out


@dataclass(frozen=True, slots=True)
class _Search:
    k: int
    weigh: EdgeWeigher | None
    discount: Floats | None
    max_bonus: float
    exclude_self: bool

    def block(
        self, product: sp.csr_matrix, rows: Ints, members: Ints, start: int
    ) -> tuple[Ints, Ints, Floats]:
        """The k best of each row of one block of similarities (rows x shard members)."""
        product = sp.csr_matrix(product)
        k, discount = self.k, self.discount
        local = np.repeat(np.arange(len(rows), dtype=np.int32), np.diff(product.indptr))
        sims, where = product.data, product.indices
        ranked = sims if discount is None else sims - discount[members][where].astype(np.float32)
        floor = 0.0 if discount is None else -float(discount.max(initial=0.0))
        itself = where == start + local if self.exclude_self else np.zeros(len(where), bool)
        ranked[itself] = np.float32(floor)  # to the bottom of the histogram, dropped below
        near, top = _near_top(local, ranked, k, len(rows), self.max_bonus, floor)
        near, top = near[~itself[near]], top[~itself[near]]
        weights = self._weigh(rows[local[near]], members[where[near]], sims[near])
        # The cut was safe if the pairs that set it are allowed; where the weigher forbids
        # some of them, the row has to look at all its pairs.
        kept = np.bincount(local[near][top & np.isfinite(weights)], minlength=len(rows))
        looked = np.bincount(local[near], minlength=len(rows))
        lacking = (kept < k) & (np.diff(product.indptr) > looked)
        if lacking.any():
            seen = itself.copy()
            seen[near] = True
            more = np.flatnonzero(lacking[local] & ~seen)
            near = np.concatenate([near, more])
            more_weights = self._weigh(rows[local[more]], members[where[more]], sims[more])
            weights = np.concatenate([weights, more_weights])
        chosen = near[_top_per_row(local[near], weights, k, len(rows))]
        return rows[local[chosen]], members[where[chosen]], sims[chosen].astype(np.float64)

    _LEVELS = 256

    def _weigh(self, rows: Ints, cols: Ints, sims: Floats) -> Floats:
        """Weights for ranking: the weigher's, less the partner's discount."""
        sims = sims.astype(np.float64)
        weights = self.weigh(rows, cols, sims) if self.weigh is not None else sims
        return weights if self.discount is None else weights - self.discount[cols]


def _shards(x: sp.csr_matrix, max_size: int | None, rng: np.random.Generator) -> Ints:
    """Shard number per row: halves at the median along the main direction, recursively.

    Exact search costs ~n^2; within shards of size s it costs ~n*s. Splitting along the
    principal direction of each part (a PCA tree) keeps similar rows together, so the best
    partners of most rows are in their own shard: at 20,000 people, matching within two such
    shards reached 99.9% of the weight matched with the exact search (docs/BENCHMARKS.md).
    """
    label = np.zeros(x.shape[0], dtype=np.int64)
    if max_size is None:
        return label
    pending = [np.arange(x.shape[0])]
    shards = 0
    while pending:
        ids = pending.pop()
        if len(ids) <= max_size:
            label[ids] = shards
            shards += 1
            continue
        position = _main_direction(x[ids], rng)
        low = position <= np.median(position)
        if low.all() or not low.any():  # no spread left to split on: halve at random
            low = rng.permutation(len(ids)) < len(ids) // 2
        pending += [ids[low], ids[~low]]
    return label


def _main_direction(part: sp.csr_matrix, rng: np.random.Generator) -> Floats:
    """Each row's coordinate on the part's first principal axis (power iteration, centred)."""
    mean = np.asarray(part.mean(axis=0)).ravel()
    axis = rng.standard_normal(part.shape[1])
    for _ in range(8):
        projected = part @ axis - mean @ axis
        axis = part.T @ projected - mean * projected.sum()
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
    return np.asarray(part @ axis - mean @ axis)


_LEVELS = 256


def _thresholds(
    rows: Ints, values: NDArray[np.floating], k: int, n_rows: int, low: float | None = None
) -> tuple[Ints, Ints]:
    """Per entry a histogram level, and per row the lowest level that keeps >= k entries.

    Each row's values are sorted into 256 levels between `low` (default: the smallest value)
    and the largest; counting per level is one pass, and only the entries at or above the
    row's level need sorting afterwards.
    """
    # In the values' own precision, so that no value falls below `low` by rounding.
    bottom = values.min() if low is None else values.dtype.type(low)
    scale = values.dtype.type((_LEVELS - 1) / max(float(values.max()) - float(bottom), 1e-12))
    level = ((values - bottom) * scale).astype(np.int32)
    counts = np.bincount(rows * _LEVELS + level, minlength=n_rows * _LEVELS)
    from_top = np.cumsum(counts.reshape(n_rows, _LEVELS)[:, ::-1], axis=1)
    enough = from_top >= k
    threshold = np.where(enough.any(axis=1), _LEVELS - 1 - enough.argmax(axis=1), 0)
    return level, threshold


def _near_top(
    rows: Ints, sims: NDArray[np.floating], k: int, n_rows: int, slack: float, low: float
) -> tuple[Ints, NDArray[np.bool_]]:
    """Entries whose value is within `slack` of their row's k-th best (or better), and which
    of those are at or above the histogram level of the k-th best itself."""
    if len(sims) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    level, threshold = _thresholds(rows, sims, k, n_rows, low)
    step = (float(sims.max()) - low) / (_LEVELS - 1)
    # One level more than the slack: a value near the top of its level is up to a step higher.
    margin = min(int(np.ceil(slack / step)) + 1, _LEVELS) if step > 0 else 0
    row_level = threshold[rows]
    near = np.flatnonzero(level >= row_level - margin)
    return near, level[near] >= row_level[near]


def _top_per_row(rows: Ints, weights: Floats, k: int, n_rows: int) -> Ints:
    """Positions of the k heaviest finite weights of each row (rows numbered 0..n_rows-1)."""
    finite = np.flatnonzero(np.isfinite(weights))
    if len(finite) == 0:
        return finite
    w, r = weights[finite], rows[finite]
    level, threshold = _thresholds(r, w, k, n_rows)
    passed = np.flatnonzero(level >= threshold[r])
    order = passed[np.lexsort((-w[passed], r[passed]))]
    ranked = r[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked, ranked)
    return finite[order[rank < k]]


def best_per_row(rows: Ints, weights: Floats, k: int, n: int) -> Ints:
    """Positions of each row's k heaviest finite entries; `rows` must be sorted."""
    counts = np.bincount(rows, minlength=n)
    width = int(counts.max(initial=0))
    if width == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = np.full((n, width), -np.inf)
    table[rows, np.arange(len(rows)) - starts[rows]] = weights
    if width > k:
        top = np.argpartition(-table, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(width), (n, width))
    valid = np.isfinite(np.take_along_axis(table, top, axis=1))
    return np.sort((starts[:, None] + top)[valid])
