"""Maximum-weight pairings on a sparse, undirected candidate graph.

The graph comes as parallel arrays (u[i], v[i], w[i]) over nodes 0..n-1, each edge once. Every
function answers a `mate` array: mate[x] is x's partner, or -1. Cardinality comes first (nobody
is left out if a partner can be found for them in the graph), weight second.
"""

from __future__ import annotations

import numpy as np
import rustworkx as rx
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from bot.domain.neighbours import Floats, Ints

# rustworkx's blossom wants integer weights; a micro-unit keeps ties where they are.
_SCALE = 1_000_000
# A local move that pairs one more person always beats any change of weight.
_MORE_PEOPLE = 1e6


def exact_pairs(n: int, u: Ints, v: Ints, w: Floats) -> Ints:
    """Edmonds' blossom, maximum cardinality first: optimal on the given graph, O(n^3)."""
    mate = np.full(n, -1, dtype=np.int64)
    if len(u) == 0:
        return mate
    graph = rx.PyGraph()
    graph.add_nodes_from(range(n))
    # Shifted to positive: with maximum cardinality every optimum has the same number of edges,
    # so a constant shift does not change which one wins.
    scaled = np.rint((w - w.min() + 1.0) * _SCALE).astype(np.int64)
    graph.add_edges_from(list(zip(u.tolist(), v.tolist(), scaled.tolist(), strict=True)))
    for a, b in rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int):
        mate[a], mate[b] = b, a
    return mate


def approximate_pairs(n: int, u: Ints, v: Ints, w: Floats, max_passes: int = 50) -> Ints:
    """Sparse assignment split into pairs, then local repair; for graphs too big for blossom.

    The assignment relaxation (each person "chooses" one other, each chosen once) is solved
    exactly and fast on a sparse graph; its cycles are cut into pairs, and 2-opt moves and short
    augmenting paths then fix what the cuts lost.
    """
    mate = _assignment_pairs(n, u, v, w)
    return _repair(mate, u, v, w, max_passes)


def _assignment_pairs(n: int, u: Ints, v: Ints, w: Floats) -> Ints:
    offset = 2.0 - float(w.min()) if len(w) else 0.0
    rows = np.concatenate([u, v, np.arange(n)])
    cols = np.concatenate([v, u, np.arange(n)])
    # Staying alone (the diagonal) scores less than any real edge, so it is the last resort,
    # and it keeps a full assignment feasible whatever the graph looks like.
    vals = np.concatenate([w + offset, w + offset, np.ones(n)])
    graph = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    _, chosen = min_weight_full_bipartite_matching(graph, maximize=True)
    mate = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    for start in range(n):
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        nxt = int(chosen[start])
        while nxt != start:
            cycle.append(nxt)
            seen[nxt] = True
            nxt = int(chosen[nxt])
        if len(cycle) > 1:
            _split_cycle(np.array(cycle), graph, offset, mate)
    return mate


