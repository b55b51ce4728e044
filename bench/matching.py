"""Benchmark of the weekly coffee matching: speed, memory, quality and relevance.

    .venv/bin/python -m bench.matching [--sizes 1000,10000,50000] [--quality 1000]
                                       [--stages 50000] [--paraphrased 10000]
                                       [--meaning 10000] [--shards 20000] [--variants 0]

Every measurement runs in a fresh subprocess, so its peak RSS is its own. Profiles carry their
phrase vectors as a round loads them from the store; the vectors of the phrase pool are
computed once with the real model and cached (bench/profiles.py `with_vectors`), so a round
never encodes. Prints markdown tables (docs/BENCHMARKS.md keeps the figures):

- speed: a full round (similarity index, candidate search, pairing, trios, explanations) per
  size, wall and CPU seconds, peak RSS of the process (input profiles and vectors included);
- stages (--stages N): where the time of one round goes;
- quality at 1,000 people: total weight as a share of the exact maximum-weight matching over
  the full allowed graph, for the default pairing (blossom on the candidate graph) and for the
  large-N pairing (auction + repair) forced onto the same people;
- relevance per size: share of pairs that share a hidden generator topic, against a random
  allowed pairing (what Donut-style bots do) of the same people; and (--paraphrased N) the
  same for people who word the same tasks differently, by meaning and by words;
- meaning (--meaning N): how to compare by meaning, measured: precision@5 of person
  similarities, the floor of the rescaling, the closest-phrase explanation and the threshold
  for topics that mean the same (circles);
- cells (--shards N): matched weight with the cell search against the exact search over
  everyone, at a size where the exact search is still affordable;
- word variants (--variants N): stems, compound parts, character n-grams (the fallback).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.profiles import (
    DATIVE,
    FILLER,
    NOMINATIVE,
    PARAPHRASE_POOL,
    TOPIC_NAMES,
    TOPICS,
    Synthetic,
    generate,
    history,
    paraphrased,
    phrase_vectors,
    with_vectors,
)
from bot.domain import matching
from bot.domain.match_graph import MatchGraph
from bot.domain.matching import MatchPerson, MatchRules, PastPair, plan_round
from bot.domain.pairing import approximate_pairs, exact_pairs
from bot.domain.phrases import split_tasks
from bot.domain.semantic import EmbeddingSimilarity
from bot.domain.semantic.closest import SAME_TASK, closest_phrases
from bot.domain.semantic.index import Projection
from bot.domain.semantic.topics import SAME_TOPIC, group_topics
from bot.domain.similarity import Document, Similarity
from bot.domain.tfidf import TfidfSimilarity
from bot.services.task_space import matching_similarity, shipped_task_space

SEED = 1
T = TypeVar("T")
PAST_ROUNDS = 4


def population(n: int) -> tuple[list[Synthetic], list[MatchPerson], list[PastPair]]:
    synthetic = with_vectors(generate(n, SEED))
    return synthetic, [s.person for s in synthetic], history(synthetic, PAST_ROUNDS, SEED + 1)


def shares_topic(synthetic: list[Synthetic], pairs: list[tuple[int, int]]) -> float:
    truth = {s.person.id: s.truth for s in synthetic}
    return sum(bool(truth[a] & truth[b]) for a, b in pairs) / max(len(pairs), 1)


def random_allowed_pairs(
    people: list[MatchPerson], past: list[PastPair], rules: MatchRules
) -> list[tuple[int, int]]:
    """A random pairing under the same hard rules: shuffle, pair each with the next allowed."""
    banned = {frozenset((p.a, p.b)) for p in past if p.rounds_ago <= rules.repeat_ban_rounds}
    order = people[:]
    random.Random(SEED).shuffle(order)
    free = {p.id for p in order}
    pairs = []
    for i, a in enumerate(order):
        if a.id not in free:
            continue
        for b in order[i + 1 :]:
            if (
                b.id in free
                and a.department != b.department
                and a.languages & b.languages
                and b.id not in a.never_with
                and a.id not in b.never_with
                and frozenset((a.id, b.id)) not in banned
            ):
                free -= {a.id, b.id}
                pairs.append((a.id, b.id))
                break
    return pairs


def member_pairs(plan: matching.RoundPlan) -> list[tuple[int, int]]:
    return [(p.a, p.b) for g in plan.groups for p in g.pairs()]


def one_round(n: int) -> dict[str, float]:
    """Child process: one full round at size n."""
    synthetic, people, past = population(n)
    rules = MatchRules(seed=SEED)
    wall, cpu = time.perf_counter(), time.process_time()
    plan = plan_round(people, past, rules, matching_similarity())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "n": n,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "groups": len(plan.groups),
        "trios": sum(len(g.members) == 3 for g in plan.groups),
        "unmatched": len(plan.unmatched),
        "by_words": plan.by_words,
        "similarity": float(np.mean([g.similarity for g in plan.groups])),
        "explained": float(np.mean([bool(g.phrases) for g in plan.groups])),
        "relevant": shares_topic(synthetic, member_pairs(plan)),
        "random_relevant": shares_topic(synthetic, random_allowed_pairs(people, past, rules)),
        "load": os.getloadavg()[0],
    }


def stages(n: int) -> dict[str, float]:
    """Child process: the steps of `plan_round`, timed one by one."""
    _, people, past = population(n)
    rules = MatchRules(seed=SEED)
    times: dict[str, float] = {"n": n}

    def timed(name: str, step: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = step()
        times[name] = time.perf_counter() - start
        return result

    graph = timed("rules and similarity index", lambda: MatchGraph(people, past, rules, sim()))
    assert isinstance(graph, MatchGraph)
    timed("hub discount", lambda: graph._hubness(graph.candidates_per_person))
    found = timed("candidate search", graph.candidates)
    u, v, w = found
    times["candidate search"] -= times["hub discount"]  # candidates() computes it again
    pairer = exact_pairs if n <= rules.exact_up_to else approximate_pairs
    mate = timed("pairing", lambda: pairer(n, u, v, w))
    timed("leftovers", lambda: matching._pair_leftovers(graph, mate, rules))
    groups = [[int(x), int(mate[x])] for x in range(n) if 0 <= x < mate[x]]
    timed("explanations", lambda: graph.describe(groups))
    times["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return times


def sim() -> Similarity:
    return matching_similarity()


def quality(n: int) -> dict[str, float]:
    """Child process: matched weight against the exact optimum over all allowed pairs."""
    _, people, past = population(n)
    rules = MatchRules(seed=SEED)
    graph = MatchGraph(people, past, rules, sim())
    everyone = np.arange(n)
    weights = graph.weights_between(everyone, everyone)  # ids are 0..n-1, all eligible
    u, v, w = graph.all_pairs()
    wall = time.perf_counter()
    optimum = exact_pairs(n, u, v, w)
    full_seconds = time.perf_counter() - wall
    best = np.flatnonzero(optimum > everyone)
    result = {
        "n": n,
        "edges": len(u),
        "optimum": float(weights[best, optimum[best]].sum()),
        "optimum_seconds": full_seconds,
    }
    variants = {
        "exact": MatchRules(seed=SEED, exact_up_to=n),
        "exact20": MatchRules(seed=SEED, exact_up_to=n, exact_candidates=20),
        "large": MatchRules(seed=SEED, exact_up_to=0),
    }
    for name, rules in variants.items():
        plan = plan_round(people, past, rules, matching_similarity())
        pairs = np.array(member_pairs(plan))
        result[name] = float(weights[pairs[:, 0], pairs[:, 1]].sum()) / result["optimum"]
        result[name + "_trios"] = sum(len(g.members) == 3 for g in plan.groups)
    return result


# How people are compared in `paraphrase_round`.
COMPARED_BY: dict[str, Callable[[], Similarity]] = {
    "meaning (default: in the task space)": matching_similarity,
    "meaning, e5's own cosine": EmbeddingSimilarity,
    "words": TfidfSimilarity,
}


def paraphrase_round(n: int, by: str, split: str) -> dict[str, float | str]:
    """Child process: a round of people who word the same tasks differently (tasks of the
    paraphrase pool's `split`). Whoever wrote a task word for word like someone else "met"
    them last round, so a partner with the same task is one who wrote it in other words."""
    synthetic = with_vectors(paraphrased(n, filler=0.5, split=split))
    people = [s.person for s in synthetic]
    writers: dict[str, list[int]] = {}
    for person in people:
        for phrase in set(person.phrases) - ABOUT_ME:
            writers.setdefault(phrase, []).append(person.id)
    met = {(a, b) for ids in writers.values() for i, a in enumerate(ids) for b in ids[i + 1 :]}
    past = [PastPair(a, b, 1) for a, b in sorted(met)]
    rules = MatchRules(seed=SEED)
    wall = time.perf_counter()
    plan = plan_round(people, past, rules, COMPARED_BY[by]())
    return {
        "by": by,
        "seconds": time.perf_counter() - wall,
        "banned": 2 * len(past) / n,
        "relevant": shares_topic(synthetic, member_pairs(plan)),
        "random_relevant": shares_topic(synthetic, random_allowed_pairs(people, past, rules)),
        "explained": float(np.mean([bool(g.phrases) for g in plan.groups])),
    }


def cells(n: int) -> dict[str, float]:
    """Child process: the cell search against the exact search over everyone, both in the
    same reduced dimensions; and the reduced dimensions against all the task space keeps, both
    searched exactly. Each plan is judged by the similarities of the exact search it is
    compared to."""
    _, people, past = population(n)
    rules = MatchRules(seed=SEED)
    variants = {
        "cells": matching_similarity(),
        "exact": matching_similarity(cell_size=n),  # one cell, still in fewer dimensions
        "full": matching_similarity(exact_up_to=n),  # one cell, all the space keeps
    }
    plans, result = {}, {"n": float(n)}
    for name, similarity in variants.items():
        wall = time.perf_counter()
        plans[name] = plan_round(people, past, rules, similarity)
        result[name + "_seconds"] = time.perf_counter() - wall
    for judge, names in (("exact", ("cells", "exact")), ("full", ("exact", "full"))):
        graph = MatchGraph(people, past, rules, variants[judge])
        for name in names:
            groups = [list(g.members) for g in plans[name].groups]  # ids are positions
            result[f"{name}_by_{judge}"] = float(graph.describe(groups).weight.sum())
    return result


# --- comparing by meaning -----------------------------------------------------------------


ABOUT_ME = {p for sentence in FILLER for p in split_tasks(sentence)}


def copied(mine: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    """Whether two people wrote a task phrase word for word alike."""
    return bool((set(mine) & set(theirs)) - ABOUT_ME)


class Neighbourhoods:
    """Precision@5 of person similarities: the five best other-department partners of a
    sample of people, and how many share a hidden task. Scores come from per-phrase vectors
    through a table of the distinct phrases, so even the costly variants stay affordable."""

    def __init__(self, synthetic: list[Synthetic], queries: int, paraphrases_only: bool) -> None:
        people = [s.person for s in synthetic]
        self.truth = [s.truth for s in synthetic]
        self.n = len(people)
        self.department = np.unique([p.department for p in people], return_inverse=True)[1]
        phrases = [split_tasks(p.tasks, p.topics) for p in people]
        distinct = sorted({x for ps in phrases for x in ps})
        position = {x: i for i, x in enumerate(distinct)}
        vectors = phrase_vectors(distinct)
        table = np.stack([vectors[x] for x in distinct])
        self.cosine = table @ table.T
        self.ids = [np.array([position[x] for x in ps]) for ps in phrases]
        self.flat = np.concatenate(self.ids)
        lengths = np.array([len(i) for i in self.ids])
        self.starts = np.r_[0, np.cumsum(lengths)[:-1]]
        self.lengths = lengths
        rng = np.random.default_rng(0)
        means = np.stack([table[i].mean(axis=0) for i in self.ids])
        self.means = means / np.linalg.norm(means, axis=1, keepdims=True)
        space = shipped_task_space()
        spaced = space(means.astype(np.float32))
        self.spaced = spaced / np.linalg.norm(spaced, axis=1, keepdims=True)
        units = self.spaced.astype(np.float32)
        sample = units[rng.choice(self.n, min(self.n, 4000), replace=False)]
        dimensions = EmbeddingSimilarity().dimensions
        assert dimensions is not None
        # As a round above the exact size compares them: projected only where the space keeps
        # more dimensions than that.
        self.projected = (
            Projection.fit(units.sum(axis=0), sample, dimensions)(units)
            if space.dimensions > dimensions
            else units
        )
        self.words = TfidfSimilarity().index([Document(p.tasks, p.topics) for p in people])
        self.queries = rng.choice(self.n, queries, replace=False)
        # With paraphrases only: nobody counts who wrote one of the query's tasks word for word.
        self.copies = {
            int(q): np.array(
                [j for j in range(self.n) if paraphrases_only and copied(phrases[q], phrases[j])],
                dtype=np.int64,
            )
            for q in self.queries
        }
        self.scores = [self._scores(int(q)) for q in self.queries]
        every = np.concatenate([s["space"] for s in self.scores])
        self.floor = float(np.median(every))

    def _scores(self, q: int) -> dict[str, np.ndarray]:
        block = self.cosine[self.ids[q]][:, self.flat]
        ours = np.maximum.reduceat(block, self.starts, axis=1)
        theirs = np.add.reduceat(block.max(axis=0), self.starts) / self.lengths
        return {
            "words": self.words.similarity_between(np.array([q]), np.arange(self.n))[0],
            "mean": self.means @ self.means[q],
            "space": self.spaced @ self.spaced[q],
            "projected": self.projected @ self.projected[q],
            "best match": 0.5 * (ours.mean(axis=0) + theirs),
        }

    def precision(self, score: Callable[[dict[str, np.ndarray]], np.ndarray]) -> float:
        hits = []
        for q, scores in zip(self.queries, self.scores, strict=True):
            s = np.array(score(scores), dtype=np.float64)
            s[self.department == self.department[q]] = -np.inf
            s[self.copies[int(q)]] = -np.inf
            top = np.argpartition(-s, 5)[:5]
            hits += [bool(self.truth[q] & self.truth[j]) for j in top]
        return float(np.mean(hits))

    def rescaled(self, scores: dict[str, np.ndarray], name: str) -> np.ndarray:
        floor = float(np.median(np.concatenate([s[name] for s in self.scores])))
        return np.clip((scores[name] - floor) / (1 - floor), 0, 1)


def mixed(share: float, h: Neighbourhoods, s: dict[str, np.ndarray]) -> np.ndarray:
    """Meaning with a `share` of the word similarity mixed in."""
    return (1 - share) * h.rescaled(s, "space") + share * s["words"]


def meaning(n: int) -> dict[str, object]:
    """Child process: the measurements behind EmbeddingSimilarity's choices."""
    populations = {
        "synthetic profiles": Neighbourhoods(with_vectors(generate(n, SEED)), 1000, False),
        "paraphrased, dev tasks": Neighbourhoods(
            with_vectors(paraphrased(n, 0.5, "dev")), 500, True
        ),
        "paraphrased, holdout tasks": Neighbourhoods(
            with_vectors(paraphrased(n, 0.5, "holdout")), 500, True
        ),
    }
    variants: dict[str, Callable[[Neighbourhoods, dict[str, np.ndarray]], np.ndarray]] = {
        "words (TF-IDF)": lambda h, s: s["words"],
        "meaning: mean phrase vector in the task space (default)": lambda h, s: s["space"],
        "meaning: the same as above the exact size (at most 128 dimensions)": lambda h, s: s[
            "projected"
        ],
        "meaning: mean phrase vector, e5's own cosine": lambda h, s: s["mean"],
        "meaning: symmetric best phrase match": lambda h, s: s["best match"],
    }
    for share in (0.1, 0.3):
        variants[f"meaning + {share} words"] = partial(mixed, share)
    table = {
        name: {label: h.precision(partial(f, h)) for label, h in populations.items()}
        for name, f in variants.items()
    }
    floors = {label: h.floor for label, h in populations.items()}
    return {"n": n, "precision": table, "floor": floors, **phrases_and_topics()}


def phrases_and_topics() -> dict[str, object]:
    """Phrases of one task against phrases of different tasks (the paraphrase pool, dev), the
    closest-phrase explanation on dev and holdout, and which topic names `group_topics` puts
    together at which threshold."""
    from bench.semantic import load_topics

    topics = [t for t in load_topics(PARAPHRASE_POOL) if t.split == "dev"]
    items = [(t.name, p) for t in topics for p in t.phrases]
    vectors = phrase_vectors(p for _, p in items)
    matrix = np.stack([vectors[p] for _, p in items])
    groups = np.array([g for g, _ in items])
    upper = np.triu_indices(len(items), 1)
    same = (groups[:, None] == groups[None, :])[upper]
    values = (matrix @ matrix.T)[upper]
    return {
        "same_task": np.percentile(values[same], [10, 50]).tolist(),
        "other_task": np.percentile(values[~same], [50, 90, 99]).tolist(),
        "same_task_threshold": SAME_TASK,
        "same_topic_threshold": SAME_TOPIC,
        "explained": {split: explained_people(split) for split in ("dev", "holdout")},
        "reasons": reasons(),
        "topics": topic_groups(),
    }


def reasons() -> dict[str, float]:
    """How often the closest phrases of two synthetic people who share a hidden topic are
    both about that topic: closeness less genericness (the default), and plain closeness."""
    topic_of: dict[str, str] = {}
    for key, (_, label, phrases) in TOPICS.items():
        sentences = [label]
        for phrase in phrases:
            nominative, _, dative = phrase.partition("|")
            if phrase.startswith("!"):
                sentences.append(phrase[1:])
                continue
            sentences += [frame.format(nominative) for frame in NOMINATIVE]
            sentences += [frame.format(dative or nominative) for frame in DATIVE]
        for sentence in sentences:
            topic_of.update((p.casefold(), key) for p in split_tasks(sentence))
    synthetic = with_vectors(generate(10000, SEED))
    documents = [
        Document(s.person.tasks, s.person.topics, s.person.phrases, s.person.vectors)
        for s in synthetic
    ]
    every = np.concatenate([d.vectors for d in documents if d.vectors is not None])
    rng = np.random.default_rng(0)
    pairs: list[list[int]] = []
    while len(pairs) < 3000:
        a, b = (int(x) for x in rng.integers(0, len(synthetic), 2))
        if a != b and synthetic[a].truth & synthetic[b].truth:
            pairs.append([a, b])
    found = {}
    for name, centre in (
        ("less genericness", every.mean(axis=0)),
        ("closest", np.zeros(every.shape[1], np.float32)),
    ):
        hits = 0
        for (a, b), phrases in zip(pairs, closest_phrases(documents, pairs, centre), strict=True):
            topics = {topic_of.get(p.casefold()) for p in phrases}
            hits += (
                len(phrases) == 2
                and len(topics) == 1
                and topics <= synthetic[a].truth & synthetic[b].truth
            )
        found[name] = hits / len(pairs)
    return found


def explained_people(split: str) -> dict[str, float]:
    """Of pairs of paraphrased people, how many have closest phrases at SAME_TASK or more:
    sharing a task in other words, against sharing none."""
    synthetic = paraphrased(3000, 0.5, split)
    phrases = [split_tasks(s.person.tasks) for s in synthetic]
    vectors = phrase_vectors(p for ps in phrases for p in ps)
    stacked = [np.stack([vectors[p] for p in ps]) for ps in phrases]
    rng = np.random.default_rng(0)
    related: list[float] = []
    unrelated: list[float] = []
    while len(related) < 3000 or len(unrelated) < 3000:
        a, b = (int(x) for x in rng.integers(0, len(synthetic), 2))
        if a == b or copied(phrases[a], phrases[b]):
            continue
        closest = float((stacked[a] @ stacked[b].T).max())
        (related if synthetic[a].truth & synthetic[b].truth else unrelated).append(closest)
    return {
        "related": float(np.mean(np.array(related[:3000]) >= SAME_TASK)),
        "unrelated": float(np.mean(np.array(unrelated[:3000]) >= SAME_TASK)),
    }


def topic_groups() -> list[dict[str, float]]:
    items = [(g, t) for g, names in enumerate(TOPIC_NAMES) for t in names]
    vectors = phrase_vectors(t for _, t in items)
    groups = {t: g for g, t in items}
    upper = np.triu_indices(len(items), 1)
    same = np.array([g for g, _ in items])
    same_pairs = (same[:, None] == same[None, :])[upper]
    rows = []
    rng = np.random.default_rng(0)
    for threshold in (0.89, 0.90, 0.91, 0.92, 0.93, 0.94):
        precision, recall, mixed = [], [], []
        for _ in range(5):  # the result depends on the order topics come in
            order = [items[i][1] for i in rng.permutation(len(items))]
            leader = group_topics(order, vectors, threshold)
            label = np.array([leader[t] for _, t in items])
            together = (label[:, None] == label[None, :])[upper]
            hits = (together & same_pairs).sum()
            precision.append(hits / max(together.sum(), 1))
            recall.append(hits / same_pairs.sum())
            mixed.append(
                sum(
                    len({groups[t] for t in order if leader[t] == lead}) > 1
                    for lead in set(leader.values())
                )
            )
        rows.append(
            {
                "threshold": threshold,
                "precision": float(np.mean(precision)),
                "recall": float(np.mean(recall)),
                "mixed": float(np.mean(mixed)),
                "groups": len(TOPIC_NAMES),
            }
        )
    return rows


# --- word variants (the fallback) ----------------------------------------------------------

VARIANTS = {
    "stems only": TfidfSimilarity(compounds=False),
    "stems + compound parts (default)": TfidfSimilarity(),
    "stems + char 4-grams": TfidfSimilarity(compounds=False, char_ngrams=4),
    "stems + parts + char 4-grams": TfidfSimilarity(char_ngrams=4),
}


def variant(name: str, n: int) -> dict[str, float | str]:
    """Child process: one word-similarity variant, precision@5 of its neighbour lists."""
    synthetic = generate(n, SEED)
    people = [s.person for s in synthetic]
    similarity = VARIANTS[name]
    wall = time.perf_counter()
    index = similarity.index([Document(p.tasks, p.topics) for p in people])
    built = time.perf_counter() - wall
    departments = {d: i for i, d in enumerate(sorted({p.department for p in people}))}
    apart = np.array([departments[p.department] for p in people])
    wall = time.perf_counter()
    found = index.top_k(5, None, apart)
    searched = time.perf_counter() - wall
    truth = [s.truth for s in synthetic]
    hits = [bool(truth[a] & truth[b]) for a, b in zip(found.rows, found.cols, strict=True)]
    return {
        "name": name,
        "n": n,
        "index_seconds": built,
        "search_seconds": searched,
        "precision": float(np.mean(hits)),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- running ---------------------------------------------------------------------------------


def child(kind: str, *args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed (JSON, whose
    shape depends on `kind`)."""
    command = [sys.executable, "-m", "bench.matching", "--child", kind, *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{model}, {os.cpu_count()} cores, {memory_kb / 2**20:.0f} GiB RAM, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def print_rounds(sizes: list[int]) -> None:
    print(
        "| people | wall s | CPU s | peak RSS MB | groups | trios | unmatched | by words "
        "| mean sim. | explained by phrases | pairs sharing a topic | random allowed pairing "
        "| ratio | load avg |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        r = child("round", str(n))
        print(
            f"| {n:,} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mb']:.0f} | {r['groups']:,} "
            f"| {r['trios']} | {r['unmatched']} | {r['by_words']} | {r['similarity']:.3f} "
            f"| {r['explained']:.1%} | {r['relevant']:.1%} | {r['random_relevant']:.1%} "
            f"| {r['relevant'] / r['random_relevant']:.1f}x | {r['load']:.1f} |"
        )


def print_stages(n: int) -> None:
    r = child("stages", str(n))
    steps = {k: v for k, v in r.items() if k not in ("n", "rss_mb")}
    total = sum(steps.values())
    print(f"\nWhere the time of one round goes at {n:,} people (peak RSS {r['rss_mb']:.0f} MB):\n")
    print("| step | seconds | share |\n|---|---:|---:|")
    for step, seconds in steps.items():
        print(f"| {step} | {seconds:.2f} | {seconds / total:.0%} |")


def print_quality(n: int) -> None:
    q = child("quality", str(n))
    print(
        f"\nQuality at {q['n']:,} people (all {q['edges']:,} allowed pairs: exact blossom "
        f"took {q['optimum_seconds']:.1f} s, total weight {q['optimum']:.2f}):\n"
    )
    print("| pairing | share of the optimum | trios |\n|---|---:|---:|")
    print(
        f"| blossom on the candidate graph (default up to 2,000: 40 per person) "
        f"| {q['exact']:.3%} "
        f"| {q['exact_trios']} |"
    )
    print(
        f"| blossom, 20 candidates per person instead of 40 | {q['exact20']:.3%} "
        f"| {q['exact20_trios']} |"
    )
    print(f"| auction + repair (large N), same people | {q['large']:.3%} | {q['large_trios']} |")


def print_paraphrased(n: int) -> None:
    rows = {
        (by, split): child("paraphrased", str(n), by, split)
        for split in ("dev", "holdout")
        for by in COMPARED_BY
    }
    print(
        f"\nPeople who word the same tasks differently ({n:,} per split of the paraphrase "
        "pool, half with a sentence about themselves; bench/profiles.py `paraphrased`). Pairs "
        "who wrote a task word for word alike count as met last round (banned), so the "
        "partners sharing a task are those who put it in other words. The task space was "
        "fitted on both splits' phrases (and every other pool but bench/data/paraphrase_hard3, "
        "where bench.task_space measures it): neither split is unseen.\n"
    )
    print(
        "| tasks | compared by | seconds | banned per person | pairs sharing a task "
        "| random allowed pairing | explained by phrases |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for (by, split), r in rows.items():
        print(
            f"| {split} | {by} | {r['seconds']:.2f} | {r['banned']:.0f} | {r['relevant']:.1%} "
            f"| {r['random_relevant']:.1%} | {r['explained']:.1%} |"
        )


def print_meaning(n: int) -> None:
    m = child("meaning", str(n))
    table = m["precision"]
    assert isinstance(table, dict)
    labels = list(next(iter(table.values())))
    print(f"\nPrecision@5 of person similarities ({n:,} people per population):\n")
    print("| similarity | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[label]:.1%}" for label in labels) + " |")
    floors = m["floor"]
    assert isinstance(floors, dict)
    print(
        "\nMedian cosine of random pairs (the rescaling floor): "
        + ", ".join(f"{label} {value:.3f}" for label, value in floors.items())
    )
    same, other = m["same_task"], m["other_task"]
    print(
        f"\nPhrases of the paraphrase pool (dev): cosine of one task's phrases p10/p50 "
        f"{same[0]:.3f}/{same[1]:.3f}, of different tasks p50/p90/p99 "
        f"{other[0]:.3f}/{other[1]:.3f}/{other[2]:.3f}."
    )
    explained = m["explained"]
    assert isinstance(explained, dict)
    for split, shares in explained.items():
        print(
            f"Closest phrases at {m['same_task_threshold']} or more ({split} tasks): "
            f"{shares['related']:.1%} of people sharing a task in other words, "
            f"{shares['unrelated']:.1%} of people sharing none."
        )
    shares = m["reasons"]
    assert isinstance(shares, dict)
    print(
        "Closest phrases of synthetic people sharing a hidden topic, both about it: "
        + ", ".join(f"{name} {share:.1%}" for name, share in shares.items())
        + "."
    )
    print(
        f"\nTopic names put together (bench/profiles.py TOPIC_NAMES; default "
        f"{m['same_topic_threshold']}):\n"
    )
    print("| threshold | pairs together of one group | synonym pairs found | mixed groups |")
    print("|---:|---:|---:|---:|")
    for row in m["topics"]:
        print(
            f"| {row['threshold']:.2f} | {row['precision']:.1%} | {row['recall']:.1%} "
            f"| {row['mixed']:.1f} of {row['groups']} |"
        )


def print_cells(n: int) -> None:
    r = child("cells", str(n))
    share = r["cells_by_exact"] / r["exact_by_exact"]
    kept = shipped_task_space().dimensions
    compared = min(kept, EmbeddingSimilarity().dimensions or kept)
    print(
        f"\nCell search at {n:,} people: matched weight {share:.2%} "
        f"of the exact search's in the same {compared} dimensions "
        f"(the round took {r['cells_seconds']:.1f} s instead of {r['exact_seconds']:.1f} s). "
        f"The fewer dimensions themselves, both searched exactly and judged in all {kept} of "
        f"the task space: {r['exact_by_full'] / r['full_by_full']:.2%} "
        f"({r['full_seconds']:.1f} s in {kept})."
    )


def print_variants(n: int) -> None:
    print(f"\nWord similarity variants at {n:,} people (top-5 other-department neighbours):\n")
    print("| features | index s | search s | precision@5 | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name in VARIANTS:
        v = child("variant", name, str(n))
        print(
            f"| {name} | {v['index_seconds']:.2f} | {v['search_seconds']:.2f} "
            f"| {v['precision']:.1%} | {v['rss_mb']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--quality", type=int, default=1000)
    parser.add_argument("--stages", type=int, default=0, help="size for the time breakdown")
    parser.add_argument("--paraphrased", type=int, default=0, help="0 to skip")
    parser.add_argument("--meaning", type=int, default=0, help="0 to skip")
    parser.add_argument("--shards", type=int, default=0, help="size for the cell check")
    parser.add_argument("--variants", type=int, default=0, help="0 to skip")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        jobs: dict[str, Callable[[], object]] = {
            "round": lambda: one_round(int(rest[0])),
            "stages": lambda: stages(int(rest[0])),
            "quality": lambda: quality(int(rest[0])),
            "paraphrased": lambda: paraphrase_round(int(rest[0]), rest[1], rest[2]),
            "meaning": lambda: meaning(int(rest[0])),
            "cells": lambda: cells(int(rest[0])),
            "variant": lambda: variant(rest[0], int(rest[1])),
        }
        print(json.dumps(jobs[kind]()))
        return

    print(f"Machine: {machine()}\n")
    print_rounds([int(s) for s in args.sizes.split(",") if s])
    if args.stages:
        print_stages(args.stages)
    if args.quality:
        print_quality(args.quality)
    if args.paraphrased:
        print_paraphrased(args.paraphrased)
    if args.meaning:
        print_meaning(args.meaning)
    if args.shards:
        print_cells(args.shards)
    if args.variants:
        print_variants(args.variants)


if __name__ == "__main__":
    main()
