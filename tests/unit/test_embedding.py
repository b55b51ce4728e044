"""Similarity by meaning: rescaled, symmetric, mixed with words where vectors are missing,
searched in cells at scale, and explained by the closest phrases.

Texts are encoded with the real model (it loads in a fraction of a second); the properties use
random unit vectors, which need no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.phrases import split_tasks
from bot.domain.semantic import EmbeddingIndex, EmbeddingSimilarity
from bot.domain.semantic import index as index_module
from bot.domain.semantic.index import SPACE_FLOOR
from bot.domain.semantic.task_space import TaskSpace
from bot.domain.semantic.topics import group_topics
from bot.domain.similarity import Document
from bot.domain.tfidf import TfidfIndex, TfidfSimilarity
from bot.services.encoder import DIMENSIONS, E5Encoder
from bot.services.task_space import shipped_task_space
from tests.support.encoders import bundled_encoder

# The newest blind paraphrase pool: the task space was neither fitted nor chosen on it.
UNSEEN_POOL = Path(__file__).resolve().parents[2] / "bench" / "data" / "paraphrase_hard3"
KITA = "Vergabe von Kita-Plätzen"
KITA_TOO = "Betreuungsplätze in Kindertagesstätten vermitteln"
DOGS = "Hundesteuer veranlagen"
GRAVES = "Friedhofsgebühren kalkulieren"


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return bundled_encoder()


def document(encoder: E5Encoder, text: str, topics: tuple[str, ...] = ()) -> Document:
    """A profile as a round loads it: phrases and their stored vectors ("query: ")."""
    phrases = split_tasks(text, topics)
    return Document(text, topics, phrases, encoder.encode_blocking(phrases, query=True))


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def embedding_index(documents: list[Document], **options: object) -> EmbeddingIndex:
    """In the shipped task space, as the weekly matching compares, unless `options` say."""
    settings: dict[str, object] = {"space": shipped_task_space(), **options}
    index = EmbeddingSimilarity(**settings).index(documents)  # type: ignore[arg-type]
    assert isinstance(index, EmbeddingIndex)
    return index


# --- with the model -----------------------------------------------------------------------------


def test_the_same_task_in_other_words_is_close_and_other_tasks_are_not(encoder: E5Encoder) -> None:
    index = embedding_index([document(encoder, t) for t in (KITA, KITA_TOO, DOGS, GRAVES)])
    kita, dogs, graves = index.pair_scores(ids(0, 0, 0), ids(1, 2, 3))
    assert kita > dogs and kita > graves
    assert kita > 0.2  # well above the floor, which small rounds take from SPACE_FLOOR
    assert index.floor == SPACE_FLOOR
    # By words the two share nothing at all.
    words = TfidfSimilarity().index([Document(t) for t in (KITA, KITA_TOO)])
    assert words.pair_scores(ids(0), ids(1))[0] == 0.0


@pytest.mark.parametrize(
    ("person", "same_task", "look_alike"),
    [
        (
            "Gleichstellungsbeauftragte",
            "Chancengleichheit von Frauen und Männern in der Verwaltung fördern",
            "Informationssicherheitsbeauftragter",
        ),
        (
            "Kita-Finanzierung nach KiBiz, Abschläge und Spitzabrechnung",
            "Trägerzuschüsse Kindertageseinrichtungen, Verwendungsnachweise",
            "KMU-Förderrichtlinie: Bewilligung und Auszahlung",
        ),
    ],
)
def test_in_the_task_space_the_same_task_beats_a_look_alike(
    encoder: E5Encoder, person: str, same_task: str, look_alike: str
) -> None:
    """e5's own cosine puts the look-alike of another task first, the task space the
    colleague with the same task (a task of the paraphrase pool, which the space is fitted on,
    and one of the unseen pool's)."""
    documents = [document(encoder, t) for t in (person, same_task, look_alike)]
    own = embedding_index(documents, space=None).pair_scores(ids(0, 0), ids(1, 2))
    in_space = embedding_index(documents).pair_scores(ids(0, 0), ids(1, 2))
    assert own[0] < own[1]
    assert in_space[0] > in_space[1]


def test_in_the_task_space_more_people_find_a_colleague_with_the_same_task(
    encoder: E5Encoder,
) -> None:
    """Each phrase of the unseen pool (tasks in groups of three that share words) as a person
    among all its phrases: the nearest other person wrote about the same task for 72.1 % in
    the task space and 52.9 % by e5's own cosine (docs/BENCHMARKS.md, "Paraphrased tasks");
    single examples go either way."""
    topics = [
        entry
        for path in sorted(UNSEEN_POOL.glob("*.yaml"))
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))
    ]
    phrases = [str(p) for t in topics for p in t["phrases"]]
    tasks = np.array([t["topic"] for t in topics for _ in t["phrases"]])
    vectors = encoder.encode_blocking(phrases, query=True)
    documents = [Document(p, (), (p,), vectors[i : i + 1]) for i, p in enumerate(phrases)]
    everyone = np.arange(len(documents))

    def nearest_shares_the_task(index: EmbeddingIndex) -> float:
        scores = index.similarity_between(everyone, everyone)
        np.fill_diagonal(scores, -np.inf)
        return float(np.mean(tasks[scores.argmax(axis=1)] == tasks))

    in_space = nearest_shares_the_task(embedding_index(documents))
    own = nearest_shares_the_task(embedding_index(documents, space=None))
    assert in_space >= own + 0.1


