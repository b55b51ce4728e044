"""Cutting free text into the phrases that get one vector each."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.phrases import MAX_PHRASE_CHARS, MAX_PHRASES, split_phrases


def test_tasks_are_cut_at_commas_semicolons_lines_and_sentence_ends() -> None:
    text = "Vergabe von Kita-Plätzen, Elternberatung; Gebühren berechnen.\nWiderspruchsverfahren"
    assert split_phrases(text) == (
        "Vergabe von Kita-Plätzen",
        "Elternberatung",
        "Gebühren berechnen",
        "Widerspruchsverfahren",
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


@given(st.text(max_size=3000), st.lists(st.text(max_size=300), max_size=20))
def test_bounded_and_deterministic(text: str, topics: list[str]) -> None:
    phrases = split_phrases(text, topics)
    assert len(phrases) <= MAX_PHRASES
    assert all(3 <= len(p) <= MAX_PHRASE_CHARS for p in phrases)
    assert len({p.casefold() for p in phrases}) == len(phrases)
    assert phrases == split_phrases(text, topics)
