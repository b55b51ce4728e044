"""Which kinds of organisation a name names (bot.domain.kind_names)."""

from __future__ import annotations

import pytest

from bot.domain.kind_names import KindNames

NAMES = KindNames(
    [
        "Hotel",
        "Klinikum",
        "Kühltransport",
        "Evangelische Kirchengemeinde",
        "BUND",
        "DRK",
        "Landkreis",
        "Veterinäramt",
        "Bau",
        "Notschlafstelle",
    ],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
)


@pytest.mark.parametrize(
    ("organisation", "kinds"),
    [
        ("Hotel Kaiserhof Eichstätten", {0}),
        ("Parkhotel am See", {0}),  # the head of a compound
        ("Kreisklinikum Talheim", {1}),
        ("Spedition Kühne Kühltransporte", {2}),  # plural
        ("evangelische kirchengemeinde st. petri", {3}),  # typed in lower case
        ("Evangelischen Kirchengemeinde Süd", {3}),  # another case ending
        ("DRK Kreisverband", {5}),
        ("Landkreis Oberfeld, Veterinäramt", {6, 7}),
        ("Jugendnotschlafstelle „Sleep In“", {9}),
    ],
)
def test_a_kind_is_found_by_its_name_words(organisation: str, kinds: set[int]) -> None:
    assert set(NAMES.named(organisation)) == kinds


@pytest.mark.parametrize(
    "organisation",
    [
        "Jugendhilfeverbund St. Josef",  # an abbreviation stands as written: not the BUND
        "Bund der Vertriebenen",
        "Drk-ähnlich Verein",
        "Anbau Müller",  # "Bau" is too short to be a compound's head
        "Kirchengemeinde Evangelische",  # a name's words in its own order only
        "Kaiserhof GmbH",
    ],
)
def test_what_only_resembles_a_name_names_no_kind(organisation: str) -> None:
    assert NAMES.named(organisation) == {}


def test_the_longer_name_found_is_the_more_specific() -> None:
    found = NAMES.named("Landkreis Oberfeld, Veterinäramt")
    assert found[7] > found[6]
