"""Why two (or three) people were matched, in their own words: the phrases closest in meaning.

"Vergabe von Kita-Plätzen" ↔ "Betreuungsplätze in Kitas vermitteln" says more than any word
the two share (they share none). Among all phrase pairs the closest wins, less how generic the
phrases are (their similarity to the mean phrase of everyone): without that, two sentences of
the kind everybody writes ("Ich arbeite in Teilzeit") are more often the "reason". Of synthetic
people sharing a hidden topic, this found phrases both about that topic for 82%, plain
closeness for 80% (bench/matching.py --meaning).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bot.domain.similarity import Document

# Raw cosine ("query: " on both sides) from which two phrases count as the same task. Measured
# on people who describe a shared task in other words (bench/matching.py --meaning, paraphrase
# pool): the closest phrases of 88% of such pairs reach it (holdout tasks 86%), of people
# sharing no task 41-49%, so the caller also asks for a similarity above the typical pair's.
SAME_TASK = 0.85
_CHUNK = 1024


def closest_phrases(
    documents: Sequence[Document], groups: Sequence[Sequence[int]], centre: NDArray[np.float32]
) -> list[tuple[str, ...]]:
    """Per group one phrase per member, in member order: the combination closest in meaning;
    () where a member has no vectors or even the closest phrases are about different tasks."""
    found: list[tuple[str, ...]] = [() for _ in groups]
    explainable = [
        g
        for g, members in enumerate(groups)
        if all(documents[m].vectors is not None and len(documents[m].phrases) for m in members)
    ]
    pairs = [g for g in explainable if len(groups[g]) == 2]
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        firsts = [documents[groups[g][0]] for g in chunk]
        seconds = [documents[groups[g][1]] for g in chunk]
        a, generic_a = _padded(firsts, centre)
        b, generic_b = _padded(seconds, centre)
        cosines = np.einsum("gid,gjd->gij", a, b)
        ranked = cosines - 0.5 * (generic_a[:, :, None] + generic_b[:, None, :])
        best = np.argmax(ranked.reshape(len(chunk), -1), axis=1)
        i, j = np.divmod(best, b.shape[1])
        best_cosines = cosines[np.arange(len(chunk)), i, j]
        for g, first, second, x, y, cos in zip(
            chunk, firsts, seconds, i.tolist(), j.tolist(), best_cosines, strict=True
        ):
            if cos >= SAME_TASK:
                found[g] = (first.phrases[x], second.phrases[y])
    for g in explainable:
        if len(groups[g]) > 2:
            found[g] = _closest_of_many([documents[m] for m in groups[g]], centre)
    return found


def _padded(
    documents: Sequence[Document], centre: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Phrase vectors as one (documents x longest x dimensions) array, zero-padded, and each
    phrase's genericness (+inf on padding, so padding never wins)."""
    width = max(len(d.phrases) for d in documents)
    dimensions = centre.shape[0]
    vectors = np.zeros((len(documents), width, dimensions), dtype=np.float32)
    for row, document in enumerate(documents):
        assert document.vectors is not None
        vectors[row, : len(document.vectors)] = document.vectors[:width]
    generic = vectors @ centre
    lengths = np.array([len(d.phrases) for d in documents])
    generic[np.arange(width)[None, :] >= lengths[:, None]] = np.inf
    return vectors, generic


def _closest_of_many(members: Sequence[Document], centre: NDArray[np.float32]) -> tuple[str, ...]:
    """One phrase per member: the combination with the largest summed closeness of all its
    pairs; () unless every pair in it is about the same task. Trios are rare: exhaustive."""
    vectors = [np.asarray(d.vectors, dtype=np.float32)[: len(d.phrases)] for d in members]
    generic = [v @ centre for v in vectors]
    best: tuple[float, tuple[int, ...]] | None = None
    for choice in itertools.product(*(range(len(v)) for v in vectors)):
        chosen = [v[i] for v, i in zip(vectors, choice, strict=True)]
        cosines = [float(p @ q) for p, q in itertools.combinations(chosen, 2)]
        if min(cosines) < SAME_TASK:
            continue
        score = sum(cosines) - sum(float(g[i]) for g, i in zip(generic, choice, strict=True))
        if best is None or score > best[0]:
            best = (score, choice)
    if best is None:
        return ()
    return tuple(d.phrases[i] for d, i in zip(members, best[1], strict=True))