def test_the_closest_phrases_explain_a_pair(encoder: E5Encoder) -> None:
    index = embedding_index(
        [
            document(encoder, f"{KITA}; Elternabende organisieren", ("Haushalt",)),
            document(encoder, f"{DOGS}; {KITA_TOO}"),
            document(encoder, GRAVES),
        ]
    )
    pair, unrelated = index.closest([[0, 1], [1, 2]])
    assert pair == (KITA, KITA_TOO)
    assert unrelated == ()  # nothing they wrote is about the same task


def test_a_trio_is_explained_by_one_phrase_each(encoder: E5Encoder) -> None:
    index = embedding_index(
        [
            document(encoder, f"{KITA}; {GRAVES}"),
            document(encoder, KITA_TOO),
            document(encoder, f"{DOGS}\nKita-Plätze vergeben"),
        ]
    )
    (trio,) = index.closest([[0, 1, 2]])
    assert trio == (KITA, KITA_TOO, "Kita-Plätze vergeben")


def test_an_outside_text_finds_its_meaning(encoder: E5Encoder) -> None:
    index = embedding_index([document(encoder, t) for t in (DOGS, KITA_TOO, GRAVES)])
    best = index.rank(document(encoder, KITA), 3)
    assert best[0][0] == 1
    # Without vectors the query is compared by words: nothing shared, nothing found.
    assert index.rank(Document(KITA), 3) == []


def test_without_vectors_a_person_is_compared_by_words_with_everyone(encoder: E5Encoder) -> None:
    texts = [KITA, KITA_TOO, "Kita-Plätze und Elternbeiträge", DOGS]
    documents = [document(encoder, t) for t in texts[:2]] + [Document(t) for t in texts[2:]]
    index = embedding_index(documents)
    words = TfidfSimilarity().index([Document(t) for t in texts])
    everyone = np.arange(4)
    matrix = index.similarity_between(everyone, everyone)
    # Pairs with a document without vectors are scored by words, the others by meaning.
    assert np.allclose(matrix[2], words.similarity_between(ids(2), everyone)[0])
    assert np.allclose(matrix[:, 3], words.similarity_between(everyone, ids(3))[:, 0])
    assert matrix[0, 1] > 0
    assert index.without_vectors == 2
    found = index.top_k(2)
    assert set(found.cols[found.rows == 2]) >= {0}  # "Kita" in common with the first
    assert 2 in set(found.cols[found.rows == 0])  # offered back to the other side


def test_without_any_vectors_everything_is_compared_by_words() -> None:
    documents = [Document(t) for t in (KITA, DOGS)]
    assert isinstance(EmbeddingSimilarity().index(documents), TfidfIndex)


def test_too_many_without_vectors_compare_everyone_by_words(encoder: E5Encoder) -> None:
    documents = [document(encoder, KITA)] + [Document(t) for t in (KITA_TOO, DOGS, GRAVES)]
    similarity = EmbeddingSimilarity(max_without_vectors=2, words_share=0.5)
    assert isinstance(similarity.index(documents), TfidfIndex)
    assert isinstance(EmbeddingSimilarity().index(documents), EmbeddingIndex)


