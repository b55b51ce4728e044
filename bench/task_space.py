"""Fit the space people are compared in (bot.domain.semantic.task_space), write it, and
measure what it changes.

    .venv/bin/python -m bench.task_space            # choose, write, then measure
    .venv/bin/python -m bench.task_space --check    # measure the shipped space only
    .venv/bin/python -m bench.task_space --compare paraphrase_train_more   # a candidate

Fitted on the dev tasks of the paraphrase pool (bench/data/paraphrase) and the training pools
(bench/data/paraphrase_train: 180 tasks, 175 distinct, written blind by three helpers), so the
pool's holdout tasks and three pools written blind by others stay unseen: the fresh pool
(bench/data/paraphrase_fresh: 50 tasks no other pool has, "new", and 25 of the pool's, "known"),
the natural pool (bench/data/paraphrase_natural: 40 tasks as colleagues would type them, in no
fixed pattern of styles) and the sources pool (bench/data/paraphrase_sources: 40 tasks, each as
an org chart entry, a chat message, profile keywords and a job posting would word it), and the
hard pool (bench/data/paraphrase_hard: 60 tasks in 20 groups of three that share words but are
different tasks, four wordings each; written blind after the sources pool) and a second one in
free style (bench/data/paraphrase_hard2: as colleagues type, in no fixed pattern of styles).
`--compare` fits a candidate on more training data (bench/data/paraphrase_train_more: 150
tasks in free style) and adds a column; it writes nothing.

The first table chooses the regularisation: three folds of dev tasks, each fold's phrases
searched among themselves with the space fitted on the other folds (with and without the
training pools), five seeds; the second line, the same way, how many directions are kept. The
last table measures the weekly matching's similarity
(bench.semantic.production_people: each phrase one person) with e5's own cosine and in the
shipped space: P@1 = the nearest other person wrote about the same task.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bench.semantic import DATA, embed, first_hit_ranks, load_folder, load_topics, production_people
from bot.domain.semantic import EmbeddingSimilarity
from bot.domain.semantic.task_space import DIRECTIONS, REGULARISATION, TaskSpace
from bot.services.encoder import MODEL_ID
from bot.services.task_space import SPACE_FILE, save_task_space, shipped_task_space

CANDIDATES = (1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2)
DIRECTION_CANDIDATES = (40, 60, 80, 100, 120, 160, 200)
FOLDS = 3
SEEDS = 5


def precision_at_1(vectors: NDArray[np.float32], tasks: NDArray[np.str_]) -> float:
    """Share of phrases whose nearest other phrase describes the same task."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit.T
    np.fill_diagonal(cosines, -np.inf)
    return float(np.mean(tasks[cosines.argmax(axis=1)] == tasks))


Setting = tuple[float, int | None]  # regularisation, directions kept
REGULARISATIONS: tuple[Setting, ...] = tuple((r, None) for r in CANDIDATES)


def cross_validated(
    vectors: NDArray[np.float32],
    tasks: NDArray[np.str_],
    extra: tuple[NDArray[np.float32], NDArray[np.str_]] | None = None,
    settings: tuple[Setting, ...] = REGULARISATIONS,
) -> dict[Setting | None, float]:
    """Mean P@1 on left-out tasks per setting (None: without the space); `extra` phrases (of
    other tasks) join every fold's fitting data and are never left out."""
    out: dict[Setting | None, list[float]] = {None: [], **{s: [] for s in settings}}
    names = np.unique(tasks)
    for seed in range(SEEDS):
        for fold in np.array_split(np.random.default_rng(seed).permutation(names), FOLDS):
            test = np.isin(tasks, fold)
            fit_x, fit_tasks = vectors[~test], tasks[~test]
            if extra is not None:
                fit_x = np.vstack([fit_x, extra[0]])
                fit_tasks = np.concatenate([fit_tasks, extra[1]])
            out[None].append(precision_at_1(vectors[test], tasks[test]))
            for setting in settings:
                space = TaskSpace.fit(MODEL_ID, fit_x, fit_tasks, *setting)
                out[setting].append(precision_at_1(space(vectors[test]), tasks[test]))
    return {s: float(np.mean(v)) for s, v in out.items()}


