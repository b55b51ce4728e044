"""Where people are compared: e5 vectors with the directions in which wording varies shrunk.

e5 puts two descriptions of one task by different people apart along directions that have
little to do with the task: first person or official style, a list or a sentence, jargon or
plain words. Measured on task phrases grouped by task (674 tasks in 2,832 wordings: every
paraphrase pool in bench/data but the newest), the spread *within* a task is whitened:
centre on the mean phrase, then multiply by the inverse square root of the within-task
covariance (plus `REGULARISATION` times the identity, so directions no task varied in are not
blown up). Directions in which wordings of one task differ count less, those in which tasks
differ count more (within-class covariance normalisation, as in speaker verification). Of the
whitened space only the `DIRECTIONS` directions in which the tasks' own means spread most are
kept (linear discriminant analysis): in the rest tasks hardly differ, so what a phrase shares
there with a look-alike of another task is mostly wording, not work.

Pure: the matrix is fitted once, offline, by `bench/task_space.py` and shipped as
bot/data/task_space.npz, which bot.services.task_space reads. It belongs to one model (`model`
in the file); the tests check it against the encoder's model id. Figures (tasks it never saw,
bench/data/paraphrase_hard3): docs/BENCHMARKS.md, "Paraphrased tasks".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]

# Added to the within-task covariance before it is inverted, and how many directions are
# kept. Chosen together by cross-validation over the 674 tasks of every pool the space is
# fitted on (three folds of tasks left out, two seeds; bench/task_space.py): P@1 on tasks left
# out 0.436 without the space; at 3e-4 0.606 / 0.620 / 0.626 / 0.625 / 0.625 / 0.620 for 80 /
# 100 / 120 / 140 / 160 / 240 directions; at 1e-3 and 120 directions 0.608, at 1e-4 0.622.
REGULARISATION = 3e-4
DIRECTIONS = 120
# The median cosine of phrases about different tasks in the space (the unseen pool 0.009, the
# paraphrase pool 0.004; e5's own: 0.82): the floor of the index for too few people to
# measure one.
FLOOR = 0.0


@dataclass(frozen=True, slots=True)
class TaskSpace:
    """x -> (x - mean) @ matrix; compare the results by cosine."""

    model: str
    mean: Vectors
    matrix: Vectors

    def __call__(self, x: Vectors) -> Vectors:
        return np.asarray((x - self.mean) @ self.matrix, dtype=np.float32)

    @classmethod
    def fit(
        cls,
        model: str,
        vectors: Vectors,
        tasks: Sequence[str] | NDArray[np.str_],
        regularisation: float = REGULARISATION,
        directions: int | None = DIRECTIONS,
    ) -> TaskSpace:
        """From phrase vectors (one row each) and the task each phrase describes; `directions`
        None keeps them all."""
        x = np.asarray(vectors, dtype=np.float64)
        labels = np.asarray(tasks)
        names = np.unique(labels)
        means = np.array([x[labels == task].mean(axis=0) for task in names])
        within = np.zeros((x.shape[1], x.shape[1]))
        for task, mean in zip(names, means, strict=True):
            spread = x[labels == task] - mean
            within += spread.T @ spread
        within /= len(x)
        values, axes = np.linalg.eigh(within + regularisation * np.eye(x.shape[1]))
        matrix = (axes / np.sqrt(values)) @ axes.T
        if directions is not None:
            between = (means - means.mean(axis=0)) @ matrix
            spreads, main = np.linalg.eigh(between.T @ between)
            matrix = matrix @ main[:, np.argsort(spreads)[::-1][:directions]]
        return cls(model, x.mean(axis=0).astype(np.float32), matrix.astype(np.float32))

    @property
    def dimensions(self) -> int:
        """How many numbers a vector has in the space."""
        return int(self.matrix.shape[1])
