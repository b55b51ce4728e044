"""Profile field parsers: examples and hypothesis properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.domain.answers import parse_yes_no
from bot.domain.dialog_answers import Control, parse_control
from bot.domain.languages import LANGUAGES, language_name, parse_languages
from bot.domain.profile import (
    PAUSE_WEEKS_MAX,
    ProfileField,
    coffee_state,
    field_by_name,
    pause_end,
    suggest_field,
)
from bot.domain.profile_fields import (
    CHOICE_MAX,
    TOPIC_MAX,
    FieldError,
    FieldErrorCode,
    parse_availability,
    parse_choice,
    parse_tasks,
    parse_topics,
)
from bot.domain.text_cleaning import clean_text, fold, is_clear

DEPARTMENTS = [
    "Gesundheitsamt",
    "Ordnungsamt",
    "Jugendamt",
    "Sozialamt",
    "Bauaufsicht",
    "IT/Digitalisierung",
    "Bürgeramt",
]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf")),
    max_size=300,
)
topic_word = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" -"), min_size=2, max_size=30
).filter(lambda t: len(clean_text(t)) >= 2)


# -- examples ----------------------------------------------------------------------------


def test_field_names_german_and_english() -> None:
    assert field_by_name("Abteilung") is ProfileField.DEPARTMENT
    assert field_by_name("department") is ProfileField.DEPARTMENT
    assert field_by_name("KOMMUNE") is ProfileField.MUNICIPALITY
    assert field_by_name("themen") is ProfileField.TOPICS
    assert field_by_name("erreichbarkeit") is ProfileField.AVAILABILITY
    assert field_by_name("@bob:example.org") is None
    assert "themen" in suggest_field("temen")


def test_choice_exact_ignores_case_spaces_and_umlaut_spelling() -> None:
    assert parse_choice("  gesundheitsamt ", DEPARTMENTS, free=False) == "Gesundheitsamt"
    assert parse_choice("Buergeramt", DEPARTMENTS, free=False) == "Bürgeramt"
    assert parse_choice("it digitalisierung", DEPARTMENTS, free=False) == "IT/Digitalisierung"


def test_choice_typo_gets_a_suggestion_even_with_free_text() -> None:
    for free in (True, False):
        result = parse_choice("Gesundhetsamt", DEPARTMENTS, free=free)
        assert isinstance(result, FieldError)
        assert result.code is FieldErrorCode.DID_YOU_MEAN
        assert result.suggestions[0] == "Gesundheitsamt"


def test_choice_abbreviation_suggests_by_prefix() -> None:
    result = parse_choice("Gesundheit", DEPARTMENTS, free=True)
    assert isinstance(result, FieldError) and "Gesundheitsamt" in result.suggestions


def test_choice_free_text_and_quotes() -> None:
    assert parse_choice("Stabsstelle Klimaschutz", DEPARTMENTS, free=True) == (
        "Stabsstelle Klimaschutz"
    )
    assert parse_choice('"Gesundhetsamt"', DEPARTMENTS, free=True) == "Gesundhetsamt"
    assert parse_choice("»Gesundhetsamt«", DEPARTMENTS, free=True) == "Gesundhetsamt"
    # Quotes do not open a closed list.
    closed = parse_choice('"Gesundhetsamt"', DEPARTMENTS, free=False)
    assert isinstance(closed, FieldError) and closed.code is FieldErrorCode.DID_YOU_MEAN


def test_choice_closed_list_names_options() -> None:
    result = parse_choice("Stabsstelle Klimaschutz", DEPARTMENTS, free=False)
    assert isinstance(result, FieldError)
    assert result.code is FieldErrorCode.NOT_IN_LIST
    assert result.suggestions and set(result.suggestions) <= set(DEPARTMENTS)


def test_choice_without_list_is_free() -> None:
    assert parse_choice("Musterstadt", [], free=False) == "Musterstadt"


def test_choice_errors() -> None:
    assert parse_choice("   ", DEPARTMENTS, free=True) == FieldError(FieldErrorCode.EMPTY)
    long = parse_choice("x" * (CHOICE_MAX + 1), DEPARTMENTS, free=True)
    assert isinstance(long, FieldError) and long.code is FieldErrorCode.TOO_LONG


def test_topics() -> None:
    assert parse_topics("Wohngeld, #Digitalisierung; wohngeld\nE-Akte", 10) == (
        "Wohngeld",
        "Digitalisierung",
        "E-Akte",
    )
    too_many = parse_topics(", ".join(f"Thema {i}" for i in range(11)), 10)
    assert isinstance(too_many, FieldError) and too_many.code is FieldErrorCode.TOO_MANY
    assert too_many.limit == 10 and too_many.fragment == "11"
    long = parse_topics("Wohngeld, " + "x" * (TOPIC_MAX + 1), 10)
    assert isinstance(long, FieldError) and long.code is FieldErrorCode.TOPIC_TOO_LONG
    short = parse_topics("Wohngeld, x", 10)
    assert isinstance(short, FieldError) and short.code is FieldErrorCode.TOPIC_TOO_SHORT
    assert parse_topics(" , ;", 10) == FieldError(FieldErrorCode.EMPTY)


def test_languages() -> None:
    assert parse_languages("Deutsch, Englisch (B2), türkisch") == ("de", "en", "tr")
    assert parse_languages("German and English / Arabic") == ("de", "en", "ar")
    assert parse_languages("DGS, Farsi, fließend Französisch") == ("gsg", "fa", "fr")
    assert parse_languages("de, EN, de") == ("de", "en")
    typo = parse_languages("Deutsch, Englsich")
    assert isinstance(typo, FieldError) and typo.code is FieldErrorCode.UNKNOWN_LANGUAGE
    assert typo.fragment == "Englsich" and "Englisch" in typo.suggestions
    unknown = parse_languages("Klingonisch")
    assert isinstance(unknown, FieldError) and unknown.code is FieldErrorCode.UNKNOWN_LANGUAGE
    assert language_name("tr", "de") == "Türkisch" and language_name("tr", "en") == "Turkish"


def test_free_text_cleaning() -> None:
    assert parse_tasks("  Ich  bearbeite\n\tWohngeld\u202e ") == "Ich bearbeite Wohngeld"
    too_long = parse_availability("x" * 201)
    assert isinstance(too_long, FieldError) and too_long.limit == 200
    assert is_clear("-") and is_clear("  ") and not is_clear("a")


def test_controls_and_yes_no() -> None:
    assert parse_control("Zurück") is Control.BACK
    assert parse_control("zurueck") is Control.BACK
    assert parse_control("überspringen") is Control.SKIP
    assert parse_control("Skip.") is Control.SKIP
    assert parse_control("abbrechen") is Control.CANCEL
    assert parse_control("cancel") is Control.CANCEL
    assert parse_control("Gesundheitsamt") is None
    assert parse_yes_no("Ja!") is True and parse_yes_no("yes") is True
    assert parse_yes_no("Nein") is False and parse_yes_no("no") is False
    assert parse_yes_no("vielleicht") is None


def test_coffee_state_and_pause() -> None:
    assert coffee_state(False, None, NOW) == "off"
    assert coffee_state(True, None, NOW) == "on"
    until = pause_end(NOW, 3)
    assert until == NOW + timedelta(weeks=3)
    assert coffee_state(True, until, NOW) == "paused"
    assert coffee_state(True, until, until + timedelta(seconds=1)) == "on"
    assert coffee_state(False, until, NOW) == "off"
    with pytest.raises(ValueError):
        pause_end(NOW, PAUSE_WEEKS_MAX + 1)
    with pytest.raises(ValueError):
        pause_end(NOW, 0)


# -- properties --------------------------------------------------------------------------


@given(text, st.booleans())
def test_choice_never_crashes_and_is_one_clean_line(raw: str, free: bool) -> None:
    result = parse_choice(raw, DEPARTMENTS, free=free)
    if isinstance(result, str):
        assert result == result.strip() and "\n" not in result
        assert 0 < len(result) <= CHOICE_MAX
        assert free or result in DEPARTMENTS


@given(st.sampled_from(DEPARTMENTS), st.sampled_from([str.upper, str.lower, str.title]), text)
def test_any_casing_of_a_listed_value_is_that_value(
    choice: str, case: object, padding: str
) -> None:
    spaces = " " * (len(padding) % 4)
    typed = spaces + case(choice) + spaces  # type: ignore[operator]
    assert parse_choice(typed, DEPARTMENTS, free=False) == choice


@given(st.lists(topic_word, min_size=1, max_size=8))
def test_topics_round_trip(words: list[str]) -> None:
    parsed = parse_topics(", ".join(words), 10)
    assume(not isinstance(parsed, FieldError))
    assert isinstance(parsed, tuple)
    # What we store, written out again, parses to the same.
    assert parse_topics(", ".join(parsed), 10) == parsed
    assert len({fold(t) for t in parsed}) == len(parsed)
    assert all(t == clean_text(t) and t for t in parsed)


@given(text, st.integers(min_value=1, max_value=50))
def test_topics_respect_limits(raw: str, max_count: int) -> None:
    parsed = parse_topics(raw, max_count)
    if isinstance(parsed, tuple):
        assert 1 <= len(parsed) <= max_count
        assert all(2 <= len(t) <= TOPIC_MAX and "," not in t and ";" not in t for t in parsed)


@given(st.lists(st.sampled_from(sorted(LANGUAGES)), min_size=1, max_size=6), st.booleans())
def test_language_names_round_trip(codes: list[str], english: bool) -> None:
    names = [language_name(code, "en" if english else "de") for code in codes]
    assert parse_languages(", ".join(names)) == tuple(dict.fromkeys(codes))


@given(text)
def test_languages_never_crash(raw: str) -> None:
    parsed = parse_languages(raw)
    if isinstance(parsed, tuple):
        assert parsed and all(code in LANGUAGES for code in parsed)


@given(text)
def test_free_text_is_bounded_and_idempotent(raw: str) -> None:
    parsed = parse_tasks(raw)
    if isinstance(parsed, str):
        assert parse_tasks(parsed) == parsed
        assert all(ch.isprintable() for ch in parsed)
