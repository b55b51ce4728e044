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
  refrigerated haulier for "Gekühlter Transport", not for "Busse");
- what the **kind** of organisation can do: a name says little ("DEHOGA Kreisverband" has
  hotel rooms, a "Sanitätshaus" care beds), so a glossary of organisation kinds
  (bot/data/crisis_organisation_kinds.yaml: words found in their names, requests someone
  there could help with) gives each contact a kind, and the contact is lifted by how close
  the request comes to that kind's requests (the mean of its best two), compared in a
  request space fitted on the glossary's requests by kind. On the dev part this took hit@3
  from 77 to 93-95 % (bench/semantic.py, "without the organisation kinds").
  The kind is the one its name names (bot.domain.kind_names: "Hotel Kaiserhof" is a hotel),
  else the one whose name words are nearest to it by meaning.

Pure numpy; the vectors come from bot.services.contact_vectors.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.domain.crisis import WEAK_FIT, meaning_fit
from bot.domain.kind_names import KindNames
from bot.domain.semantic.task_space import TaskSpace

Vectors = NDArray[np.float32]
Floats = NDArray[np.float64]

# Shares of the three parts (dev: hit@3 of 82-84 % anywhere in organisation 0.15-0.25 and
# own text 0.25-0.35; the organisation alone, or no own text, lost 15-20 points).
ORGANISATION_SHARE = 0.25
SECTOR_SHARE = 0.4
OWN_TEXT_SHARE = 0.35
# The organisation kind's part, added to the three above: KIND_SHARE times the mean of the
# request's KIND_TOP best cosines among the kind's requests (one kind per contact), compared
# in a request space. A kind's single nearest request lifted many kinds a little for any
# request (a cold store for a blackout, a driving school for every transport); the mean of
# its best two lifts fewer (adopted by a rule fixed before routing_unseen16 + 17 existed).
KIND_SHARE = 0.3
KIND_TOP = 2
# The request space: e5 puts every crisis request close to every other, and two requests
# someone of one kind could help with differ in wording as much as requests for different
# kinds. Fitted on the glossary's requests by kind the way the matching's task space is fitted
# on task phrases by task (bot.domain.semantic.task_space: whitened by the spread within
# kinds, all discriminant directions kept). Found on dev and the blind sets 1-21, adopted by a
# rule fixed before routing_unseen22 + 23 existed (docs/BENCHMARKS.md, "The request space").
KIND_REGULARISATION = 3e-3
# A sector fits by the mean of the request's best this many cosines in its pool (1 and 5
# were within a point on dev).
SECTOR_TOP = 3
# A request that lifts no sector clearly above the median sector says too little to route
# by (a vague "Wer kann uns heute noch helfen?", or a need no contact covers): the requester
# hears how to sharpen it. Chosen on the dev parts of the routing set and of
# bench/data/routing/hint_requests.yaml (vague and uncovered requests, written blind): the
# margin that gives the hint to most of those (71 %) without giving it to more well-routed
# requests than the rule on fits before (9 %). Judged on the lifts without the organisation
# kinds (`lifts`).
WEAK_LIFT_MARGIN = 0.014


def _top_mean(cosines: Floats, k: int) -> Floats:
    """Per row the mean of its `k` largest values."""
    return np.sort(cosines, axis=-1)[..., -k:].mean(axis=-1)


def _kind_fit(cosines: Floats) -> Floats:
    """How close requests come to a kind, from their cosines to its requests (last axis)."""
    return _top_mean(cosines, min(KIND_TOP, cosines.shape[-1]))


@dataclass(frozen=True)
class OrganisationKinds:
    """Kinds of organisation: unit vectors of the words their names contain (`names`, the
    kind of each row in `name_kind`; the same names as text in `by_name`) and, in the request
    space fitted on them (`space`), of requests someone there could help with (`requests`,
    kind of each row in `request_kind`); `baseline` per kind is how close typical crisis
    requests come to its requests (`organisation_kinds`)."""

    names: Vectors
    name_kind: NDArray[np.intp]
    by_name: KindNames
    requests: Floats  # unit rows in `space`
    request_kind: NDArray[np.intp]
    baseline: Floats
    space: TaskSpace | None  # None: fewer than two kinds, nothing to tell them apart by


def _in_space(space: TaskSpace, x: Vectors) -> Floats:
    """Unit rows of `x` in the request space."""
    out = np.asarray(space(np.asarray(x, dtype=np.float32)), dtype=np.float64)
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)


