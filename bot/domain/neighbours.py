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


def top_k(x: sp.csr_matrix, k: int, weigh: EdgeWeigher | None, block_rows: int) -> Neighbours:
    """For every row its k heaviest allowed partners among those with a positive dot product.

    Works in blocks of rows so the (rows x everyone) similarity block stays small. The weigher
    sees every pair that shares a feature, before the cut, so a rule like "other department"
    does not leave someone with only forbidden (and usually the most similar) neighbours.
    """
    n = x.shape[0]
    transposed = sp.csr_matrix(x.T)
    parts: list[tuple[Ints, Ints, Floats, Floats]] = []
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = sp.csr_matrix(x[start:stop] @ transposed)
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(block.indptr))
        cols = block.indices.astype(np.int64)
        sims = block.data.astype(np.float64)
        weights = weigh(rows, cols, sims) if weigh is not None else sims.copy()
        keep = np.isfinite(weights) & (rows != cols) & (sims > 0)
        rows, cols, sims, weights = rows[keep], cols[keep], sims[keep], weights[keep]
        bounds = np.searchsorted(rows, np.arange(start, stop + 1))
        chosen = [np.arange(bounds[0], bounds[-1])]
        crowded = np.flatnonzero(np.diff(bounds) > k)
        if len(crowded):
            mask = np.ones(len(rows), dtype=bool)
            for r in crowded:
                a, b = bounds[r], bounds[r + 1]
                mask[a:b] = False
                mask[a + np.argpartition(-weights[a:b], k - 1)[:k]] = True
            chosen = [np.flatnonzero(mask)]
        idx = np.concatenate(chosen)
        parts.append((rows[idx], cols[idx], sims[idx], weights[idx]))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Neighbours(empty, empty, np.empty(0), np.empty(0))
    return Neighbours(*(np.concatenate(p) for p in zip(*parts, strict=True)))


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
