"""The space people are compared in: fitted so that wordings of one task come together."""

from __future__ import annotations

import numpy as np

from bot.domain.semantic.task_space import DIRECTIONS, TaskSpace
from bot.services.encoder import DIMENSIONS, MODEL_ID
from bot.services.task_space import shipped_task_space


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_fitting_shrinks_how_wordings_differ_and_keeps_how_tasks_differ() -> None:
    """Three tasks, each worded in three styles; the styles spread phrases further than the
    tasks do, so by plain cosine a phrase's nearest neighbour shares its style."""
    rng = np.random.default_rng(3)
    tasks, styles = rng.standard_normal((3, 8)), 3 * rng.standard_normal((3, 8))
    rows = [(t, s) for t in range(3) for s in range(3)]
    x = np.array([tasks[t] + styles[s] + 0.05 * rng.standard_normal(8) for t, s in rows])
    labels = [f"task {t}" for t, _ in rows]
    space = TaskSpace.fit("test", x.astype(np.float32), labels)

    def nearest_shares_the_task(vectors: np.ndarray) -> float:
        cosines = unit_rows(vectors) @ unit_rows(vectors).T
        np.fill_diagonal(cosines, -np.inf)
        nearest = cosines.argmax(axis=1)
        return float(np.mean([rows[i][0] == rows[j][0] for i, j in enumerate(nearest)]))

    assert nearest_shares_the_task(x) < 0.5
    assert nearest_shares_the_task(space(x.astype(np.float32))) == 1.0


def test_the_shipped_space_belongs_to_the_bundled_model() -> None:
    """Vectors of another model in this space would be compared along the wrong directions."""
    space = shipped_task_space()
    assert space.model == MODEL_ID
    assert space.matrix.shape == (DIMENSIONS, DIRECTIONS)
    assert space.mean.shape == (DIMENSIONS,)


def test_keeping_the_directions_tasks_spread_in_finds_unseen_tasks_more_often() -> None:
    """Tasks that differ in 8 of 32 directions, each worded four times with noise in all 32:
    fitted on 200 tasks, phrases of 20 other tasks find a wording of their own task first
    more often when only the 8 directions in which the tasks' means spread are kept; the
    other 24 carry nothing but noise."""
    rng = np.random.default_rng(0)

    def tasks(n: int) -> tuple[np.ndarray, np.ndarray]:
        centres = np.zeros((n, 32))
        centres[:, :8] = 1.5 * rng.standard_normal((n, 8))
        phrases = np.repeat(centres, 4, axis=0) + rng.standard_normal((4 * n, 32))
        return phrases.astype(np.float32), np.repeat([f"task {i}" for i in range(n)], 4)

    fitted, fitted_tasks = tasks(200)
    unseen, unseen_tasks = tasks(20)

    def nearest_shares_the_task(space: TaskSpace) -> float:
        vectors = unit_rows(space(unseen))
        cosines = vectors @ vectors.T
        np.fill_diagonal(cosines, -np.inf)
        return float(np.mean(unseen_tasks[cosines.argmax(axis=1)] == unseen_tasks))

    kept = TaskSpace.fit("test", fitted, fitted_tasks, directions=8)
    everything = TaskSpace.fit("test", fitted, fitted_tasks, directions=None)
    assert kept.dimensions == 8 and everything.dimensions == 32
    assert nearest_shares_the_task(kept) >= nearest_shares_the_task(everything) + 0.1