def _split_cycle(cycle: Ints, graph: sp.csr_matrix, offset: float, mate: Ints) -> None:
    """Best set of alternate edges around one cycle of the assignment."""
    length = len(cycle)
    if length == 2:
        mate[cycle[0]], mate[cycle[1]] = cycle[1], cycle[0]
        return
    following = np.roll(cycle, -1)
    edge = np.asarray(graph[cycle, following]).ravel() - offset  # edge t joins cycle[t], [t+1]
    if length % 2 == 0:
        first = int(np.argmax([edge[0::2].sum(), edge[1::2].sum()]))
        picks = np.arange(first, length, 2)
    else:
        # Leaving out cycle[s] takes edges s+1, s+3, ..., s+length-2 (mod length). Sums of every
        # second edge over the doubled sequence give all those totals at once.
        doubled = np.concatenate([edge, edge])
        every_second = np.empty_like(doubled)
        for parity in (0, 1):
            every_second[parity::2] = np.cumsum(doubled[parity::2])
        padded = np.concatenate([[0.0, 0.0], every_second])
        starts = np.arange(length)
        totals = padded[starts + length] - padded[starts + 1]
        left_out = int(np.argmax(totals))
        picks = (left_out + 1 + 2 * np.arange((length - 1) // 2)) % length
    a, b = cycle[picks], following[picks]
    mate[a], mate[b] = b, a


class _Edges:
    """Weight lookup for arbitrary node pairs; -inf where the graph has no edge."""

    def __init__(self, n: int, u: Ints, v: Ints, w: Floats) -> None:
        self._n = n
        keys = np.minimum(u, v) * n + np.maximum(u, v)
        order = np.argsort(keys)
        self._keys, self._w = keys[order], w[order]

    def __call__(self, a: Ints, b: Ints) -> Floats:
        out = np.full(len(a), -np.inf)
        if len(self._keys) == 0:
            return out
        keys = np.minimum(a, b) * self._n + np.maximum(a, b)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hit = (self._keys[pos] == keys) & (a >= 0) & (b >= 0)
        out[hit] = self._w[pos[hit]]
        return out


def _repair(mate: Ints, u: Ints, v: Ints, w: Floats, max_passes: int) -> Ints:
    """Apply improving 2-opt moves and augmenting paths until none is left.

    For a directed edge x->y the move pairs x with y and their old partners a, b with each
    other (or leaves the one whose partner was taken alone). Moves are computed for all edges
    at once and applied best-first, each person at most once per pass.
    """
    weight = _Edges(len(mate), u, v, w)
    xs, ys = np.concatenate([u, v]), np.concatenate([v, u])
    wxy = np.concatenate([w, w])
    for _ in range(max_passes):
        augmented = _augment(mate, weight, xs, ys, wxy)
        a, b = mate[xs], mate[ys]
        gain = np.full(len(xs), -np.inf)
        both = (a >= 0) & (b >= 0) & (a != ys)
        gain[both] = (
            wxy[both]
            + weight(a[both], b[both])
            - weight(xs[both], a[both])
            - weight(ys[both], b[both])
        )
        y_free = (a >= 0) & (b < 0)
        gain[y_free] = wxy[y_free] - weight(xs[y_free], a[y_free])
        free = (a < 0) & (b < 0)
        gain[free] = _MORE_PEOPLE + wxy[free]
        moves = np.flatnonzero(gain > 1e-12)
        if len(moves) == 0 and not augmented:
            break
        touched = np.zeros(len(mate), dtype=bool)
        for i in moves[np.argsort(-gain[moves], kind="stable")]:
            x, y = xs[i], ys[i]
            pa, pb = mate[x], mate[y]
            group = [x, y] + [p for p in (pa, pb) if p >= 0]
            if touched[group].any():
                continue
            touched[group] = True
            mate[x], mate[y] = y, x
            if pa >= 0 and pb >= 0:
                mate[pa], mate[pb] = pb, pa
            elif pa >= 0:
                mate[pa] = -1
            elif pb >= 0:
                mate[pb] = -1
    return mate


def _augment(mate: Ints, weight: _Edges, xs: Ints, ys: Ints, wxy: Floats) -> bool:
    """Pair two lonely people through a couple: x - y=b - z becomes x=y, b=z."""
    lonely = np.flatnonzero(mate < 0)
    if len(lonely) < 2:
        return False
    is_lonely = mate < 0
    partner = np.maximum(mate, 0)
    couple = np.where(is_lonely, -np.inf, weight(np.arange(len(mate)), partner))
    order = np.argsort(xs, kind="stable")
    starts = np.searchsorted(xs[order], np.arange(len(mate) + 1))
    moved = False
    for x in lonely:
        if not is_lonely[x]:
            continue
        best: tuple[float, int, int, int] | None = None
        for i in order[starts[x] : starts[x + 1]]:
            y = ys[i]
            b = mate[y]
            if b < 0 or not np.isfinite(couple[y]):
                continue
            for j in order[starts[b] : starts[b + 1]]:
                z = ys[j]
                if z != x and is_lonely[z]:
                    gain = wxy[i] + wxy[j] - couple[y]
                    if best is None or gain > best[0]:
                        best = (gain, int(y), int(b), int(z))
        if best is not None:
            _, y, b, z = best
            mate[x], mate[y], mate[b], mate[z] = y, x, z, b
            is_lonely[[x, z]] = False
            couple[[x, y, b, z]] = np.nan  # new couples: not what the other gains assumed
            moved = True
    return moved
