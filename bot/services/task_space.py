"""The task space shipped for the bundled model (bot.domain.semantic.task_space), and the
similarity the weekly matching compares people with."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from bot.domain.semantic import EmbeddingSimilarity
from bot.domain.semantic.task_space import TaskSpace

SPACE_FILE = Path(__file__).resolve().parent.parent / "data" / "task_space.npz"


def save_task_space(space: TaskSpace, path: Path = SPACE_FILE) -> None:
    np.savez_compressed(path, model=np.array(space.model), mean=space.mean, matrix=space.matrix)


def load_task_space(path: Path = SPACE_FILE) -> TaskSpace:
    with np.load(path, allow_pickle=False) as data:
        return TaskSpace(str(data["model"]), data["mean"], data["matrix"])


@functools.cache
def shipped_task_space() -> TaskSpace:
    """Read once per process."""
    return load_task_space()


def matching_similarity(**options: Any) -> EmbeddingSimilarity:
    """People by meaning in the shipped task space; `options` as EmbeddingSimilarity's."""
    return EmbeddingSimilarity(space=shipped_task_space(), **options)
