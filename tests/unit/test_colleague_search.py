"""The pure parts of the colleague search: scores of meaning, ranking, typed input."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain.colleague_search import (
    MIN_SCORE,
    Candidate,
    SearchError,
    parse_number,
    parse_search,
    rank_colleagues,
)
from bot.domain.meaning import FLOOR, best_phrases, rescaled
from tests.support.encoders import bundled_encoder


def unit(*rows: list[float]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_rescaled_cosine_is_zero_for_unrelated_and_one_for_identical() -> None:
    assert rescaled(0.5) == 0.0
    assert rescaled(FLOOR) == 0.0
    assert rescaled(1.0) == pytest.approx(1.0)
    assert rescaled(FLOOR + (1 - FLOOR) / 2) == pytest.approx(0.5)


def test_best_phrases_matches_the_plain_loop() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        query = rng.normal(size=(int(rng.integers(1, 4)), 6)).astype(np.float32)
        texts = [
            rng.normal(size=(int(rng.integers(0, 5)), 6)).astype(np.float32)
            for _ in range(int(rng.integers(1, 8)))
        ]
        for text, match in zip(texts, best_phrases(query, texts), strict=True):
            if len(text) == 0:
                assert (match.cosine, match.phrase) == (-1.0, -1)
                continue
            cosines = query @ text.T
            assert match.cosine == pytest.approx(float(cosines.max(axis=1).mean()), abs=1e-5)
            assert match.phrase == int(np.argmax(cosines.max(axis=0)))


def test_ranking_by_meaning_shows_the_best_phrase_and_drops_the_weak() -> None:
    query = unit([1, 0, 0])
    close = unit([0.98, 0.2, 0], [0, 0, 1])  # second phrase unrelated
    fair = unit([0.95, 0.31, 0])
    weak = unit([0.7, 0.7, 0.14])  # below the floor
    hits = rank_colleagues(
        "q",
        query,
        [
            Candidate("@fair", ("fair",), fair),
            Candidate("@weak", ("weak",), weak),
            Candidate("@close", ("other", "close"), close[::-1]),
        ],
    )
    assert [(h.key, h.phrase) for h in hits] == [("@close", "close"), ("@fair", "fair")]
    assert all(h.by_meaning and h.score >= MIN_SCORE for h in hits)


def test_a_weak_result_does_not_trail_a_clear_first() -> None:
    query = unit([1, 0])
    strong = unit([0.995, 0.1])
    middling = unit([0.88, 0.475])  # above the floor, far below the best
    hits = rank_colleagues(
        "q", query, [Candidate("@a", ("a",), strong), Candidate("@b", ("b",), middling)]
    )
    assert [h.key for h in hits] == ["@a"]


def test_people_without_vectors_are_compared_by_words() -> None:
    hits = rank_colleagues(
        "Elternberatung anbieten",
        None,
        [
            Candidate("@kita", ("Vergabe von Kita-Plätzen", "Elternberatung")),
            Candidate("@bau", ("Vergabe von Bauaufträgen",)),
            Candidate("@leer", ()),
        ],
    )
    assert [(h.key, h.phrase, h.by_meaning) for h in hits] == [("@kita", "Elternberatung", False)]


def test_a_keyword_finds_the_colleague_who_wrote_it() -> None:
    """Real model: "Kita" alone is no closer in meaning to "Vergabe von Kita-Plätzen" than
    to much else (cosine 0.845, below the threshold); the shared word finds the colleague."""
    encoder = bundled_encoder()
    tasks = {
        "kita": "Vergabe von Kita-Plätzen, Beratung der Eltern",
        "bau": "Vergabe von Bauaufträgen nach VOB",
        "hund": "Hundesteuer veranlagen",
        "pass": "Personalausweise ausstellen",
    }
    people = [
        Candidate(key, (text,), encoder.encode_blocking([text], query=True))
        for key, text in tasks.items()
    ]
    query = encoder.encode_blocking(["Kita"], query=True)
    [hit] = rank_colleagues("Kita", query, people)
    assert hit.key == "kita" and hit.by_meaning and hit.phrase == tasks["kita"]


def test_at_most_five_ties_in_a_stable_order() -> None:
    query = unit([1, 0])
    same = unit([0.99, 0.14])
    people = [Candidate(f"@p{i}", ("x",), same) for i in (7, 3, 9, 1, 5, 2)]
    assert [h.key for h in rank_colleagues("q", query, people)] == [
        "@p1",
        "@p2",
        "@p3",
        "@p5",
        "@p7",
    ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  Kita-Plätze   vergeben ", "Kita-Plätze vergeben"),
        ("»Bauaufsicht«", "Bauaufsicht"),
        ("ab", SearchError.TOO_SHORT),
        ("123", SearchError.TOO_SHORT),
        ("@anna:rathaus.example", SearchError.PERSON),
        ("Kontakt zu @anna:rathaus.example", SearchError.PERSON),
        ("a" * 201, SearchError.TOO_LONG),
    ],
)
def test_parse_search(typed: str, expected: str | SearchError) -> None:
    assert parse_search(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("2", 2), ("Nr. 3", 3), ("nr 4", 4), ("#1", 1), ("5.", 5), ("zwei", None), ("1 2", None)],
)
def test_parse_number(typed: str, expected: int | None) -> None:
    assert parse_number(typed) == expected
