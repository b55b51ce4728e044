"""How much better a contact fits a request than it fits crisis requests in general.

Raw e5 cosines between a request and "organisation | sector" sit in a narrow band
(0.74-0.87), and a few contacts are close to almost every request (a "Kältebus" was among the
first three for 31 of 75 requests of the routing evaluation set). Measured on its dev part
(bench/semantic.py) and checked once on the held-out part:

- the **lift**: a similarity to this request minus the mean of the same similarity to typical
  crisis requests (the reference). Whatever resembles every request gains nothing from that;
  a request is judged by what sets it apart;
- e5 compares a request with another request better than with a description, so each
  sector has a **pool** of texts: example requests written for it
  (bot/data/crisis_sector_examples.yaml) and the phrases of its configured description. Three
  parts make the lift of a contact: its organisation ("Spedition Kühne | Logistik"), the
  sector (the mean of the request's best `SECTOR_TOP` cosines in its pool), and the pool text
  nearest to the organisation (which of the sector's needs this contact stands for: a
  refrigerated haulier for "Gekühlter Transport", not for "Busse").

Pure numpy; the vectors come from bot.services.contact_vectors.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from bot.domain.crisis import WEAK_FIT, meaning_fit

Vectors = NDArray[np.float32]
Floats = NDArray[np.float64]

# Shares of the three parts (dev: hit@3 of 82-84 % anywhere in organisation 0.15-0.25 and
# own text 0.25-0.35; the organisation alone, or no own text, lost 15-20 points).
ORGANISATION_SHARE = 0.25
SECTOR_SHARE = 0.4
OWN_TEXT_SHARE = 0.35
# A sector fits by the mean of the request's best this many cosines in its pool (1 and 5
# were within a point on dev).
SECTOR_TOP = 3
# A request that lifts no sector clearly above the median sector says too little to route
# by (a vague "Wer kann uns heute noch helfen?", or a need no contact covers): the requester
# hears how to sharpen it. Chosen on the dev parts of the routing set and of
# bench/data/routing/hint_requests.yaml (vague and uncovered requests, written blind): the
# margin that gives the hint to most of those (71 %) without giving it to more well-routed
# requests than the rule on fits before (9 %).
WEAK_LIFT_MARGIN = 0.014


def _top_mean(cosines: Floats, k: int) -> Floats:
    """Per row the mean of its `k` largest values."""
    return np.sort(cosines, axis=-1)[..., -k:].mean(axis=-1)


def lifts(
    query: Vectors,
    organisations: Vectors,
    sectors: Sequence[str],
    pools: Mapping[str, Vectors],
    reference: Vectors,
) -> Floats:
    """The lift of each contact (row i of `organisations`, sector `sectors[i]`) for the
    request `query` (one unit row; several rows: their mean is used). `pools`: per sector the
    vectors of its example requests and description phrases; a contact whose sector has none
    is lifted by its organisation only."""
    asked = np.asarray(query, dtype=np.float64).reshape(-1, organisations.shape[1]).mean(0)
    orgs = np.asarray(organisations, dtype=np.float64)
    refs = np.asarray(reference, dtype=np.float64)
    out = orgs @ asked - (refs @ orgs.T).mean(axis=0)
    names = np.array(sectors, dtype=object)
    for name in dict.fromkeys(sectors):
        pool = pools.get(name)
        if pool is None or not len(pool):
            continue
        own = np.asarray(pool, dtype=np.float64)
        k = min(SECTOR_TOP, len(own))
        sector = float(_top_mean(own @ asked, k) - _top_mean(refs @ own.T, k).mean())
        members = np.flatnonzero(names == name)
        nearest = own[(orgs[members] @ own.T).argmax(axis=1)]
        by_own = nearest @ asked - (refs @ nearest.T).mean(axis=0)
        out[members] = (
            ORGANISATION_SHARE * out[members] + SECTOR_SHARE * sector + OWN_TEXT_SHARE * by_own
        )
    return np.asarray(out)


def relative_to_best(lifts: Mapping[str, float], full: float) -> dict[str, float]:
    """The lifts of one request, scaled so that the best one is at most `full`.

    A clear request lifts its best contacts far above `full`; capped, they would all count as
    a full fit and tie, and the routing (fits in bands, then rotation by load) would pick
    among them at random. Scaled, the best contact is the full fit and the others keep their
    distance from it. Below `full` nothing changes: a weak request stays weak.
    """
    best = max(lifts.values(), default=0.0)
    if best <= full:
        return dict(lifts)
    return {key: value * full / best for key, value in lifts.items()}


def best_per_sector(values: Iterable[tuple[str, float]]) -> dict[str, float]:
    """The best value per sector of (sector, value) pairs: what `weak_lift` (lifts) and
    `bot.domain.crisis.weak_fit` (fits) judge a request by."""
    best: dict[str, float] = {}
    for sector, value in values:
        best[sector] = max(best.get(sector, value), value)
    return best


def weak_lift(best_by_sector: Mapping[str, float]) -> bool:
    """Whether a request is too vague to route by meaning. `best_by_sector` is the best
    lift of any contact per sector that has contacts; with fewer than three sectors there is
    no median to stand out from, and the best lift must reach a fit of WEAK_FIT."""
    if not best_by_sector:
        return True
    best = max(best_by_sector.values())
    if len(best_by_sector) < 3:
        return meaning_fit(best) < WEAK_FIT
    return best - statistics.median(best_by_sector.values()) < WEAK_LIFT_MARGIN