@dataclass(frozen=True)
class Pool:
    phrases: list[str]
    tasks: NDArray[np.str_]
    groups: NDArray[np.str_]  # dev / holdout (paraphrase pool), new / known (fresh pool)

    def __add__(self, other: Pool) -> Pool:
        return Pool(
            self.phrases + other.phrases,
            np.concatenate([self.tasks, other.tasks]),
            np.concatenate([self.groups, other.groups]),
        )

    def only(self, group: str) -> Pool:
        keep = self.groups == group
        return Pool(
            [p for p, k in zip(self.phrases, keep, strict=True) if k],
            self.tasks[keep],
            self.groups[keep],
        )


def paraphrase_pool() -> Pool:
    topics = load_topics(DATA / "paraphrase")
    return Pool(
        [p for t in topics for p in t.phrases],
        np.array([t.name for t in topics for _ in t.phrases], dtype=np.str_),
        np.array([t.split for t in topics for _ in t.phrases], dtype=np.str_),
    )


def fresh_pool() -> Pool:
    """Known tasks keep the paraphrase pool's name, so its phrases of the task count as hits."""
    entries = load_folder(DATA / "paraphrase_fresh")
    return Pool(
        [str(p) for e in entries for p in e["phrases"]],
        np.array(
            [
                e["topic"] if e["kind"] == "known" else f"fresh:{e['topic']}"
                for e in entries
                for _ in e["phrases"]
            ],
            dtype=np.str_,
        ),
        np.array([e["kind"] for e in entries for _ in e["phrases"]], dtype=np.str_),
    )


def pool_of(folder: str, label: str) -> Pool:
    """A pool of bench/data/`folder` (topics of four phrases), its tasks named `label:topic`."""
    entries = load_folder(DATA / folder)
    return Pool(
        [str(p) for e in entries for p in e["phrases"]],
        np.array([f"{label}:{e['topic']}" for e in entries for _ in e["phrases"]], dtype=np.str_),
        np.array([label for e in entries for _ in e["phrases"]], dtype=np.str_),
    )


def people_p1(pool: Pool, asking: str, space: TaskSpace | None) -> tuple[float, int]:
    """P@1 of the phrases of group `asking`, each a person among everyone in the pool."""
    scores = production_people(pool.phrases, similarity=EmbeddingSimilarity(space=space))
    np.fill_diagonal(scores, -np.inf)
    relevant = pool.tasks[:, None] == pool.tasks[None, :]
    np.fill_diagonal(relevant, False)
    asks = pool.groups == asking
    return float(np.mean(first_hit_ranks(scores[asks], relevant[asks]) == 1)), int(asks.sum())


def measured(candidate: TaskSpace | None = None) -> str:
    """P@1 of every evaluation pool with e5's own cosine, the shipped space and `candidate`."""
    pool, fresh = paraphrase_pool(), fresh_pool()
    natural, sources = (
        pool_of("paraphrase_natural", "natural"),
        pool_of("paraphrase_sources", "sources"),
    )
    hard, hard2 = pool_of("paraphrase_hard", "hard"), pool_of("paraphrase_hard2", "hard2")
    cases = [
        (
            "paraphrase pool, holdout tasks",
            "the whole pool (dev tasks: the space's data)",
            pool,
            "holdout",
        ),
        ("paraphrase pool, holdout tasks", "holdout tasks only", pool.only("holdout"), "holdout"),
        ("fresh, new tasks", "the fresh pool", fresh, "new"),
        ("fresh, known tasks", "the fresh pool", fresh, "known"),
        ("fresh, new tasks", "fresh + paraphrase pool", fresh + pool, "new"),
        ("fresh, known tasks", "fresh + paraphrase pool", fresh + pool, "known"),
        ("natural", "the natural pool", natural, "natural"),
        ("natural", "natural + fresh + paraphrase pool", natural + fresh + pool, "natural"),
        ("sources", "the sources pool", sources, "sources"),
        ("hard", "the hard pool", hard, "hard"),
        ("hard", "hard + paraphrase pool", hard + pool, "hard"),
        ("hard, free style", "the second hard pool", hard2, "hard2"),
        ("hard, free style", "second hard + paraphrase pool", hard2 + pool, "hard2"),
    ]
    spaces = {"e5's own cosine": None, "in the task space": shipped_task_space()}
    if candidate is not None:
        spaces["candidate"] = candidate
    rows = [
        f"| people asking | among | n | {' | '.join(spaces)} |",
        "|---|---|---|" + "---|" * len(spaces),
    ]
    for asking, among, corpus, group in cases:
        shares = [people_p1(corpus, group, space) for space in spaces.values()]
        cells = " | ".join(f"{share:.1%}" for share, _ in shares)
        rows.append(f"| {asking} | {among} | {shares[0][1]} | {cells} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print the table, write nothing")
    parser.add_argument(
        "--compare",
        metavar="FOLDER",
        help="also fit a candidate on the training pools and bench/data/FOLDER (written nowhere)",
    )
    args = parser.parse_args()
    if not (args.check or args.compare):
        choose_and_write()
    candidate = compare(args.compare) if args.compare else None
    print("\nThe matching's similarity, P@1 (each phrase one person):\n")
    print(measured(candidate))


