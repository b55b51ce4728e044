"""Exact top-k neighbours of sparse unit vectors, filtered by the caller's rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
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
    block_rows: int = 1024,
    common_share: float = 1.0,
) -> Neighbours:
    """For every row its k heaviest allowed partners among those with a positive dot product.

    Rows only meet columns of another `apart` group (another department, say), which skips
    the most similar but forbidden pairs before they are even computed. The weigher sees every
    remaining pair before the cut, so bonuses count in the ranking.

    Features in more than `common_share` of the rows are left out of the search (their pairs
    are most of the work and add little): each row's 2k best by the rest are re-scored with
    the full vectors and the best k kept. With 1.0 the result is exact.
    """
    n = x.shape[0]
    groups = np.zeros(n, dtype=np.int64) if apart is None else apart
    df = np.bincount(x.indices, minlength=x.shape[1])
    common = df > common_share * n
    search = sp.csr_matrix(x @ sp.diags((~common).astype(x.dtype))) if common.any() else x
    search.eliminate_zeros()
    fetch = 2 * k if common.any() else k
    parts: list[tuple[Ints, Ints]] = []
    for group in np.unique(groups):
        mine = np.flatnonzero(groups == group)
        others = np.flatnonzero(groups != group) if apart is not None else np.arange(n)
        transposed = sp.csr_matrix(search[others].T)
        for start in range(0, len(mine), block_rows):
            block_ids = mine[start : start + block_rows]
            block = sp.csr_matrix(search[block_ids] @ transposed)
            local = np.repeat(np.arange(len(block_ids)), np.diff(block.indptr))
            rows, cols = block_ids[local], others[block.indices]
            sims = block.data.astype(np.float64)
            weights = weigh(rows, cols, sims) if weigh is not None else sims
            weights = np.where((rows != cols) & (sims > 0), weights, -np.inf)
            chosen = _top_per_row(local, weights, fetch, len(block_ids))
            parts.append((rows[chosen], cols[chosen]))
    rows = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    sims = pair_scores(x, rows, cols)
    weights = weigh(rows, cols, sims) if weigh is not None else sims.copy()
    weights[sims <= 0] = -np.inf
    keep = best_per_row(rows, weights, k, n)
    return Neighbours(rows[keep], cols[keep], sims[keep], weights[keep])


_LEVELS = 256


def _top_per_row(rows: Ints, weights: Floats, k: int, n_rows: int) -> Ints:
    """Positions of the k heaviest finite weights of each row (rows numbered 0..n_rows-1).

    A 256-level histogram per row finds a threshold that lets about k entries through, so
    only those few are sorted; sorting whole rows of thousands of entries would dominate.
    """
    finite = np.flatnonzero(np.isfinite(weights))
    if len(finite) == 0:
        return finite
    w, r = weights[finite], rows[finite]
    low, high = float(w.min()), float(w.max())
    level = ((w - low) * ((_LEVELS - 1) / max(high - low, 1e-12))).astype(np.int64)
    counts = np.bincount(r * _LEVELS + level, minlength=n_rows * _LEVELS).reshape(n_rows, _LEVELS)
    from_top = np.cumsum(counts[:, ::-1], axis=1)
    enough = from_top >= k
    threshold = np.where(enough.any(axis=1), _LEVELS - 1 - enough.argmax(axis=1), 0)
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
