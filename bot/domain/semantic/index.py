"""Similarity by meaning: the embedding model's phrase vectors, on the 0..1 scale of the rules.

A person is the mean of their phrase vectors, taken into the task space (`task_space`: the
directions in which wordings of one task differ shrunk) and made unit length: one float32
matrix product per block of people finds everyone's partners. Precision@5 (bench/matching.py
--meaning, 3,000 people) on people who word holdout tasks of the paraphrase pool differently:
51% in the space, 44% with e5's own cosine, 48% for the symmetric mean of best phrase matches
(one product per pair of phrase lists), 10% by words; on synthetic profiles, which reuse a
small pool of phrases, 76% / 77% / 69% / 81%. Adding a share of word similarity (0.1, 0.3)
gains 1-3 points on the synthetic profiles and loses 2-5 on the paraphrases: words stand in
only where vectors are missing.

The matching rules (bonuses, noise, "a positive similarity") expect unrelated ~ 0, and how
high "unrelated" sits depends on how people write: in the task space the median cosine of
random pairs is 0.05-0.06 for task lists in people's own words and 0.30 for the sentence
frames of the synthetic profiles (with e5's own cosine 0.92 and 0.95). So cosines are
rescaled to clip((cos - floor) / (1 - floor), 0, 1) with the floor the median cosine of
random pairs of the people being compared.

Documents without vectors (not encoded yet) are compared by words (`TfidfSimilarity`), with
everyone; if too many lack vectors, the whole index compares words.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bot.domain.neighbours import EdgeWeigher, Floats, Ints, Neighbours
from bot.domain.semantic.closest import closest_phrases
from bot.domain.semantic.search import (
    Cells,
    Product,
    Search,
    Vectors,
    cells,
    dense_top_k,
    one_cell,
)
from bot.domain.semantic.task_space import FLOOR as SPACE_FLOOR
from bot.domain.semantic.task_space import TaskSpace
from bot.domain.similarity import Document, SimilarityIndex
from bot.domain.tfidf import TfidfSimilarity

# Below this many people with vectors the median of their pairs says little. Instead: the
# median cosine of phrases about different tasks: SPACE_FLOOR in the task space, this in e5's
# own (0.819 on the dev tasks of the paraphrase pool, bench/data/paraphrase). People with
# several phrases sit higher (their mean vectors are closer to everyone's), so this floor
# clips nothing related, at the price of unrelated > 0.
DEFAULT_FLOOR = 0.82
_FLOOR_MIN_PEOPLE = 30
_FLOOR_PAIRS = 5_000
_PAIR_CHUNK = 100_000
_PROJECTION_SAMPLE = 4000
_PEOPLE_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class EmbeddingSimilarity:
    """Meaning where vectors exist, words (`lexical`) where they do not.

    `space`: where person vectors are compared (None: e5's own cosine; the weekly matching
    uses the shipped one, bot.services.task_space.matching_similarity).
    `floor`: fixed instead of measured per index. Candidate search: exact up to `exact_up_to`
    people with vectors, else within the `probes` nearest of k-means cells of ~`cell_size`.
    More than `max_without_vectors` people without vectors and more than `words_share` of all:
    everyone is compared by words (their lexical search costs each of them a pass over all).
    """

    lexical: TfidfSimilarity = field(default_factory=TfidfSimilarity)
    space: TaskSpace | None = None
    floor: float | None = None
    exact_up_to: int = 4000
    cell_size: int = 600
    probes: int = 3
    # Pairs per person and cell that the rules weigh, as a multiple of the k asked for (None:
    # every pair within the bonus of the k-th best, which is exact but weighs hundreds).
    reach: float | None = 2.0
    # Above `exact_up_to` people, person vectors are compared in this many dimensions: the mean
    # direction and the main directions around it (None, or no fewer than the space keeps:
    # all of them).
    dimensions: int | None = 128
    max_without_vectors: int = 2000
    words_share: float = 0.1
    seed: int = 0

    def index(self, documents: Sequence[Document]) -> SimilarityIndex:
        plain = sum(not _has_vectors(d) for d in documents)
        if plain == len(documents) or (
            plain > self.max_without_vectors and plain > self.words_share * len(documents)
        ):
            return self.lexical.index(documents)
        return EmbeddingIndex(documents, self)


def _normalise(x: Vectors) -> Vectors:
    """Rows to unit length, in place (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    x /= np.maximum(norms, 1e-12)[:, None]
    return x


def _has_vectors(document: Document) -> bool:
    return document.vectors is not None and len(document.vectors) > 0


@dataclass(frozen=True, slots=True)
class Projection:
    """Unit vectors in fewer dimensions: their component along the mean, and the main
    directions of what is left (principal components of a seeded sample).

    The candidate search is matrix products over these vectors: 128 instead of 384 dimensions
    cut its work to a third. Precision@5 (bench/matching.py --meaning): -1.2 points on the
    synthetic profiles, +1.2 and +1.9 on people who word the same tasks differently.
    """

    mean: Vectors
    axes: Vectors  # (dimensions - 1) x original dimensions

    @classmethod
    def fit(cls, mean: Vectors, sample: Vectors, dimensions: int) -> Projection:
        """For unit vectors with this mean, from a sample of them."""
        mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
        rest = (sample - np.outer(sample @ mean, mean)).astype(np.float64)
        # Eigenvectors of the (small, dimensions x dimensions) scatter matrix, largest first.
        _, vectors = np.linalg.eigh(rest.T @ rest)
        axes = vectors[:, ::-1][:, : dimensions - 1].T
        return cls(mean.astype(np.float32), axes.astype(np.float32))

    def __call__(self, x: Vectors) -> Vectors:
        out = np.empty((len(x), self.axes.shape[0] + 1), dtype=np.float32)
        for start in range(0, len(x), _PEOPLE_CHUNK):
            part = x[start : start + _PEOPLE_CHUNK]
            along = part @ self.mean
            out[start : start + len(part), 0] = along
            # The axes are orthogonal to the mean: no need to take the mean out first.
            out[start : start + len(part), 1:] = part @ self.axes.T
        return _normalise(out)


def _person_vectors(
    documents: Sequence[Document], rows: Ints, space: TaskSpace | None
) -> tuple[Vectors, NDArray[np.float64], int]:
    """The mean phrase vector of each of these documents, in `space` and of unit length; the
    sum (of the phrase vectors as encoded) and number of their phrases."""
    first = documents[int(rows[0])].vectors
    assert first is not None
    out = np.empty((len(rows), first.shape[1]), dtype=np.float32)
    counts = np.empty(len(rows), dtype=np.float32)
    for j, i in enumerate(rows.tolist()):
        vectors = documents[i].vectors
        assert vectors is not None
        out[j] = vectors.sum(axis=0)
        counts[j] = len(vectors)
    phrase_sum = out.sum(axis=0, dtype=np.float64)  # the rows are still phrase sums here
    return _normalise(_in_space(out / counts[:, None], space)), phrase_sum, int(counts.sum())


def _person_dimensions(documents: Sequence[Document], rows: Ints, space: TaskSpace | None) -> int:
    """How many numbers a person vector has: as many as the space keeps, else as encoded."""
    if space is not None:
        return space.dimensions
    vectors = documents[int(rows[0])].vectors
    assert vectors is not None
    return int(vectors.shape[1])


def _projection_reduces(
    documents: Sequence[Document], rows: Ints, settings: EmbeddingSimilarity
) -> bool:
    """Whether `settings.dimensions` are fewer than person vectors have (a task space may
    already keep fewer)."""
    return settings.dimensions is not None and settings.dimensions < _person_dimensions(
        documents, rows, settings.space
    )


def _in_space(means: Vectors, space: TaskSpace | None) -> Vectors:
    return means if space is None else space(means)


def _in_chunks(
    documents: Sequence[Document], rows: Ints, space: TaskSpace | None
) -> Iterator[tuple[Ints, Vectors, NDArray[np.float64], int]]:
    """`_person_vectors` of `_PEOPLE_CHUNK` people at a time, each with its rows: the phrase
    means of 50,000 people in all 384 dimensions would be a temporary 77 MB, several times
    over."""
    for start in range(0, len(rows), _PEOPLE_CHUNK):
        chunk = rows[start : start + _PEOPLE_CHUNK]
        yield (chunk, *_person_vectors(documents, chunk, space))


def _mean_phrase(sums: Sequence[NDArray[np.float64]], phrases: int) -> NDArray[np.float32]:
    return (np.sum(sums, axis=0) / max(phrases, 1)).astype(np.float32)


def _projected(
    documents: Sequence[Document], rows: Ints, settings: EmbeddingSimilarity
) -> tuple[Vectors, Projection, NDArray[np.float32]]:
    """Person vectors in `settings.dimensions`, without ever holding them all in full: one
    pass for the mean and a sample to fit the projection on, one to project."""
    assert settings.dimensions is not None
    rng = np.random.default_rng(settings.seed)
    sampled = np.zeros(len(documents), dtype=bool)
    sampled[rng.choice(rows, min(len(rows), _PROJECTION_SAMPLE), replace=False)] = True
    people_sums, phrase_sums, phrases, sample = [], [], 0, []
    for chunk, people, chunk_sum, count in _in_chunks(documents, rows, settings.space):
        people_sums.append(people.sum(axis=0, dtype=np.float64))
        phrase_sums.append(chunk_sum)
        phrases += count
        sample.append(people[sampled[chunk]])
    projection = Projection.fit(
        np.sum(people_sums, axis=0).astype(np.float32), np.vstack(sample), settings.dimensions
    )
    x = np.zeros((len(documents), settings.dimensions), dtype=np.float32)
    for chunk, people, _, _ in _in_chunks(documents, rows, settings.space):
        x[chunk] = projection(people)
    return x, projection, _mean_phrase(phrase_sums, phrases)


def _in_full(
    documents: Sequence[Document], rows: Ints, settings: EmbeddingSimilarity
) -> tuple[Vectors, NDArray[np.float32]]:
    """Person vectors as they are in the space (zero rows for documents without vectors) and
    the mean phrase vector."""
    x = np.zeros((len(documents), _person_dimensions(documents, rows, settings.space)), np.float32)
    phrase_sums, phrases = [], 0
    for chunk, people, chunk_sum, count in _in_chunks(documents, rows, settings.space):
        x[chunk] = people
        phrase_sums.append(chunk_sum)
        phrases += count
    return x, _mean_phrase(phrase_sums, phrases)


class EmbeddingIndex:
    def __init__(self, documents: Sequence[Document], settings: EmbeddingSimilarity) -> None:
        self._documents = list(documents)
        self._settings = settings
        self._n = len(documents)
        self._has = np.array([_has_vectors(d) for d in documents], dtype=bool)
        self._vectored = np.flatnonzero(self._has)
        self._plain = np.flatnonzero(~self._has)
        self._projection: Projection | None = None
        if len(self._vectored) > settings.exact_up_to and _projection_reduces(
            documents, self._vectored, settings
        ):
            self._x, self._projection, self._phrase_centre = _projected(
                self._documents, self._vectored, settings
            )
        else:
            self._x, self._phrase_centre = _in_full(self._documents, self._vectored, settings)
        self.floor = settings.floor if settings.floor is not None else self._measure_floor()
        self._scale = np.float32(1.0 / (1.0 - self.floor))
        self._lexical: SimilarityIndex | None = None

    @property
    def without_vectors(self) -> int:
        """How many documents are compared by words only."""
        return len(self._plain)

    def vectored(self, members: Sequence[int]) -> bool:
        """Whether all these documents have vectors."""
        return bool(self._has[list(members)].all())

    @property
    def lexical(self) -> SimilarityIndex:
        """Word similarity over all documents, built when first needed."""
        if self._lexical is None:
            self._lexical = self._settings.lexical.index(self._documents)
        return self._lexical

    def _measure_floor(self) -> float:
        """Median cosine of seeded random pairs of people with vectors."""
        people = self._vectored
        if len(people) < _FLOOR_MIN_PEOPLE:
            return DEFAULT_FLOOR if self._settings.space is None else SPACE_FLOOR
        rng = np.random.default_rng(self._settings.seed)
        a = rng.choice(people, _FLOOR_PAIRS)
        b = rng.choice(people, _FLOOR_PAIRS)
        distinct = a != b
        cosines = np.einsum("ij,ij->i", self._x[a[distinct]], self._x[b[distinct]])
        return float(np.median(cosines))

    def _rescale(self, cosines: Vectors) -> Vectors:
        cosines -= np.float32(self.floor)
        cosines *= self._scale
        return np.clip(cosines, 0.0, 1.0, out=cosines)

    def _product(self, rows: Ints, cols: Ints) -> Vectors:
        return self._rescale(self._x[rows] @ self._x[cols].T)

    def pair_scores(self, rows: Ints, cols: Ints) -> Floats:
        out = np.empty(len(rows), dtype=np.float64)
        for start in range(0, len(rows), _PAIR_CHUNK):
            r, c = rows[start : start + _PAIR_CHUNK], cols[start : start + _PAIR_CHUNK]
            out[start : start + len(r)] = self._rescale(
                np.einsum("ij,ij->i", self._x[r], self._x[c])
            )
        words = ~(self._has[rows] & self._has[cols])
        if words.any():
            out[words] = self.lexical.pair_scores(rows[words], cols[words])
        return out

    def similarity_between(self, rows: Ints, cols: Ints) -> NDArray[np.float64]:
        out = self._product(rows, cols).astype(np.float64)
        plain_rows, plain_cols = ~self._has[rows], ~self._has[cols]
        if plain_rows.any():
            out[plain_rows] = self.lexical.similarity_between(rows[plain_rows], cols)
        if plain_cols.any():
            out[:, plain_cols] = self.lexical.similarity_between(rows, cols[plain_cols])
        return out

    def top_k(
        self,
        k: int,
        weigh: EdgeWeigher | None = None,
        apart: Ints | None = None,
        max_bonus: float = 0.0,
        discount: Floats | None = None,
    ) -> Neighbours:
        """Meaning among people with vectors; words for pairs with anyone without (whose
        rows search everyone, while the others search them as one more cell)."""
        n, s = self._n, self._settings
        reach = None if s.reach is None else int(np.ceil(s.reach * k))

        def search(product: Product, found_in: Cells) -> Search:
            return Search(product, found_in, k, weigh, apart, max_bonus, discount, reach)

        grid = cells(self._x, self._vectored, s.cell_size, s.probes, s.exact_up_to, s.seed)
        searches = [search(self._product, grid)]
        if len(self._plain) == 0:
            return dense_top_k(searches, self._vectored, n)
        plain = np.full(n, -1, dtype=np.int64)
        plain[self._plain] = 0
        searches.append(search(self._lexical_product, Cells(plain, np.zeros((n, 1), np.int64))))
        by_meaning = dense_top_k(searches, self._vectored, n)
        by_words = dense_top_k([search(self._lexical_product, one_cell(n))], self._plain, n)
        merged = [
            np.concatenate([getattr(by_meaning, f), getattr(by_words, f)])
            for f in ("rows", "cols", "similarity", "weight")
        ]
        order = np.argsort(merged[0], kind="stable")
        return Neighbours(*(m[order] for m in merged))

    def _lexical_product(self, rows: Ints, cols: Ints) -> Vectors:
        return self.lexical.similarity_between(rows, cols).astype(np.float32)

    def mean_similarity(self) -> Floats:
        """Rescaled cosine with the mean person (the mean of all cosines, before clipping);
        by words for documents without vectors."""
        centre = self._x.sum(axis=0) / len(self._vectored)  # rows without vectors are zero
        out = ((self._x @ centre - self.floor) * self._scale).astype(np.float64)
        if len(self._plain):
            out[self._plain] = self.lexical.mean_similarity()[self._plain]
        return out

    def rank(self, query: Document, limit: int) -> list[tuple[int, float]]:
        if not _has_vectors(query):
            return self.lexical.rank(query, limit)
        assert query.vectors is not None
        centre = _normalise(
            _in_space(query.vectors.mean(axis=0, keepdims=True), self._settings.space)
        )
        if self._projection is not None:
            centre = self._projection(centre)
        centre = centre[0]
        scores = np.zeros(self._n, dtype=np.float64)
        scores[self._vectored] = self._rescale(self._x[self._vectored] @ centre)
        if len(self._plain):
            for i, score in self.lexical.rank(query, self._n):
                if not self._has[i]:
                    scores[i] = score
        best = np.argsort(-scores, kind="stable")[:limit]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]

    def explain(self, groups: Sequence[Sequence[int]], limit: int = 5) -> list[tuple[str, ...]]:
        """Shared words, as `TfidfSimilarity` finds them; see `closest` for meaning."""
        return self.lexical.explain(groups, limit)

    def closest(self, groups: Sequence[Sequence[int]]) -> list[tuple[str, ...]]:
        """Per group one phrase of each member (in member order), the ones closest in
        meaning; () where a member has no vectors or nothing they wrote is close."""
        return closest_phrases(self._documents, groups, self._phrase_centre)
