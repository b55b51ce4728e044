"""Maximum-weight pairings on a sparse, undirected candidate graph.

The graph comes as parallel arrays (u[i], v[i], w[i]) over nodes 0..n-1, each edge once. Every
function answers a `mate` array: mate[x] is x's partner, or -1. Cardinality comes first (nobody
is left out if a partner can be found for them in the graph), weight second.
"""

from __future__ import annotations

import numpy as np
import rustworkx as rx
import scipy.sparse as sp

from bot.domain.neighbours import Floats, Ints

# rustworkx's blossom wants integer weights; a micro-unit keeps ties where they are.
_SCALE = 1_000_000
# A local move that pairs one more person always beats any change of weight.
_MORE_PEOPLE = 1e6
# Final price step of the auction: the assignment is within n * eps of the optimum.
_AUCTION_EPS = 1e-3
# A phase stops when this share of people is still bidding (see _auction).
_AUCTION_TAIL = 0.01


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
    """Assignment relaxation cut into pairs, then local repair; for graphs too big for blossom.

    In the relaxation every person picks one other and is picked once (a set of cycles); an
    auction solves it near-optimally in a few vectorised rounds. The cycles are cut into pairs,
    and 2-opt moves and short augmenting paths then fix what the cuts lost.
    """
    offset = 2.0 - float(w.min()) if len(w) else 0.0
    rows = np.concatenate([u, v, np.arange(n)])
    cols = np.concatenate([v, u, np.arange(n)])
    # Picking oneself (staying alone) is worth less than any real edge: the last resort, and it
    # keeps a full assignment feasible whatever the graph looks like.
    vals = np.concatenate([w + offset, w + offset, np.ones(n)])
    graph = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    chosen = _auction(graph)
    # The value of each person's pick, so a chain's edges need no lookups of their own.
    picked = np.zeros(n)
    holds = np.flatnonzero(chosen >= 0)
    picked[holds] = np.asarray(graph[holds, chosen[holds]]).ravel()
    mate = np.full(n, -1, dtype=np.int64)
    for chain, closed in _chains(chosen):
        _split_chain(chain, closed, picked, offset, mate)
    return _repair(mate, u, v, w, max_passes)


def _auction(graph: sp.csr_matrix) -> Ints:
    """Bertsekas' auction with epsilon scaling, all unassigned bidders at once (Jacobi).

    Returns the object each person holds, -1 for the few still bidding when a phase stops:
    the last rounds of an auction move one or two bidders each, and the repair step places
    those people far cheaper than thousands of such rounds would.
    """
    n = graph.shape[0]
    ptr, cols, benefit = graph.indptr.astype(np.int64), graph.indices.astype(np.int64), graph.data
    price = np.zeros(n)
    eps = max(float(benefit.max() - benefit.min()) / 50, _AUCTION_EPS)
    while True:
        owner = np.full(n, -1, dtype=np.int64)
        holds = np.full(n, -1, dtype=np.int64)
        bidders = np.arange(n)
        while len(bidders) > _AUCTION_TAIL * n:
            lens = ptr[bidders + 1] - ptr[bidders]
            seg = np.concatenate([[0], np.cumsum(lens)[:-1]])
            idx = np.repeat(ptr[bidders] - seg, lens) + np.arange(int(lens.sum()))
            value = benefit[idx] - price[cols[idx]]
            best = np.maximum.reduceat(value, seg)
            who = np.repeat(np.arange(len(bidders)), lens)
            ties = np.flatnonzero(value == best[who])
            first = ties[np.r_[True, who[ties][1:] != who[ties][:-1]]]
            value[first] = -np.inf
            second = np.where(lens > 1, np.maximum.reduceat(value, seg), best)
            target = cols[idx[first]]
            bid = price[target] + best - second + eps
            order = np.lexsort((-bid, target))
            won = order[np.r_[True, target[order][1:] != target[order][:-1]]]
            items, winners = target[won], bidders[won]
            outbid = owner[items]
            holds[outbid[outbid >= 0]] = -1
            owner[items], holds[winners], price[items] = winners, items, bid[won]
            bidders = np.flatnonzero(holds < 0)
        if eps <= _AUCTION_EPS:
            return holds
        eps = max(eps / 10, _AUCTION_EPS)


