"""Counted nouns in the catalogues: "1 Platz", "2 Plätze" – never "1 Plätze", "Absage(n)"
or "Wunsch/Wünsche". A number placed before a noun declares both forms with
`{n:plural:Platz|Plätze}`; these checks make a new message follow the rule."""

from __future__ import annotations

import re

import pytest

from bot.i18n import LANGS, catalogue
from bot.i18n.render import render, render_template

# A placeholder followed by a word: in German a capitalised word is a noun.
_AFTER_PLACEHOLDER = re.compile(r"\{(\w+)\} (\w[\w-]*)")
# Nouns whose singular and plural are the same, and words after a placeholder that are not
# counted at all ("{until} Uhr", "{reason} So geht es").
_GERMAN_NOT_COUNTED = {"Zeichen", "Teilnehmenden", "Uhr", "Min", "So"}
# English words ending in "s" after a placeholder that are verbs or units, not plurals.
_ENGLISH_NOT_COUNTED = {"is", "was", "has", "applies", "lies", "s", "yes", "This"}
# "Absage(n)", "message(s)", "Wunsch/Wünsche" (two capitalised words: not a URL path).
_BRACKETED_PLURAL = re.compile(r"\w\((?:e|en|n|s|es)\)|\b[A-ZÄÖÜ]\w+/[A-ZÄÖÜ]\w+")


def test_no_bracketed_or_slashed_plural() -> None:
    found = [
        (key, lang)
        for key, texts in catalogue().items()
        for lang in LANGS
        if _BRACKETED_PLURAL.search(texts[lang].replace("Kolleg:innen", ""))
    ]
    assert found == []


def test_every_counted_noun_uses_the_plural_rule() -> None:
    found = []
    for key, texts in catalogue().items():
        for match in _AFTER_PLACEHOLDER.finditer(texts["de"]):
            word = match.group(2)
            if word[0].isupper() and word not in _GERMAN_NOT_COUNTED:
                found.append((key, match.group(0)))
        for match in _AFTER_PLACEHOLDER.finditer(texts["en"]):
            word = match.group(2)
            if word.endswith("s") and word not in _ENGLISH_NOT_COUNTED:
                found.append((key, match.group(0)))
    assert found == []


@pytest.mark.parametrize(
    ("count", "expected"), [(1, "1 Platz"), (2, "2 Plätze"), (0, "0 Plätze"), ("1", "1 Platz")]
)
def test_plural_rule_picks_the_form(count: object, expected: str) -> None:
    assert render_template("{n:plural:Platz|Plätze}", {"n": count}).plain == expected


def test_one_place_is_one_platz() -> None:
    text = render(
        "hosp.offered_unannounced",
        "de",
        id="H-1",
        title="Bauaufsicht",
        when="Mo",
        places=1,
        prefix="!",
    ).plain
    assert "1 Platz)" in text and "1 Plätze" not in text


def test_a_plural_spec_without_both_forms_is_refused() -> None:
    with pytest.raises(ValueError, match="singular"):
        render_template("{n:plural:Platz}", {"n": 1})