def training_pool() -> Pool:
    """More tasks to fit on, none of the evaluation pools' (their files say how they were
    written)."""
    return pool_of("paraphrase_train", "train")


def compare(folder: str) -> TaskSpace:
    """A candidate space fitted on the shipped space's data and bench/data/`folder`, at the
    regularisation the cross-validation over dev tasks prefers for it."""
    dev, train = paraphrase_pool().only("dev"), training_pool() + pool_of(folder, "more")
    settings = tuple((r, DIRECTIONS) for r in CANDIDATES)
    scores = cross_validated(
        embed(dev.phrases, True), dev.tasks, (embed(train.phrases, True), train.tasks), settings
    )
    best = max(settings, key=lambda s: scores[s])
    print(f"candidate: + {folder}; P@1 on left-out dev tasks by regularisation: ", end="")
    print(", ".join(f"{s[0]}: {scores[s]:.3f}" for s in settings), f"-> {best[0]}")
    everything = dev + train
    return TaskSpace.fit(MODEL_ID, embed(everything.phrases, True), everything.tasks, *best)


def choose_and_write() -> None:
    dev = paraphrase_pool().only("dev")
    train = training_pool()
    dev_x, train_x = embed(dev.phrases, True), embed(train.phrases, True)
    print(
        f"P@1 on left-out dev tasks ({len(np.unique(dev.tasks))} dev tasks of the paraphrase "
        f"pool, {len(dev.phrases)} phrases), fitted on the other dev tasks, or on them and the "
        f"training pools ({len(np.unique(train.tasks))} tasks, {len(train.phrases)} phrases):\n"
    )
    alone = cross_validated(dev_x, dev.tasks)
    more = cross_validated(dev_x, dev.tasks, (train_x, train.tasks))
    print("| regularisation (all directions) | dev tasks | dev tasks + training pools |")
    print("|---|---|---|")
    for s, value in alone.items():
        print(f"| {'without the space' if s is None else s[0]} | {value:.3f} | {more[s]:.3f} |")
    kept = cross_validated(
        dev_x,
        dev.tasks,
        (train_x, train.tasks),
        tuple((REGULARISATION, d) for d in DIRECTION_CANDIDATES),
    )
    print(f"\nDirections kept at regularisation {REGULARISATION} (dev tasks + training pools):")
    print(", ".join(f"{s[1]}: {v:.3f}" for s, v in kept.items() if s is not None))
    everything = dev + train
    vectors = embed(everything.phrases, True)
    save_task_space(TaskSpace.fit(MODEL_ID, vectors, everything.tasks))
    print(
        f"\nwritten: {SPACE_FILE} (dev tasks + training pools, regularisation {REGULARISATION}, "
        f"{DIRECTIONS} directions)"
    )


if __name__ == "__main__":
    main()