def test_topics_that_mean_the_same_are_grouped_under_the_first(encoder: E5Encoder) -> None:
    topics = ["Friedhofswesen", "Digitalisierung", "Friedhöfe", "Bestattungswesen"]
    topics += ["digitale Verwaltung", "Wahlen"]
    vectors = dict(zip(topics, encoder.encode_blocking(topics, query=True), strict=True))
    grouped = group_topics([*topics, "ohne Vektor"], vectors)
    assert grouped == {
        "Friedhofswesen": "Friedhofswesen",
        "Digitalisierung": "Digitalisierung",
        "Friedhöfe": "Friedhofswesen",
        "Bestattungswesen": "Friedhofswesen",
        "digitale Verwaltung": "Digitalisierung",
        "Wahlen": "Wahlen",
        "ohne Vektor": "ohne Vektor",
    }


# --- properties, with random vectors --------------------------------------------------------------

WORDS = ["antrag", "kita", "wohngeld", "vergabe", "klima", "schule", "brand", "wahl"]


def unit(
    rng: np.random.Generator, count: int, centre: np.ndarray, spread: float = 0.35
) -> np.ndarray:
    """Unit vectors around a centre, as phrase vectors sit around "German admin text"."""
    raw = centre + spread * rng.standard_normal((count, len(centre)))
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


@st.composite
def collections(draw: st.DrawFn, dimensions: int) -> list[Document]:
    n = draw(st.integers(2, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    centre = rng.standard_normal(dimensions)
    centre /= np.linalg.norm(centre)
    documents = []
    for _ in range(n):
        words = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))
        if draw(st.integers(0, 4)) == 0:
            documents.append(Document(words))  # not encoded yet
            continue
        phrases = tuple(f"{words} {i}" for i in range(draw(st.integers(1, 4))))
        documents.append(Document(words, (), phrases, unit(rng, len(phrases), centre)))
    if all(d.vectors is None for d in documents):
        documents[0] = Document("x", (), ("x y z",), unit(rng, 1, centre))
    return documents