def _chains(chosen: Ints) -> list[tuple[Ints, bool]]:
    """The assignment as paths and cycles of people, each person -> the one they picked."""
    n = len(chosen)
    nxt = np.where((chosen >= 0) & (chosen != np.arange(n)), chosen, -1)
    has_prev = np.zeros(n, dtype=bool)
    has_prev[nxt[nxt >= 0]] = True
    seen = np.zeros(n, dtype=bool)
    chains: list[tuple[Ints, bool]] = []
    starts = [int(i) for i in np.flatnonzero(~has_prev & (nxt >= 0))]
    for closed, heads in ((False, starts), (True, range(n))):
        for head in heads:
            if seen[head] or nxt[head] < 0:
                continue
            chain = [head]
            seen[head] = True
            at = int(nxt[head])
            while at >= 0 and not seen[at]:
                chain.append(at)
                seen[at] = True
                at = int(nxt[at])
            chains.append((np.array(chain), closed))
    return chains


def _split_chain(chain: Ints, closed: bool, picked: Floats, offset: float, mate: Ints) -> None:
    """Pairs from one chain of picks; `picked[x]` is the value of x's pick (x -> next)."""
    if closed:
        _split_cycle(chain, picked[chain] - offset, mate)
        return
    # A path: dynamic programme over "pair the last two or not"; the offset in the values
    # makes one more pair worth more than any weight difference.
    edge = picked[chain[:-1]]
    best = [0.0, 0.0]
    for e in edge.tolist():
        best.append(max(best[-1], best[-2] + e))
    t = len(chain) - 1
    while t > 0:
        if best[t + 1] == best[t]:
            t -= 1
        else:
            a, b = chain[t - 1], chain[t]
            mate[a], mate[b] = b, a
            t -= 2