def organisation_kinds(
    names: tuple[Sequence[str], Vectors],
    name_kind: Sequence[int],
    requests: Vectors,
    request_kind: Sequence[int],
    reference: Vectors,
) -> OrganisationKinds:
    """The kinds with their request space and baseline: per kind the mean over the reference
    requests of what the kind would lift them by (`_kind_fit`), so that a kind close to every
    request gains nothing. `names`: the name words as texts and as vectors (rows in the same
    order)."""
    of_request = np.asarray(request_kind, dtype=np.intp)
    count = int(of_request.max()) + 1 if len(of_request) else 0
    texts, vectors = names
    space = None
    in_space = np.zeros((len(of_request), 0))
    baseline = np.zeros(count)
    if count >= 2:
        space = TaskSpace.fit(
            "requests by kind", requests, of_request.astype(str), KIND_REGULARISATION, count - 1
        )
        in_space = _in_space(space, requests)
        cosines = _in_space(space, reference) @ in_space.T
        baseline = np.array([_kind_fit(cosines[:, of_request == k]).mean() for k in range(count)])
    return OrganisationKinds(
        np.asarray(vectors, dtype=np.float32),
        np.asarray(name_kind, dtype=np.intp),
        KindNames(texts, name_kind),
        in_space,
        of_request,
        baseline,
        space,
    )


def kind_of(
    organisations: Vectors, names: Sequence[str], kinds: OrganisationKinds
) -> NDArray[np.intp]:
    """Per contact (its "organisation | sector" vector, its organisation's name) the kind its
    name names, the longest name found winning ("Landkreis Oberfeld, Veterinäramt" is a
    veterinary office before a district), the nearer by meaning among names equally long;
    else the kind whose name words are nearest to it by meaning. The vector alone took the
    "Hotel Kaiserhof | Wirtschaft" for a municipal depot (a "Wirtschaftshof") and every
    contact in the homeless aid sector for a day shelter."""
    cosines = np.asarray(organisations, np.float32) @ kinds.names.T
    out = np.asarray(kinds.name_kind[cosines.argmax(axis=1)])
    for row, name in enumerate(names):
        named = kinds.by_name.named(name)
        if not named:
            continue
        longest = max(named.values())
        candidates = np.array([k for k, length in named.items() if length == longest])
        among = np.isin(kinds.name_kind, candidates)
        out[row] = kinds.name_kind[np.flatnonzero(among)[cosines[row, among].argmax()]]
    return out


def _asked(query: Vectors, dimensions: int) -> Floats:
    """The request's vector: one unit row, or the mean of several."""
    return np.asarray(query, dtype=np.float64).reshape(-1, dimensions).mean(0)


def kind_lifts(
    query: Vectors, organisations: Vectors, names: Sequence[str], kinds: OrganisationKinds
) -> Floats:
    """What each contact's kind (`kind_of`) adds to its lift (`lifts`): KIND_SHARE times how
    close the request comes to the kind (`_kind_fit`, in the request space), minus the kind's
    baseline."""
    if kinds.space is None:
        return np.zeros(len(organisations))
    asked = _asked(query, organisations.shape[1]).astype(np.float32)
    cosines = kinds.requests @ _in_space(kinds.space, asked[None, :])[0]
    of_contact = kind_of(organisations, names, kinds)
    out = np.zeros(len(of_contact))
    for k in np.unique(of_contact):
        fit = float(_kind_fit(cosines[kinds.request_kind == k]))
        out[of_contact == k] = KIND_SHARE * (fit - kinds.baseline[k])
    return out


def lifts(
    query: Vectors,
    organisations: Vectors,
    sectors: Sequence[str],
    pools: Mapping[str, Vectors],
    reference: Vectors,
) -> Floats:
    """The lift of each contact (row i of `organisations`, sector `sectors[i]`) for the
    request `query` (one unit row; several rows: their mean is used) by organisation, sector
    and own text; `kind_lifts` adds the organisation kind. `pools`: per sector the vectors of
    its example requests and description phrases; a contact whose sector has none is lifted by
    its organisation only.

    Whether the request names a need at all (`weak_lift`) is judged on these lifts without
    the kinds: a kind lifts its contacts a little for almost any request ("Wer kann heute noch
    helfen?" resembles some request of a Tafel), which blurred vague and clear requests."""
    asked = _asked(query, organisations.shape[1])
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
