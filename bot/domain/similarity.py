"""How similar two people's work is, from their German task text and their topic tags.

One sparse TF-IDF vector per document: Snowball stems of the words (plus the parts of
compounds), optionally character n-grams, and the topic tags as features of their own; the
similarity of two documents is the dot product of their unit vectors (cosine). The same index
serves the coffee matching (people vs people), the crisis routing (bridge contacts vs a request
text) and hospitations (wishes vs offers), and can be swapped for another `Similarity`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from bot.domain.german_text import GermanStemmer, compound_parts, words
from bot.domain.neighbours import EdgeWeigher, Floats, Ints, Neighbours, pair_scores, top_k


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    topics: tuple[str, ...] = ()


class SimilarityIndex(Protocol):
    def __len__(self) -> int: ...

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
    ) -> Neighbours:
        """Per document its k heaviest allowed partners among those with a positive similarity.

        With `apart` (a group number per document) partners come only from other groups;
        `max_bonus` bounds how much the weigher adds to a similarity.
        """
        ...

    def rank(self, query: Document, limit: int) -> list[tuple[int, float]]:
        """The indexed documents most similar to an outside text, best first."""
        ...

    def explain(self, groups: Sequence[Sequence[int]], limit: int = 5) -> list[tuple[str, ...]]:
        """Per group what its members have in common, as readable words: shared topics first."""
        ...


class Similarity(Protocol):
    def index(self, documents: Sequence[Document]) -> SimilarityIndex: ...


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


class _Vocabulary:
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
        self._vocab = _Vocabulary(settings)
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
        self._per_form = counts.per_form
        self._labels = counts.labels
        stems = self._vocab.stems
        self._own_stem = np.array([stems.get(self._vocab.stem(f), -1) for f in self._forms])
        self._index_spellings()

    def __len__(self) -> int:
        return self._n

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
    ) -> Neighbours:
        settings = self._settings
        return top_k(self._x, k, weigh, apart, max_bonus, settings.shard_size, settings.seed)

    def rank(self, query: Document, limit: int) -> list[tuple[int, float]]:
        vector = self._combine(self._count([query], fitting=False).blocks)
        scores = np.asarray((self._x @ vector.T).todense()).ravel()
        best = np.argsort(-scores, kind="stable")[:limit]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]

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
        stems = len(self._vocab.stems)
        tags_from = self._x.shape[1] - len(self._vocab.tags)
        useful = (shared.col < stems) | (shared.col >= tags_from)
        g, col, weight = shared.row[useful], shared.col[useful], shared.data[useful]
        order = np.lexsort((-weight, col < tags_from, g))
        g, col = g[order], col[order]
        # Enough entries per group to fill `limit` after dropping words a topic already covers.
        rank = np.arange(len(g)) - np.searchsorted(g, g)
        keep = rank < 3 * limit
        return self._labels_for(groups, g[keep], col[keep], tags_from, limit)

    def _labels_for(
        self, groups: Sequence[Sequence[int]], g: Ints, col: Ints, tags_from: int, limit: int
    ) -> list[tuple[str, ...]]:
        spelled = np.full((len(g), 3), -1, dtype=np.int64)
        for position in range(3):
            member = np.array(
                [groups[i][position] if position < len(groups[i]) else -1 for i in g.tolist()],
                dtype=np.int64,
            )
            spelled[:, position] = self._spelling(member, col)
        found: list[list[str]] = [[] for _ in groups]
        covered: list[set[int]] = [set() for _ in groups]
        for i, (group, column) in enumerate(zip(g.tolist(), col.tolist(), strict=True)):
            if len(found[group]) == limit:
                continue
            if column >= tags_from:
                tag = column - tags_from
                covered[group] |= self._tag_stems[tag]
                members = groups[group]
                found[group].append(next(self._labels[m][tag] for m in members if tag in self._labels[m]))
            elif column not in covered[group]:
                covered[group].add(column)
                forms = [self._forms[f] for f in spelled[i] if f >= 0]
                # The members' own spelling, a capitalised noun if they wrote one.
                nouns = [f for f in forms if f[:1].isupper()]
                found[group].append((nouns or forms or [self._display[column]])[0])
        return [tuple(dict.fromkeys(labels)) for labels in found]

    def _spelling(self, members: Ints, stems: Ints) -> Ints:
        """The word form each member used most for each stem, or -1."""
        keys = members * len(self._vocab.stems) + stems
        pos = np.minimum(np.searchsorted(self._spelling_keys, keys), len(self._spelling_keys) - 1)
        hit = (self._spelling_keys[pos] == keys) & (members >= 0)
        return np.where(hit, self._spelling_forms[pos], -1)

    def _index_spellings(self) -> None:
        """Per (document, stem) its most used form, capitalised forms first; and per stem the
        corpus's, for stems a document has only as a compound part."""
        counts = sp.coo_matrix(self._per_form)
        stem = self._own_stem[counts.col]
        capital = np.array([f[:1].isupper() for f in self._forms], dtype=bool)
        priority = capital[counts.col] * 1e9 + counts.data
        ok = stem >= 0
        doc, stem, form, priority = counts.row[ok], stem[ok], counts.col[ok], priority[ok]
        order = np.lexsort((priority, stem, doc))
        keys = (doc * len(self._vocab.stems) + stem)[order]
        last = np.r_[keys[1:] != keys[:-1], True]
        self._spelling_keys = keys[last]
        self._spelling_forms = form[order][last]
        totals = np.bincount(counts.col, counts.data, minlength=len(self._forms))
        display = list(self._vocab.stems)
        best = np.full(len(display), -1.0)
        for f, s in enumerate(self._own_stem.tolist()):
            score = capital[f] * 1e9 + totals[f]
            if s >= 0 and score > best[s]:
                best[s] = score
                display[s] = self._forms[f]
        self._display = display
        self._tag_stems = [
            frozenset(self._vocab.stems[w] for w in key.split() if w in self._vocab.stems)
            for key in self._vocab.tags
        ]

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
            # Compound parts count only if the part is a word that people use on its own.
            alone = np.bincount((per_form @ own).indices, minlength=own.shape[1])
            vocab.known = frozenset(s for s, i in vocab.stems.items() if alone[i] >= 2)
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
