"""Cutting free text into the phrases that get one vector each."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.phrases import MAX_PHRASE_CHARS, MAX_PHRASES, split_phrases, split_tasks


def test_tasks_are_cut_at_commas_semicolons_lines_and_sentence_ends() -> None:
    text = "Vergabe von Kita-Plätzen, Elternberatung; Gebühren berechnen.\nWiderspruchsverfahren"
    assert split_phrases(text) == (
        "Vergabe von Kita-Plätzen",
        "Elternberatung",
        "Gebühren berechnen",
        "Widerspruchsverfahren",
    )


def test_a_task_field_is_not_cut_at_commas() -> None:
    # The steps of one task stay together: cut, "Dokumente ausgeben" would fit anyone.
    text = "PA/RP-Anträge aufnehmen, Fingerabdrücke erfassen, Dokumente ausgeben; Meldewesen,"
    assert split_tasks(text, ["Ausweise"]) == (
        "PA/RP-Anträge aufnehmen, Fingerabdrücke erfassen, Dokumente ausgeben",
        "Meldewesen",
        "Ausweise",
    )


def test_und_joins_one_task_and_topics_follow_once() -> None:
    phrases = split_phrases(
        "Bau- und Wohnungsaufsicht", ["Bauaufsicht", "bau- und wohnungsaufsicht"]
    )
    assert phrases == ("Bau- und Wohnungsaufsicht", "Bauaufsicht")


def test_nothing_to_encode_for_empty_or_tiny_text() -> None:
    assert split_phrases(None) == ()
    assert split_phrases(" , ; .. ") == ()
    assert split_phrases("ab, IT") == ()


@given(
    st.text(max_size=3000),
    st.lists(st.text(max_size=300), max_size=20),
    st.sampled_from([split_phrases, split_tasks]),
)
def test_bounded_and_deterministic(
    text: str, topics: list[str], cut: Callable[[str | None, Iterable[str]], tuple[str, ...]]
) -> None:
    phrases = cut(text, topics)
    assert len(phrases) <= MAX_PHRASES
    assert all(3 <= len(p) <= MAX_PHRASE_CHARS for p in phrases)
    assert len({p.casefold() for p in phrases}) == len(phrases)
    assert phrases == cut(text, topics)
