"""How similar two people's work is, from their German task text and their topic tags.

One sparse TF-IDF vector per document: Snowball stems of the words (plus the parts of
compounds), optionally character n-grams, and the topic tags as features of their own; the
similarity of two documents is the dot product of their unit vectors (cosine). The same index
serves the coffee matching (people vs people), the crisis routing (bridge contacts vs a request
text) and hospitations (wishes vs offers), and can be swapped for another `Similarity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.domain.neighbours import EdgeWeigher, Floats, Ints, Neighbours


@dataclass(frozen=True, slots=True)
class Document:
    """A text to compare: free text, topic tags, and (when the embedding model has encoded
    them) one unit vector per phrase (`bot.domain.phrases.split_tasks`), in that order.

    Without vectors a document is compared by its words only, so a person whose vectors are
    not computed yet still takes part.
    """

    text: str
    topics: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    vectors: NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


class SimilarityIndex(Protocol):
    def pair_scores(self, rows: Ints, cols: Ints) -> Floats:
        """Similarity of each (rows[i], cols[i])."""
        ...

    def similarity_between(self, rows: Ints, cols: Ints) -> NDArray[np.float64]:
        """Similarity of each document in `rows` with each in `cols`, a dense matrix."""
        ...

    def top_k(
        self,
        k: int,
        weigh: EdgeWeigher | None = None,
        apart: Ints | None = None,
        max_bonus: float = 0.0,
        discount: Floats | None = None,
    ) -> Neighbours:
        """Per document its k heaviest allowed partners among those with a positive similarity.

        With `apart` (a group number per document) partners come only from other groups;
        `max_bonus` bounds how much the weigher adds to a similarity; `discount` (per
        document) is subtracted from a partner's weight while ranking only.
        """
        ...

    def mean_similarity(self) -> Floats:
        """Each document's mean similarity to all documents: how much of a hub it is."""
        ...

    def rank(self, query: Document, limit: int) -> list[tuple[int, float]]:
        """The indexed documents most similar to an outside text, best first."""
        ...

    def explain(self, groups: Sequence[Sequence[int]], limit: int = 5) -> list[tuple[str, ...]]:
        """Per group what its members have in common, as readable words: shared topics first."""
        ...


class Similarity(Protocol):
    def index(self, documents: Sequence[Document]) -> SimilarityIndex: ...


__all__ = [
    "Document",
    "EdgeWeigher",
    "Neighbours",
    "Similarity",
    "SimilarityIndex",
]
