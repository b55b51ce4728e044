"""The glossary format of organisation kinds: what is read, and what is refused with a reason."""

from __future__ import annotations

import pytest

from bot.domain.organisation_kinds import GlossaryError, Kind, parse_glossary


def test_a_glossary_is_read_with_its_texts_tidied() -> None:
    loaded = [{"names": ["Imkerverein", " Imkerei "], "requests": ["Bienen  einfangen"]}]
    assert parse_glossary(loaded) == [Kind(("Imkerverein", "Imkerei"), ("Bienen einfangen",))]


@pytest.mark.parametrize(
    ("loaded", "named"),
    [
        ({"names": ["Imkerei"]}, "YAML list"),
        ([], "YAML list"),
        ([{"names": ["Imkerei"]}], "exactly the keys"),
        ([{"names": [], "requests": ["Bienen einfangen"]}], "kind 1: 'names'"),
        ([{"names": ["Imkerei"], "requests": ["ok"]}, {"names": ["A"], "requests": [3]}], "kind 2"),
        ([{"names": ["Imkerei"], "requests": ["x" * 301]}], "at most 300"),
    ],
)
def test_a_malformed_glossary_is_refused_with_where_and_how(loaded: object, named: str) -> None:
    with pytest.raises(GlossaryError, match=named):
        parse_glossary(loaded)
