"""Scores of meaning from embedding vectors (multilingual-e5-small), on a readable scale.

e5 puts every German administrative text close to every other: the cosine of two unrelated
task phrases is about 0.80-0.83, of a paraphrase 0.86-0.93 (measured on the examples in
docs/search.md and docs/hospitations.md). `rescaled` maps a cosine to 0..1 with a floor, so
that unrelated texts score about 0 and thresholds read like shares. Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]

# The cosine of unrelated texts (mean over unrelated pairs of the measured examples).
FLOOR = 0.82


def rescaled(cosine: float, floor: float = FLOOR) -> float:
    """0 at or below the floor, 1 for identical texts, linear in between."""
    return max(0.0, (cosine - floor) / (1.0 - floor))


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """How well one text's phrases meet a query: the raw cosine and which phrase met it."""

    cosine: float
    phrase: int  # index of the best phrase


def best_phrases(query: Vectors, texts: Sequence[Vectors]) -> list[PhraseMatch]:
    """Per text (phrase vectors, one row each) its best phrase against the query phrases.

    With several query phrases a text's score is the mean, over the query phrases, of its
    best cosine: a text that meets every part of the query beats one that meets one part
    very well. The phrase reported is the single best-fitting one of the text.
    """
    if not texts:
        return []
    sizes = np.array([len(t) for t in texts])
    present = sizes > 0
    if not present.any():
        return [PhraseMatch(-1.0, -1) for _ in texts]
    stacked = np.concatenate([np.asarray(t, dtype=np.float32) for t in texts if len(t)])
    cosines = np.asarray(query, dtype=np.float32) @ stacked.T  # (query phrases, all phrases)
    starts = np.concatenate(([0], np.cumsum(sizes[present])[:-1]))
    # Per text: the mean over the query phrases of the best cosine among its phrases ...
    scores = np.maximum.reduceat(cosines, starts, axis=1).mean(axis=0)
    # ... and its single best phrase (the first one, if two are equally good).
    best_of_phrase = cosines.max(axis=0)
    owner = np.repeat(np.arange(len(starts)), sizes[present])
    is_best = best_of_phrase == np.maximum.reduceat(best_of_phrase, starts)[owner]
    positions = np.where(is_best, np.arange(len(best_of_phrase)), len(best_of_phrase))
    best = np.minimum.reduceat(positions, starts) - starts
    found = iter(zip(scores.tolist(), best.tolist(), strict=True))
    return [PhraseMatch(*next(found)) if size else PhraseMatch(-1.0, -1) for size in sizes.tolist()]
