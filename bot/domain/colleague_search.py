"""Colleague search (`!suche`): who does work closest in meaning to a search text, and
which of their task phrases fits it best. Pure: no I/O.

Each candidate brings their task and topic phrases and, where the embedding model has
encoded them, one vector per phrase. A candidate with vectors is scored by meaning (the
rescaled e5 cosine of their best phrase, `bot.domain.meaning`) plus a share of the words
their phrases share with the search; one without (the model is not available, or their text
changed a moment ago) by the words alone (TF-IDF over word stems). Scores run from 0 to 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.meaning import Vectors, best_phrases, rescaled
from bot.domain.similarity import Document
from bot.domain.text_cleaning import clean_text
from bot.domain.tfidf import TfidfSimilarity

LIMIT = 5
# A result is shown only from this score on, and only if it reaches this share of the best
# score. By meaning, 0.15 is a cosine of about 0.85: the best fitting person of every
# measured example search scores above it, most unrelated people below; the share keeps
# a weak fifth result from trailing a clear first (docs/search.md). By words, 0.15 means a
# rare shared word at least.
MIN_SCORE = 0.15
MIN_SHARE_OF_BEST = 0.5
# By meaning, a phrase that shares a word with the search gains this share of its word
# score: someone who searches "Kita" expects the colleague who wrote "Kita-Plätze". Chosen on
# the dev topics of 206 blind searches (bench/data/search_queries.yaml; bench/search.py
# --quality) among 0-1.5, checked once on the holdout topics: the first result fits 93.0 ->
# 95.3 %, fitting results among those shown 63 -> 69 %, searches that find someone unchanged.
WORDS_BESIDE_MEANING = 0.5
SEARCH_MIN_CHARS = 3
SEARCH_MAX_CHARS = 200
_MATRIX_ID = re.compile(r"@[^\s:]+:[^\s]+")
_NUMBER = re.compile(r"(?:nr\.?|nummer|no\.?|number|#)?\s*(\d{1,3})\.?")


class SearchError(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    PERSON = "person"  # a Matrix ID: the search is for tasks, never for a named person


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str  # the person (Matrix user ID)
    phrases: tuple[str, ...]
    vectors: Vectors | None = None  # one row per phrase, or None


@dataclass(frozen=True, slots=True)
class Hit:
    key: str
    phrase: str  # the candidate's phrase closest to the search
    score: float  # 0..1
    by_meaning: bool


def rank_colleagues(
    query: str,
    query_vectors: Vectors | None,
    candidates: Sequence[Candidate],
    limit: int = LIMIT,
    min_score: float = MIN_SCORE,
    words_share: float = WORDS_BESIDE_MEANING,
) -> list[Hit]:
    """The best `limit` candidates, best first (ties by key, so the order is stable)."""
    by_meaning: list[Candidate] = []
    by_words: list[Candidate] = []
    for candidate in candidates:
        if not candidate.phrases:
            continue
        vectors = candidate.vectors
        if (
            query_vectors is not None
            and vectors is not None
            and len(vectors) == len(candidate.phrases)
        ):
            by_meaning.append(candidate)
        else:
            by_words.append(candidate)
    hits: list[Hit] = []
    if by_meaning:
        assert query_vectors is not None
        matches = best_phrases(
            query_vectors, [c.vectors for c in by_meaning if c.vectors is not None]
        )
        words = {hit.key: hit.score for hit in _by_words(query, by_meaning, 0.0)}
        for candidate, match in zip(by_meaning, matches, strict=True):
            meaning = rescaled(match.cosine)
            score = min(1.0, meaning + words_share * words.get(candidate.key, 0.0))
            if score >= min_score:
                # The phrase closest in meaning, also where a shared word lifted the score.
                hits.append(Hit(candidate.key, candidate.phrases[match.phrase], score, True))
    hits += _by_words(query, by_words, min_score)
    hits.sort(key=lambda h: (-h.score, h.key))
    best = hits[0].score if hits else 0.0
    return [h for h in hits if h.score >= MIN_SHARE_OF_BEST * best][:limit]


def _by_words(query: str, candidates: Sequence[Candidate], min_score: float) -> list[Hit]:
    """Each phrase is a document of its own, so the phrase that shares the words is found."""
    owners: list[tuple[int, str]] = [(i, p) for i, c in enumerate(candidates) for p in c.phrases]
    if not owners:
        return []
    index = TfidfSimilarity().index([Document(phrase) for _, phrase in owners])
    best: dict[int, tuple[float, str]] = {}
    for row, score in index.rank(Document(query), len(owners)):
        owner, phrase = owners[row]
        if score >= min_score and score > best.get(owner, (0.0, ""))[0]:
            best[owner] = (score, phrase)
    return [
        Hit(candidates[i].key, phrase, min(score, 1.0), False)
        for i, (score, phrase) in best.items()
    ]


def parse_search(text: str) -> str | SearchError:
    """The search text, or what is wrong with it."""
    cleaned = clean_text(text).strip(" \"'»«„“")
    if cleaned.startswith("@") or _MATRIX_ID.search(cleaned):
        return SearchError.PERSON
    if len(cleaned) > SEARCH_MAX_CHARS:
        return SearchError.TOO_LONG
    if len(cleaned) < SEARCH_MIN_CHARS or not any(ch.isalpha() for ch in cleaned):
        return SearchError.TOO_SHORT
    return cleaned


def parse_number(text: str) -> int | None:
    """`2`, `Nr. 2`, `#2`, `2.` -> 2; None if it is not one number."""
    match = _NUMBER.fullmatch(clean_text(text).casefold())
    return int(match.group(1)) if match else None
