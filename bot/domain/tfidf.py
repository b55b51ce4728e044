"""The default similarity: TF-IDF over German word stems, compound parts and topic tags.

One sparse vector per document: folded Snowball stems of its words (plus the known parts of
its compounds), optionally character n-grams, and its topic tags as features of their own. The
similarity of two documents is the dot product of their unit vectors (cosine); topic tags get a
fixed share of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from bot.domain.german_text import GermanStemmer, compound_parts, words
from bot.domain.neighbours import EdgeWeigher, Floats, Ints, Neighbours, pair_scores, top_k
from bot.domain.similarity import Document
from bot.domain.wording import Wording


@dataclass(frozen=True, slots=True)
class TfidfSimilarity:
    """TF-IDF over folded Snowball stems, compound parts and topic tags.

    `topic_share` is the part of the cosine that comes from topic tags when both documents have
    tags. `compounds` adds the known parts of a compound ("Bauanträge" -> "bau", "antrag") at
    half weight. `char_ngrams` > 0 adds character n-grams of that length with `ngram_share`;
    bench/matching.py compares both ways of catching word variants (docs/BENCHMARKS.md).
    """

    topic_share: float = 0.35
    compounds: bool = True
    char_ngrams: int = 0
    ngram_share: float = 0.3
    # Words in more than this share of the documents (and more than `max_df_floor` of them)
    # say nothing about who fits whom, like sklearn's max_df; they would also make up most of
    # the work of finding neighbours ("Kolleginnen", "koordiniere", "Verwaltung").
    max_df: float = 0.1
    max_df_floor: int = 50
    # Above this many documents, neighbours are searched within shards of similar documents
    # of at most this size: exact search costs ~n^2, sharded ~n * shard_size. None: exact.
    shard_size: int | None = 15_000
    seed: int = 0

    def index(self, documents: Sequence[Document]) -> TfidfIndex:
        return TfidfIndex(documents, self)


class _TermVocabulary:
    """Maps word forms to feature columns; grows while fitting, fixed afterwards."""

    def __init__(self, settings: TfidfSimilarity) -> None:
        self.settings = settings
        self.stem = GermanStemmer()
        self.stems: dict[str, int] = {}
        self.ngrams: dict[str, int] = {}
        self.tags: dict[str, int] = {}
        self.known: frozenset[str] = frozenset()

    def tag_key(self, topic: str) -> str:
        return " ".join(self.stem(w) for w in words(topic))

    def word_features(self, form: str, grow: bool) -> list[tuple[int, float]]:
        own = self.stem(form)
        if grow:
            self.stems.setdefault(own, len(self.stems))
        found = [(self.stems[own], 1.0)] if own in self.stems else []
        if self.settings.compounds and self.known:
            parts = compound_parts(form, self.stem, self.known)
            if parts:
                found += [(self.stems[p], 0.5) for p in set(parts) if p != own]
        return found

    def ngram_features(self, form: str, grow: bool) -> list[tuple[int, float]]:
        n = self.settings.char_ngrams
        padded = f"<{form.lower()}>"
        found = []
        for gram in (padded[i : i + n] for i in range(len(padded) - n + 1)):
            if grow:
                self.ngrams.setdefault(gram, len(self.ngrams))
            if gram in self.ngrams:
                found.append((self.ngrams[gram], 1.0))
        return found


@dataclass(slots=True)
class _Counts:
    """Raw feature counts of some documents, one matrix per feature block."""

    forms: dict[str, int]
    per_form: sp.csr_matrix  # documents x word forms
    blocks: list[sp.csr_matrix]
    labels: list[dict[int, str]]  # per document: tag column -> the topic as the person wrote it


class TfidfIndex:
    def __init__(self, documents: Sequence[Document], settings: TfidfSimilarity) -> None:
        self._settings = settings
        self._vocab = _TermVocabulary(settings)
        self._n = len(documents)
        counts = self._count(documents, fitting=True)
        self._shares = [1.0 - settings.topic_share, settings.topic_share]
        if settings.char_ngrams:
            self._shares.insert(1, settings.ngram_share)
            self._shares[0] -= settings.ngram_share
        limit = max(settings.max_df * self._n, settings.max_df_floor)
        self._idf = [_idf(block, self._n, limit) for block in counts.blocks]
        self._x = self._combine(counts.blocks)
        self._forms = list(counts.forms)
        stems = self._vocab.stems
        own_stem = np.array([stems.get(self._vocab.stem(f), -1) for f in self._forms])
        self._wording = Wording(self._forms, counts.per_form, own_stem, self._vocab, counts.labels)

    def pair_scores(self, rows: Ints, cols: Ints) -> Floats:
        return pair_scores(self._x, rows, cols)

    def similarity_between(self, rows: Ints, cols: Ints) -> NDArray[np.float64]:
        return np.asarray((self._x[rows] @ self._x[cols].T).todense(), dtype=np.float64)

    def top_k(
        self,
        k: int,
        weigh: EdgeWeigher | None = None,
        apart: Ints | None = None,
        max_bonus: float = 0.0,
        discount: Floats | None = None,
    ) -> Neighbours:
        settings = self._settings
        return top_k(
            self._x, k, weigh, apart, max_bonus, discount, settings.shard_size, settings.seed
        )

    def mean_similarity(self) -> Floats:
        centre = np.asarray(self._x.mean(axis=0)).ravel()
        return np.asarray(self._x @ centre, dtype=np.float64)

    def explain(self, groups: Sequence[Sequence[int]], limit: int = 5) -> list[tuple[str, ...]]:
        """Per group: shared topics first, then shared terms by weight, as the members wrote them.

        A term counts as shared when at least two members have it; its weight is the sum of the
        products of their TF-IDF weights, so a word both use a lot and few others use ranks top.
        """
        group_of, a, b = [], [], []
        for g, members in enumerate(groups):
            for i, first in enumerate(members):
                for second in members[i + 1 :]:
                    group_of.append(g)
                    a.append(first)
                    b.append(second)
        products = self._x[a].multiply(self._x[b])
        per_group = sp.csr_matrix(
            (np.ones(len(group_of)), (group_of, np.arange(len(group_of)))),
            shape=(len(groups), len(group_of)),
        )
        shared = sp.coo_matrix(per_group @ products)
        first_tag = self._x.shape[1] - len(self._vocab.tags)
        return self._wording.labels(groups, shared.row, shared.col, shared.data, first_tag, limit)

    def rank(self, query: Document, limit: int) -> list[tuple[int, float]]:
        vector = self._combine(self._count([query], fitting=False).blocks)
        scores = np.asarray((self._x @ vector.T).todense()).ravel()
        best = np.argsort(-scores, kind="stable")[:limit]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]

    def _count(self, documents: Sequence[Document], fitting: bool) -> _Counts:
        vocab = self._vocab
        forms: dict[str, int] = {}
        doc_of: list[int] = []
        form_of: list[int] = []
        labels: list[dict[int, str]] = []
        for d, doc in enumerate(documents):
            tags: dict[int, str] = {}
            for topic in doc.topics:
                key = vocab.tag_key(topic)
                if key and (fitting or key in vocab.tags):
                    tags.setdefault(vocab.tags.setdefault(key, len(vocab.tags)), topic.strip())
            labels.append(tags)
            found = words(" ".join((doc.text, *doc.topics)))
            doc_of += [d] * len(found)
            form_of += [forms.setdefault(f, len(forms)) for f in found]
        names = list(forms)
        per_form = sp.csr_matrix(
            (np.ones(len(doc_of)), (doc_of, form_of)), shape=(len(documents), len(names))
        )
        if fitting:
            own = _mapping(names, lambda f: vocab.word_features(f, grow=True), vocab.stems)
            # Compound parts count only if someone uses the part as a word of its own.
            alone = np.bincount((per_form @ own).indices, minlength=own.shape[1])
            vocab.known = frozenset(s for s, i in vocab.stems.items() if alone[i] > 0)
        stems = _mapping(names, lambda f: vocab.word_features(f, grow=False), vocab.stems)
        blocks = [per_form @ stems]
        if self._settings.char_ngrams:
            grams = _mapping(names, lambda f: vocab.ngram_features(f, grow=fitting), vocab.ngrams)
            blocks.append(per_form @ grams)
        rows = [d for d, tags in enumerate(labels) for _ in tags]
        cols = [t for tags in labels for t in tags]
        blocks.append(
            sp.csr_matrix(
                (np.ones(len(rows)), (rows, cols)), shape=(len(documents), len(vocab.tags))
            )
        )
        return _Counts(forms, per_form, blocks, labels)

    def _combine(self, blocks: list[sp.csr_matrix]) -> sp.csr_matrix:
        """One unit vector per document; each block gets its share of the cosine.

        A document without tags (or without text) gives the missing block's share to the
        others, so it is not punished against people who filled in every field.
        """
        unit = [_tfidf(block, idf) for block, idf in zip(blocks, self._idf, strict=True)]
        present = np.column_stack([np.diff(u.indptr) > 0 for u in unit])
        shares = present * np.array(self._shares)
        total = shares.sum(axis=1, keepdims=True)
        shares = np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)
        scaled = [sp.diags(np.sqrt(shares[:, b])) @ u for b, u in enumerate(unit)]
        return sp.csr_matrix(sp.hstack(scaled, format="csr"), dtype=np.float32)


def _mapping(
    forms: list[str], lookup: Callable[[str], list[tuple[int, float]]], columns: dict[str, int]
) -> sp.csr_matrix:
    """Sparse (word form x feature) matrix of what each form contributes.

    `columns` is read after the lookups, which may have added to it while fitting.
    """
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, form in enumerate(forms):
        for col, val in lookup(form):
            rows.append(i)
            cols.append(col)
            vals.append(val)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(forms), len(columns)))


def _idf(counts: sp.csr_matrix, n_docs: int, max_df: float) -> Floats:
    """Smoothed idf; 0 for features in more than `max_df` documents, which drops them."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    idf[df > max_df] = 0.0
    return idf


def _tfidf(counts: sp.csr_matrix, idf: Floats) -> sp.csr_matrix:
    """Damped term frequency times idf, each row scaled to unit length."""
    out = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    out.data = np.log1p(out.data) * idf[out.indices]
    out.eliminate_zeros()
    norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ out)