@settings(max_examples=40, deadline=None)
@given(
    documents=st.sampled_from([16, DIMENSIONS]).flatmap(collections),
    groups=st.integers(1, 3),
    k=st.integers(1, 5),
)
def test_scores_are_symmetric_in_0_1_and_top_k_is_the_best_allowed(
    documents: list[Document], groups: int, k: int
) -> None:
    # Vectors of the model's size are compared in the task space, as in a round.
    encoded = next(d.vectors for d in documents if d.vectors is not None)
    in_space = encoded.shape[1] == DIMENSIONS
    index = embedding_index(documents, reach=None, space=shipped_task_space() if in_space else None)
    n = len(documents)
    everyone = np.arange(n)
    matrix = index.similarity_between(everyone, everyone)
    assert np.allclose(matrix, matrix.T, atol=1e-5)
    assert (matrix >= 0).all() and (matrix <= 1 + 1e-6).all()
    rows, cols = np.triu_indices(n, k=1)
    assert np.allclose(index.pair_scores(rows, cols), matrix[rows, cols], atol=1e-5)

    apart = everyone % groups
    extra = (everyone % 3) * 0.02
    discount = (everyone % 2) * 0.05

    def weigh(r: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
        w = s + extra[c]
        w[(r + c) % 5 == 0] = -np.inf
        return w

    found = index.top_k(k, weigh, apart, max_bonus=0.04, discount=discount)
    assert np.allclose(found.similarity, matrix[found.rows, found.cols], atol=1e-5)
    assert np.allclose(found.weight, found.similarity + extra[found.cols])
    for row in range(n):
        # Exact below the cell size, whether the row or its partners have vectors or not.
        allowed = [
            c
            for c in range(n)
            if apart[c] != apart[row] and matrix[row, c] > 0 and (row + c) % 5 != 0
        ]
        best = sorted((matrix[row, c] + extra[c] - discount[c] for c in allowed), reverse=True)
        mine = found.rows == row
        got = sorted(found.weight[mine] - discount[found.cols[mine]], reverse=True)
        assert np.allclose(got, best[:k], atol=1e-5)


def test_cells_find_nearly_the_exact_best_at_scale() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((40, 32))
    documents = []
    for i in range(3000):  # people with one or two of 40 topics
        topic = centres[i % 40] + (i % 3 == 0) * centres[(i * 7) % 40]
        vectors = unit(rng, 2, topic / np.linalg.norm(topic), spread=0.06)
        documents.append(Document("", (), ("a", "b"), vectors))
    apart = np.arange(3000) % 7
    exact = embedding_index(documents, floor=0.0, space=None).top_k(10, None, apart)
    cells = embedding_index(
        documents, floor=0.0, space=None, exact_up_to=500, cell_size=200, dimensions=None
    )
    found = cells.top_k(10, None, apart)
    assert (apart[found.rows] != apart[found.cols]).all()
    assert np.bincount(found.rows, minlength=3000).max() <= 10
    assert found.similarity.sum() >= 0.99 * exact.similarity.sum()


def test_above_the_exact_size_people_are_compared_in_fewer_dimensions() -> None:
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((8, 64))
    documents = [
        Document("", (), ("a",), unit(rng, 1, centres[i % 8] / 8, spread=0.02)) for i in range(400)
    ]
    full = embedding_index(documents, floor=0.0, space=None)
    reduced = embedding_index(documents, floor=0.0, space=None, exact_up_to=100, dimensions=16)
    everyone = np.arange(400)
    a = full.similarity_between(everyone, everyone)
    b = reduced.similarity_between(everyone, everyone)
    # The main directions keep what matters: each person's nearest others stay the nearest.
    nearest = np.argsort(-(a - 2 * np.eye(400)), axis=1)[:, :5]
    ranks = np.argsort(np.argsort(-(b - 2 * np.eye(400)), axis=1), axis=1)
    assert np.median(np.take_along_axis(ranks, nearest, axis=1)) < 25
    assert np.mean(np.take_along_axis(ranks, nearest, axis=1) < 49) > 0.9  # same topic


def test_a_space_that_keeps_fewer_dimensions_is_not_projected_again() -> None:
    """The shipped task space keeps fewer directions than the projection above the exact
    size would: those people are compared in the space as they are, as below that size."""
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((8, 32))
    vectors = [unit(rng, 1, centres[i % 8] / 8, spread=0.05) for i in range(300)]
    documents = [Document("", (), ("a",), v) for v in vectors]
    labels = [str(i % 8) for i in range(300)]
    space = TaskSpace.fit("test", np.vstack(vectors), labels, directions=6)
    exact = embedding_index(documents, floor=0.0, space=space)
    large = embedding_index(documents, floor=0.0, space=space, exact_up_to=100, dimensions=16)
    everyone = np.arange(300)
    assert np.allclose(
        large.similarity_between(everyone, everyone), exact.similarity_between(everyone, everyone)
    )


def test_person_vectors_built_in_chunks_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large populations are taken into the space a chunk of people at a time (memory); the
    chunks must change neither anyone's vector nor which phrases explain a pair."""
    rng = np.random.default_rng(6)
    centres = rng.standard_normal((5, 24))
    vectors = [unit(rng, 1 + i % 3, centres[i % 5] / 5, spread=0.1) for i in range(50)]
    documents = [
        Document("", (), tuple(f"{i}.{k}" for k in range(len(v))), v) for i, v in enumerate(vectors)
    ]
    documents[7] = Document("Kita-Plätze vergeben")  # no vectors yet: compared by words
    labels = [str(i % 5) for i, v in enumerate(vectors) for _ in range(len(v))]
    space = TaskSpace.fit("test", np.vstack(vectors), labels, directions=4)
    whole = embedding_index(documents, floor=0.0, space=space)
    monkeypatch.setattr(index_module, "_PEOPLE_CHUNK", 7)
    chunked = embedding_index(documents, floor=0.0, space=space)
    everyone = np.arange(50)
    assert np.allclose(
        chunked.similarity_between(everyone, everyone),
        whole.similarity_between(everyone, everyone),
        atol=1e-6,
    )
    pairs = [[i, i + 5] for i in range(0, 45, 3)]
    assert chunked.closest(pairs) == whole.closest(pairs)
