"""Benchmark of the weekly coffee matching: speed, memory, quality and relevance.

    .venv/bin/python bench/matching.py [--sizes 1000,10000,50000] [--variants 10000]
                                       [--shards 20000]

Every round is computed in a fresh subprocess, so its peak RSS is its own. Prints markdown
tables (docs/BENCHMARKS.md keeps the figures):

- speed: a full round (similarity index, candidate search, pairing, trios, explanations) per
  size, wall and CPU seconds, peak RSS of the process (input profiles included);
- quality at 1,000 people: total weight as a share of the exact maximum-weight matching over
  the full allowed graph, for the default pairing (blossom on the candidate graph) and for the
  large-N pairing (auction + repair) forced onto the same people;
- relevance per size: share of pairs that share a hidden generator topic, against a random
  allowed pairing (what Donut-style bots do) of the same people;
- similarity variants (--variants N): stems only, stems + compound parts (default), stems +
  character 4-grams: time and precision@5 (neighbours sharing a generator topic);
- sharding (--shards N): matched weight with the sharded candidate search against the exact
  one, at a size where the exact search is still affordable.
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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.profiles import Synthetic, generate, history
from bot.domain.match_graph import MatchGraph
from bot.domain.matching import MatchPerson, MatchRules, PastPair, plan_round
from bot.domain.pairing import exact_pairs
from bot.domain.similarity import Document, TfidfSimilarity

SEED = 1
PAST_ROUNDS = 4


def population(n: int) -> tuple[list[Synthetic], list[MatchPerson], list[PastPair]]:
    synthetic = generate(n, SEED)
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


def one_round(n: int) -> dict[str, float]:
    """Child process: one full round at size n."""
    synthetic, people, past = population(n)
    rules = MatchRules(seed=SEED)
    wall, cpu = time.perf_counter(), time.process_time()
    plan = plan_round(people, past, rules)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pairs = [(p.a, p.b) for g in plan.groups for p in g.pairs()]
    return {
        "n": n,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "groups": len(plan.groups),
        "trios": sum(len(g.members) == 3 for g in plan.groups),
        "unmatched": len(plan.unmatched),
        "similarity": float(np.mean([g.similarity for g in plan.groups])),
        "relevant": shares_topic(synthetic, pairs),
        "random_relevant": shares_topic(synthetic, random_allowed_pairs(people, past, rules)),
        "load": os.getloadavg()[0],
    }


def quality(n: int) -> dict[str, float]:
    """Child process: matched weight against the exact optimum over all allowed pairs."""
    _, people, past = population(n)
    rules = MatchRules(seed=SEED)
    graph = MatchGraph(people, past, rules, TfidfSimilarity())
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
    for name, limit in (("exact", n), ("large", 0)):
        plan = plan_round(people, past, MatchRules(seed=SEED, exact_up_to=limit))
        pairs = np.array([(p.a, p.b) for g in plan.groups for p in g.pairs()])
        result[name] = float(weights[pairs[:, 0], pairs[:, 1]].sum()) / result["optimum"]
        result[name + "_trios"] = sum(len(g.members) == 3 for g in plan.groups)
    return result


VARIANTS = {
    "stems only": TfidfSimilarity(compounds=False),
    "stems + compound parts (default)": TfidfSimilarity(),
    "stems + char 4-grams": TfidfSimilarity(compounds=False, char_ngrams=4),
    "stems + parts + char 4-grams": TfidfSimilarity(char_ngrams=4),
}


def variant(name: str, n: int) -> dict[str, float | str]:
    """Child process: one similarity variant, precision@5 of its neighbour lists."""
    synthetic, people, _ = population(n)
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


def sharding(n: int, sharded: bool) -> dict[str, float]:
    """Child process: one round with the sharded or the exact candidate search."""
    _, people, past = population(n)
    similarity = TfidfSimilarity() if sharded else TfidfSimilarity(shard_size=None)
    wall = time.perf_counter()
    plan = plan_round(people, past, MatchRules(seed=SEED), similarity)
    return {
        "n": n,
        "sharded": sharded,
        "seconds": time.perf_counter() - wall,
        "weight": sum(g.weight for g in plan.groups),
        "groups": len(plan.groups),
    }


def child(kind: str, *args: str) -> dict[str, object]:
    """Run one measurement in a fresh interpreter and return what it printed."""
    command = [sys.executable, __file__, "--child", kind, *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--quality", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=10000, help="0 to skip")
    parser.add_argument("--shards", type=int, default=0, help="size for the sharding check")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        jobs = {
            "round": lambda: one_round(int(rest[0])),
            "quality": lambda: quality(int(rest[0])),
            "variant": lambda: variant(rest[0], int(rest[1])),
            "sharding": lambda: sharding(int(rest[0]), rest[1] == "1"),
        }
        print(json.dumps(jobs[kind]()))
        return

    print(f"Machine: {machine()}\n")
    print(
        "| people | wall s | CPU s | peak RSS MB | groups | trios | unmatched | mean sim. "
        "| pairs sharing a topic | random allowed pairing | ratio | load avg |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",") if s):
        r = child("round", str(n))
        print(
            f"| {n:,} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mb']:.0f} | {r['groups']:,} "
            f"| {r['trios']} | {r['unmatched']} | {r['similarity']:.3f} | {r['relevant']:.1%} "
            f"| {r['random_relevant']:.1%} | {r['relevant'] / r['random_relevant']:.1f}x "
            f"| {r['load']:.1f} |"
        )
    if args.quality:
        q = child("quality", str(args.quality))
        print(
            f"\nQuality at {q['n']:,} people (all {q['edges']:,} allowed pairs: exact blossom "
            f"took {q['optimum_seconds']:.1f} s, total weight {q['optimum']:.2f}):\n"
        )
        print("| pairing | share of the optimum | trios |\n|---|---:|---:|")
        print(
            f"| blossom on the candidate graph (default up to 2,000) | {q['exact']:.3%} "
            f"| {q['exact_trios']} |"
        )
        print(
            f"| auction + repair (large N), same people | {q['large']:.3%} | {q['large_trios']} |"
        )
    if args.variants:
        print(
            f"\nSimilarity variants at {args.variants:,} people (top-5 other-department "
            "neighbours):\n"
        )
        print("| features | index s | search s | precision@5 | peak RSS MB |")
        print("|---|---:|---:|---:|---:|")
        for name in VARIANTS:
            v = child("variant", name, str(args.variants))
            print(
                f"| {name} | {v['index_seconds']:.2f} | {v['search_seconds']:.2f} "
                f"| {v['precision']:.1%} | {v['rss_mb']:.0f} |"
            )
    if args.shards:
        exact = child("sharding", str(args.shards), "0")
        sharded = child("sharding", str(args.shards), "1")
        print(
            f"\nSharded candidate search at {args.shards:,} people: matched weight "
            f"{sharded['weight'] / exact['weight']:.2%} of the exact search's, "
            f"the round took {sharded['seconds']:.1f} s instead of {exact['seconds']:.1f} s."
        )


if __name__ == "__main__":
    main()
