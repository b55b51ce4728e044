"""Shared features back to words people wrote, for "Sie beide arbeiten an: ...".

A stem like "fordermittelantrag" is no text for an introduction; the members' own spelling is
("Fördermittelanträge"), and where a stem came only from a compound part, the spelling most
people use on its own ("Anträge").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from bot.domain.neighbours import Floats, Ints


class _Vocabulary(Protocol):
    stems: dict[str, int]
    tags: dict[str, int]


class Wording:
    def __init__(
        self,
        forms: list[str],
        per_form: sp.csr_matrix,
        own_stem: Ints,
        vocabulary: _Vocabulary,
        labels: list[dict[int, str]],
    ) -> None:
        """`per_form` counts (document x word form); `own_stem` is each form's stem column;
        `labels` per document maps tag columns to the topic as the person wrote it."""
        self._forms = forms
        self._labels = labels
        self._n_stems = len(vocabulary.stems)
        self._tag_stems = [
            frozenset(vocabulary.stems[w] for w in key.split() if w in vocabulary.stems)
            for key in vocabulary.tags
        ]
        counts = sp.coo_matrix(per_form)
        stem = own_stem[counts.col]
        capital = np.array([f[:1].isupper() for f in forms], dtype=bool)
        # A capitalised form is a noun (or starts a sentence) and reads best after "an:".
        priority = capital[counts.col] * 1e9 + counts.data
        ok = stem >= 0
        doc, stem, form, priority = counts.row[ok], stem[ok], counts.col[ok], priority[ok]
        order = np.lexsort((priority, stem, doc))
        keys = (doc * self._n_stems + stem)[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]
        self._keys = keys[last]
        self._spelling = form[order][last]
        totals = np.bincount(counts.col, counts.data, minlength=len(forms))
        self._display = list(vocabulary.stems)
        best = np.full(self._n_stems, -1.0)
        for f, s in enumerate(own_stem.tolist()):
            score = capital[f] * 1e9 + totals[f]
            if s >= 0 and score > best[s]:
                best[s] = score
                self._display[s] = forms[f]

    def labels(
        self,
        groups: Sequence[Sequence[int]],
        group: Ints,
        column: Ints,
        weight: Floats,
        first_tag: int,
        limit: int,
    ) -> list[tuple[str, ...]]:
        """Readable labels per group from its shared (group, feature column, weight) entries.

        Columns are stems first and topic tags from `first_tag` on; columns in between
        (character n-grams) have no words and are skipped. Topics come first, then terms by
        weight; a term inside a shown topic is not repeated.
        """
        useful = (column < self._n_stems) | (column >= first_tag)
        group, column, weight = group[useful], column[useful], weight[useful]
        order = np.lexsort((-weight, column < first_tag, group))
        group, column = group[order], column[order]
        # Enough entries per group to fill `limit` after dropping words a topic covers.
        rank = np.arange(len(group)) - np.searchsorted(group, group)
        keep = rank < 2 * limit
        group, column = group[keep], column[keep]
        spelled = np.column_stack(
            [self._spelled(self._member(groups, group, p), column) for p in range(3)]
        )
        found: list[list[str]] = [[] for _ in groups]
        covered: list[set[int]] = [set() for _ in groups]
        for i, (g, col) in enumerate(zip(group.tolist(), column.tolist(), strict=True)):
            if len(found[g]) == limit:
                continue
            if col >= first_tag:
                tag = col - first_tag
                covered[g] |= self._tag_stems[tag]
                spelled_by = (self._labels[m].get(tag) for m in groups[g])
                found[g].append(next(label for label in spelled_by if label))
            elif col not in covered[g]:
                covered[g].add(col)
                forms = [self._forms[f] for f in spelled[i] if f >= 0]
                nouns = [f for f in forms if f[:1].isupper()]
                found[g].append((nouns or forms or [self._display[col]])[0])
        return [tuple(dict.fromkeys(labels)) for labels in found]

    @staticmethod
    def _member(groups: Sequence[Sequence[int]], group: Ints, position: int) -> Ints:
        return np.array(
            [groups[g][position] if position < len(groups[g]) else -1 for g in group.tolist()],
            dtype=np.int64,
        )

    def _spelled(self, members: Ints, stems: Ints) -> Ints:
        """The form each member used most for each stem, or -1."""
        if len(self._keys) == 0:
            return np.full(len(members), -1, dtype=np.int64)
        keys = members * self._n_stems + stems
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hit = (self._keys[pos] == keys) & (members >= 0)
        return np.where(hit, self._spelling[pos], -1)