def _split_cycle(cycle: Ints, edge: Floats, mate: Ints) -> None:
    """Best set of alternate edges around one cycle; edge[t] joins cycle[t] and cycle[t+1]."""
    length = len(cycle)
    if length == 2:
        mate[cycle[0]], mate[cycle[1]] = cycle[1], cycle[0]
        return
    following = np.roll(cycle, -1)
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
        # Stored shifted to positive: a sparse matrix answers 0 for a missing entry.
        self._shift = 1.0 - float(w.min()) if len(w) else 0.0
        values = np.concatenate([w, w]) + self._shift
        self._matrix = sp.csr_matrix(
            (values, (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
        )
        self.heaviest = (
            np.maximum.reduceat(np.append(self._matrix.data, -np.inf), self._matrix.indptr[:-1])
            - self._shift
            if n
            else np.empty(0)
        )
        self.heaviest[np.diff(self._matrix.indptr) == 0] = -np.inf

    def __call__(self, a: Ints, b: Ints) -> Floats:
        if len(a) == 0:
            return np.empty(0)
        found = np.asarray(self._matrix[a, b]).ravel() - self._shift
        found[found < -self._shift + 0.5] = -np.inf
        return found


def _repair(mate: Ints, u: Ints, v: Ints, w: Floats, max_passes: int) -> Ints:
    """Apply improving 2-opt moves and augmenting paths until none is left.

    For a directed edge x->y the move pairs x with y and their old partners a, b with each
    other (or leaves the one whose partner was taken alone). Gains are computed for many edges
    at once; after the first pass only for edges near a change or still waiting to be applied.
    """
    n = len(mate)
    weight = _Edges(n, u, v, w)
    xs_all, ys_all = np.concatenate([u, v]), np.concatenate([v, u])
    wxy_all = np.concatenate([w, w])
    look = np.ones(len(xs_all), dtype=bool)
    for _ in range(max_passes):
        before = mate.copy()
        _augment(mate, weight, xs_all, ys_all, wxy_all)
        edges = np.flatnonzero(look)
        xs, ys, wxy = xs_all[edges], ys_all[edges], wxy_all[edges]
        paired = mate >= 0
        a, b = mate[xs], mate[ys]
        current_x = np.where(paired[xs], weight(xs, np.maximum(a, 0)), 0.0)
        current_y = np.where(paired[ys], weight(ys, np.maximum(b, 0)), 0.0)
        gain = wxy - current_x - current_y
        # Only swaps that could gain even with the best possible new a-b edge need a lookup.
        bound = np.minimum(weight.heaviest[np.maximum(a, 0)], weight.heaviest[np.maximum(b, 0)])
        both = paired[xs] & paired[ys] & (a != ys) & (gain + bound > 0)
        gain[both] += weight(a[both], b[both])
        gain[paired[xs] & paired[ys] & ~both] = -np.inf
        gain[~paired[xs] & ~paired[ys]] += _MORE_PEOPLE
        gain[~paired[xs] & paired[ys]] = -np.inf  # the same move is seen from y's side
        moves = np.flatnonzero(gain > 1e-12)
        _apply(mate, moves[np.argsort(-gain[moves], kind="stable")], xs, ys)
        changed = mate != before
        if not changed.any():
            break
        look[:] = changed[xs_all] | changed[ys_all]
        look[edges[moves]] = True
    return mate


def _apply(mate: Ints, moves: Ints, xs: Ints, ys: Ints) -> None:
    """Apply the moves (best first) that are the best move of every person they touch.

    Those never share a person, so they can all be applied at once; the others wait for the
    next pass, when their gains are computed afresh.
    """
    x, y = xs[moves], ys[moves]
    a, b = mate[x], mate[y]
    rank = np.arange(len(moves))
    first = np.full(len(mate), len(moves))
    for who in (x, y, a, b):
        has = who >= 0
        np.minimum.at(first, who[has], rank[has])
    mine = (first[x] == rank) & (first[y] == rank)
    mine &= ((a < 0) | (first[np.maximum(a, 0)] == rank)) & (
        (b < 0) | (first[np.maximum(b, 0)] == rank)
    )
    x, y, a, b = x[mine], y[mine], a[mine], b[mine]
    mate[x], mate[y] = y, x
    swap = (a >= 0) & (b >= 0)
    mate[a[swap]], mate[b[swap]] = b[swap], a[swap]
    alone = (a >= 0) & (b < 0)
    mate[a[alone]] = -1


def _augment(mate: Ints, weight: _Edges, xs: Ints, ys: Ints, wxy: Floats) -> None:
    """Pair two lonely people through a couple: x - y=b - z becomes x=y, b=z."""
    lonely = mate < 0
    if lonely.sum() < 2:
        return
    # x lonely, y in a couple with b
    first = lonely[xs] & ~lonely[ys]
    x, y, w1 = xs[first], ys[first], wxy[first]
    b = mate[y]
    # b's edges to lonely people z
    second = ~lonely[xs] & lonely[ys]
    order = np.argsort(xs[second], kind="stable")
    ends, zs, w2 = xs[second][order], ys[second][order], wxy[second][order]
    lo, hi = np.searchsorted(ends, b), np.searchsorted(ends, b, side="right")
    count = hi - lo
    if count.sum() == 0:
        return
    pick = np.repeat(lo - np.concatenate([[0], np.cumsum(count)[:-1]]), count) + np.arange(
        count.sum()
    )
    x, y, b, w1 = x.repeat(count), y.repeat(count), b.repeat(count), w1.repeat(count)
    z, w2 = zs[pick], w2[pick]
    gain = w1 + w2 - weight(y, b)
    ok = z != x
    busy = np.zeros(len(mate), dtype=bool)
    for i in np.flatnonzero(ok)[np.argsort(-gain[ok], kind="stable")]:
        group = [x[i], y[i], b[i], z[i]]
        if busy[group].any():
            continue
        busy[group] = True
        mate[x[i]], mate[y[i]], mate[b[i]], mate[z[i]] = y[i], x[i], z[i], b[i]
