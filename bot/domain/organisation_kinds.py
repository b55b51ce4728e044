"""The format of a glossary of organisation kinds (bot/data/crisis_organisation_kinds.yaml,
and an operator's own file, `crisis.organisation_kinds`): a YAML list of kinds, each with the
words found in such organisations' names and requests someone there could help with.

    - names: [Hotel, Pension, Gasthof, DEHOGA]
      requests:
        - Zimmer für 40 Einsatzkräfte für drei Nächte gesucht
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_TEXT = 300


class GlossaryError(ValueError):
    """A glossary that cannot be read; the message says where and how it should look."""


@dataclass(frozen=True)
class Kind:
    names: tuple[str, ...]
    requests: tuple[str, ...]


def _texts(entry: dict[str, Any], key: str, at: int) -> tuple[str, ...]:
    values = entry.get(key)
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() and len(v) <= MAX_TEXT for v in values)
    ):
        raise GlossaryError(
            f"kind {at}: '{key}' must be a non-empty list of texts (each at most {MAX_TEXT} "
            "characters)"
        )
    return tuple(" ".join(v.split()) for v in values)


def read_glossary(text: str) -> list[Kind]:
    """The kinds of a glossary file's text (the shipped one, or an operator's)."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GlossaryError(f"not valid YAML ({exc})") from exc
    return parse_glossary(loaded)


def parse_glossary(loaded: object) -> list[Kind]:
    """The kinds of a loaded YAML document (`yaml.safe_load`)."""
    if not isinstance(loaded, list) or not loaded:
        raise GlossaryError(
            "a glossary is a YAML list of kinds, e.g. '- names: [Hotel, Pension]' with "
            "'requests: [Zimmer für 40 Einsatzkräfte]'"
        )
    kinds = []
    for at, entry in enumerate(loaded, 1):
        if not isinstance(entry, dict) or set(entry) != {"names", "requests"}:
            raise GlossaryError(f"kind {at}: it has exactly the keys 'names' and 'requests'")
        kinds.append(Kind(_texts(entry, "names", at), _texts(entry, "requests", at)))
    return kinds
