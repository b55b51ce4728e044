"""German tokens and stems, TF-IDF similarity, neighbour search and explanations."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.german_text import GermanStemmer, compound_parts, words
from bot.domain.neighbours import top_k
from bot.domain.similarity import Document, Similarity
from bot.domain.tfidf import TfidfSimilarity


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# --- tokens and stems ---------------------------------------------------------------------


def test_words_keep_spelling_and_drop_stop_words_digits_and_letters() -> None:
    assert words("Ich bearbeite 2026 die Anträge nach § 8a SGB VIII für die Kita.") == [
        "Anträge",
        "SGB",
        "VIII",
        "Kita",
    ]


def test_decomposed_umlauts_are_the_same_word() -> None:
    decomposed = unicodedata.normalize("NFD", "Anträge")
    assert decomposed != "Anträge"
    assert words(decomposed) == ["Anträge"]


def test_hyphenated_words_give_their_parts() -> None:
    assert words("E-Akte und Kita-Plätze") == ["Akte", "Kita", "Plätze"]


@pytest.mark.parametrize(
    "variants",
    [
        ("Anträge", "Antrag", "Anträgen", "Antraege", "ANTRÄGE"),
        ("Digitalisierung", "digitalisieren", "digitalisiert"),
        ("Planung", "planen"),
        ("Straße", "Strasse"),
    ],
)
def test_inflected_and_derived_forms_share_a_stem(variants: tuple[str, ...]) -> None:
    stem = GermanStemmer()
    assert len({stem(v) for v in variants}) == 1


def test_compounds_split_into_known_parts_only() -> None:
    stem = GermanStemmer()
    known = {stem("Fördermittel"), stem("Anträge"), stem("Ordnung"), stem("Amt")}
    assert compound_parts("Fördermittelanträge", stem, known) == (
        stem("Fördermittel"),
        stem("Anträge"),
    )
    assert compound_parts("Fördermittelanträge", stem, {stem("Anträge")}) is None
    assert compound_parts("Haus", stem, known) is None  # too short to be a compound


# --- similarity -----------------------------------------------------------------------------


def index_of(texts: list[str], topics: list[tuple[str, ...]] | None = None, **options: object):
    topics = topics or [() for _ in texts]
    similarity: Similarity = TfidfSimilarity(**options)  # type: ignore[arg-type]
    return similarity.index([Document(t, tp) for t, tp in zip(texts, topics, strict=True)])


CORPUS = [
    "Ich bearbeite Fördermittelanträge und die Digitalisierung der Verwaltung.",
    "Ich kümmere mich um Anträge auf Fördermittel. Wir digitalisieren unsere Abläufe.",
    "Kinderschutz und Hilfen zur Erziehung.",
    "Bauanträge und Baugenehmigungen für Windräder.",
    "Fördermittel von Bund und Land; Anträge prüfen.",
    "Hilfen zur Erziehung und Inobhutnahmen.",
]


def test_similarity_is_a_symmetric_cosine() -> None:
    index = index_of(CORPUS)
    everyone = np.arange(len(CORPUS))
    matrix = index.similarity_between(everyone, everyone)
    assert np.allclose(matrix, matrix.T, atol=1e-6)
    assert np.allclose(np.diag(matrix), 1.0, atol=1e-5)
    assert (matrix >= -1e-9).all() and (matrix <= 1 + 1e-6).all()
    rows, cols = np.triu_indices(len(CORPUS), k=1)
    assert np.allclose(index.pair_scores(rows, cols), matrix[rows, cols], atol=1e-6)


def test_the_same_topic_in_other_words_is_similar_and_another_topic_is_not() -> None:
    index = index_of(CORPUS)
    # "Fördermittelanträge" meets "Anträge auf Fördermittel" through the compound's parts.
    funding = index.pair_scores(ids(0), ids(1))[0]
    unrelated = index.pair_scores(ids(0), ids(2))[0]
    assert funding > 0.3
    assert unrelated == 0.0
    assert index.pair_scores(ids(2), ids(5))[0] > 0.3


def test_compound_parts_count_only_when_switched_on() -> None:
    with_parts = index_of(CORPUS).pair_scores(ids(0), ids(4))[0]
    without = index_of(CORPUS, compounds=False).pair_scores(ids(0), ids(4))[0]
    assert with_parts > without


def test_topic_tags_add_to_the_similarity() -> None:
    texts = ["Ich plane Stadtfeste.", "Ich prüfe Brandschutzkonzepte."]
    plain = index_of(texts).pair_scores(ids(0), ids(1))[0]
    tagged = index_of(texts, [("Veranstaltungen",), ("veranstaltungen ",)])
    assert plain == 0.0
    # The tags' share of the cosine (0.35), plus the tag's words in the word part.
    assert tagged.pair_scores(ids(0), ids(1))[0] > 0.35


def test_character_ngrams_catch_variants_the_stemmer_misses() -> None:
    texts = ["Kindertagesstätte", "Kindertagesstätten und Horte", "Friedhof"]
    assert index_of(texts, char_ngrams=4).pair_scores(ids(0), ids(1))[0] > 0
    assert index_of(texts, char_ngrams=4).pair_scores(ids(0), ids(2))[0] == 0


def test_words_in_most_documents_carry_no_weight() -> None:
    texts = [f"Verwaltung Thema{chr(97 + i % 26)}{i}" for i in range(40)]
    index = index_of(texts, max_df=0.5, max_df_floor=10)
    assert index.pair_scores(ids(0), ids(1))[0] == 0.0
    assert index_of(texts, max_df=1.0).pair_scores(ids(0), ids(1))[0] > 0.0


def test_rank_finds_the_bridge_contact_for_a_request() -> None:
    contacts = [
        "Tafel | soziale Träger",
        "Spedition Müller | Logistik",
        "Messe GmbH | Veranstaltungen und Hallen",
        "Moscheegemeinde | Migrantenorganisationen",
    ]
    index = index_of(contacts)
    best = index.rank(Document("Wer kennt jemanden bei der Tafel? Wir brauchen Lebensmittel."), 2)
    assert best[0][0] == 0
    assert len(best) == 1  # nothing else shares a word
    hall = index.rank(Document("Wir suchen Hallen für ein Impfzentrum"), 3)
    assert hall[0][0] == 2


# --- neighbours -----------------------------------------------------------------------------

WORDS = ["antrag", "kita", "wohngeld", "vergabe", "klima", "schule", "brand", "wahl", "haushalt"]


@settings(max_examples=25, deadline=None)
@given(
    docs=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=5), min_size=2, max_size=30
    ),
    groups=st.integers(1, 4),
    k=st.integers(1, 6),
    bonus=st.floats(0, 0.2),
    hubs=st.booleans(),
)
def test_top_k_is_the_exact_best_allowed(
    docs: list[list[str]], groups: int, k: int, bonus: float, hubs: bool
) -> None:
    index = index_of([" ".join(d) for d in docs], max_df=1.0)
    n = len(docs)
    apart = np.arange(n) % groups
    extra = np.linspace(0, bonus, n)
    discount = (np.arange(n) % 3) * 0.1 if hubs else None
    ranking = np.zeros(n) if discount is None else discount

    def weigh(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray) -> np.ndarray:
        w = sims + extra[cols]
        w[(rows + cols) % 7 == 0] = -np.inf  # some pairs are forbidden outright
        return w

    found = index.top_k(k, weigh, apart, max_bonus=bonus, discount=discount)
    everyone = np.arange(n)
    sims = index.similarity_between(everyone, everyone)
    assert np.allclose(found.weight, found.similarity + extra[found.cols])
    for row in range(n):
        allowed = [
            c
            for c in range(n)
            if apart[c] != apart[row] and sims[row, c] > 1e-9 and (row + c) % 7 != 0
        ]
        expected = sorted((sims[row, c] + extra[c] - ranking[c] for c in allowed), reverse=True)
        mine = found.rows == row
        got = sorted(found.weight[mine] - ranking[found.cols[mine]], reverse=True)
        assert np.allclose(got, expected[:k], atol=1e-5)
        assert all(apart[c] != apart[row] for c in found.cols[found.rows == row])


def test_sharded_search_stays_within_the_rules() -> None:
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, 3)) for _ in range(300)]
    index = index_of(texts, shard_size=60, max_df=1.0)
    apart = np.arange(300) % 5
    found = index.top_k(4, None, apart)
    assert (apart[found.rows] != apart[found.cols]).all()
    assert np.bincount(found.rows, minlength=300).max() <= 4
    assert np.allclose(found.similarity, index.pair_scores(found.rows, found.cols), atol=1e-6)
    # Exact search finds at least as good partners as the shards.
    exact = top_k(index._x, 4, None, apart)
    assert exact.weight.sum() >= found.weight.sum() - 1e-6


def test_mean_similarity_marks_hubs() -> None:
    index = index_of(["antrag kita wohngeld", "antrag", "kita", "wohngeld", "friedhof"])
    hub = index.mean_similarity()
    assert hub.argmax() == 0
    assert hub[4] < hub[1]


# --- explanations ---------------------------------------------------------------------------


def test_explain_shows_topics_first_then_the_members_own_words() -> None:
    index = index_of(CORPUS, [("Digitalisierung",), ("digitalisierung", "Fördermittel")] + [()] * 4)
    shared = index.explain([[0, 1]])[0]
    assert shared[0] == "Digitalisierung"
    assert "Fördermittel" in shared or "Fördermittelanträge" in shared
    assert all(w.lower() not in {"ich", "und", "die", "der"} for w in shared)
    # A word a shown topic already covers is not repeated.
    assert sum("igitalis" in w for w in shared) == 1


def test_explain_groups_of_three_and_groups_with_nothing_in_common() -> None:
    texts = ["Wohngeldanträge prüfen", "Wohngeld und Grundsicherung", "Wohngeld", "Friedhof"]
    index = index_of(texts)
    trio, nothing = index.explain([[0, 1, 2], [0, 3]])
    assert trio and trio[0] == "Wohngeld"
    assert nothing == ()


def test_explain_respects_the_limit() -> None:
    text = "Kita Schule Wohngeld Klima Brand Wahl Haushalt Vergabe"
    index = index_of([text, text, "Friedhof"])
    assert len(index.explain([[0, 1]], limit=3)[0]) == 3
