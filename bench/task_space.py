"""Fit the space people are compared in (bot.domain.semantic.task_space), write it, and
measure what it changes.

    .venv/bin/python -m bench.task_space            # choose, write, then measure
    .venv/bin/python -m bench.task_space --check    # measure the shipped space only
    .venv/bin/python -m bench.task_space --compare FOLDER   # a candidate with more data

Fitted on every paraphrase pool in bench/data but the newest blind one (`FITTED`, 674 tasks in
2,832 wordings, written before any model ran on them; their files say how): the paraphrase
pool (dev and holdout tasks), the fresh pool (new tasks, and known ones in new wordings), the
training pools (paraphrase_train, paraphrase_train_more), the natural, sources and first two hard
pools. Measured on the newest pool, which nothing was fitted or chosen on:
bench/data/paraphrase_hard3 (60 tasks in 20 groups of three that share words but are
different tasks, four free-style wordings each), among itself and with the paraphrase pool
as distractors. bench/data/paraphrase_hard4, written blind after the last change, is held
back: nothing runs it until the rule for the next change is committed (docs/BENCHMARKS.md,
"Held back"). `--compare` fits a candidate on the same data and bench/data/FOLDER and adds
a column; it writes nothing.

The first table chooses the regularisation and how many directions are kept: three folds of
tasks, each fold's phrases searched among themselves with the space fitted on the other
folds, two seeds. The last table measures the weekly matching's similarity
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

CANDIDATES = (1e-4, 3e-4, 1e-3, 3e-3)
DIRECTION_CANDIDATES = (80, 100, 120, 140, 160, 240)
FOLDS = 3
SEEDS = 2
# Pools the space is fitted on besides the paraphrase and fresh pools (folder, task label).
FITTED = (
    ("paraphrase_train", "train"),
    ("paraphrase_train_more", "more"),
    ("paraphrase_natural", "natural"),
    ("paraphrase_sources", "sources"),
    ("paraphrase_hard", "hard"),
    ("paraphrase_hard2", "hard2"),
)
# The pool nothing was fitted or chosen on.
UNSEEN = ("paraphrase_hard3", "hard3")


def precision_at_1(vectors: NDArray[np.float32], tasks: NDArray[np.str_]) -> float:
    """Share of phrases whose nearest other phrase describes the same task."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit.T
    np.fill_diagonal(cosines, -np.inf)
    return float(np.mean(tasks[cosines.argmax(axis=1)] == tasks))


Setting = tuple[float, int]  # regularisation, directions kept
SETTINGS: tuple[Setting, ...] = tuple((r, d) for r in CANDIDATES for d in DIRECTION_CANDIDATES)


def cross_validated(
    vectors: NDArray[np.float32], tasks: NDArray[np.str_]
) -> dict[Setting | None, float]:
    """Mean P@1 on left-out tasks per setting (None: without the space)."""
    out: dict[Setting | None, list[float]] = {None: [], **{s: [] for s in SETTINGS}}
    names = np.unique(tasks)
    for seed in range(SEEDS):
        for fold in np.array_split(np.random.default_rng(seed).permutation(names), FOLDS):
            test = np.isin(tasks, fold)
            out[None].append(precision_at_1(vectors[test], tasks[test]))
            for setting in SETTINGS:
                space = TaskSpace.fit(MODEL_ID, vectors[~test], tasks[~test], *setting)
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
    """P@1 of the unseen pool with e5's own cosine, the shipped space and `candidate`."""
    unseen = pool_of(*UNSEEN)
    cases = [
        ("the pool itself", unseen),
        ("the pool and the paraphrase pool", unseen + paraphrase_pool()),
    ]
    spaces = {"e5's own cosine": None, "in the task space": shipped_task_space()}
    if candidate is not None:
        spaces["candidate"] = candidate
    rows = [
        f"| {UNSEEN[0]} among | n | {' | '.join(spaces)} |",
        "|---|---|" + "---|" * len(spaces),
    ]
    for among, corpus in cases:
        shares = [people_p1(corpus, UNSEEN[1], space) for space in spaces.values()]
        cells = " | ".join(f"{share:.1%}" for share, _ in shares)
        rows.append(f"| {among} | {shares[0][1]} | {cells} |")
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


def fitting_pool() -> Pool:
    """Every pool the space is fitted on."""
    pool = paraphrase_pool() + fresh_pool()
    for folder, label in FITTED:
        pool = pool + pool_of(folder, label)
    return pool


def chosen(pool: Pool) -> tuple[TaskSpace, Setting]:
    """The space fitted on `pool` at the setting the cross-validation over its tasks prefers,
    after printing the cross-validation."""
    vectors = embed(pool.phrases, True)
    scores = cross_validated(vectors, pool.tasks)
    print(
        f"P@1 on left-out tasks ({len(np.unique(pool.tasks))} tasks, {len(pool.phrases)} "
        f"phrases; without the space {scores[None]:.3f}), by regularisation and directions:\n"
    )
    print("| regularisation | " + " | ".join(map(str, DIRECTION_CANDIDATES)) + " |")
    print("|---|" + "---|" * len(DIRECTION_CANDIDATES))
    for r in CANDIDATES:
        cells = " | ".join(f"{scores[(r, d)]:.3f}" for d in DIRECTION_CANDIDATES)
        print(f"| {r} | {cells} |")
    best = max(SETTINGS, key=lambda s: scores[s])
    return TaskSpace.fit(MODEL_ID, vectors, pool.tasks, *best), best


def compare(folder: str) -> TaskSpace:
    """A candidate space fitted on the shipped space's data and bench/data/`folder`."""
    space, best = chosen(fitting_pool() + pool_of(folder, "extra"))
    print(f"\ncandidate: + {folder}, regularisation {best[0]}, {best[1]} directions")
    return space


def choose_and_write() -> None:
    space, best = chosen(fitting_pool())
    if best != (REGULARISATION, DIRECTIONS):
        print(
            f"\nnote: the cross-validation prefers {best}; the defaults in "
            "bot/domain/semantic/task_space.py say otherwise"
        )
    save_task_space(space)
    print(f"\nwritten: {SPACE_FILE} (regularisation {best[0]}, {best[1]} directions)")


if __name__ == "__main__":
    main()
