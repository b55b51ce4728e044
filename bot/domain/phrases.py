"""Free text cut into the phrases the embedding model encodes one by one.

People list several tasks in one field ("Vergabe von Kita-Plätzen, Elternberatung; Gebühren
berechnen"). One vector per phrase keeps each task recognisable: measured on German task
phrases, per-phrase vectors beat one vector for the whole text (docs/semantics.md). The cut is
deterministic, so the stored vectors of a text always line up with its phrases again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Commas, semicolons, line breaks, bullets and sentence ends separate tasks; "und" does not
# ("Bau- und Wohnungsaufsicht" is one task).
_SEPARATORS = re.compile(r"[,;\n\r•·|]+|(?<=[a-zäöüß)])[.!?]+(?=\s|$)|\s[-–—]\s")
_SPACE = re.compile(r"\s+")
MAX_PHRASES = 12
MAX_PHRASE_CHARS = 200
MIN_PHRASE_CHARS = 3


def split_phrases(text: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The phrases of `text`, then `extra` (topic tags), each once, at most `MAX_PHRASES`."""
    found: dict[str, str] = {}
    parts = _SEPARATORS.split(text or "")
    for part in [*parts, *extra]:
        phrase = _SPACE.sub(" ", part).strip(" .-–—:()\"'»«„“")[:MAX_PHRASE_CHARS].strip()
        if len(phrase) >= MIN_PHRASE_CHARS:
            found.setdefault(phrase.casefold(), phrase)
    return tuple(found.values())[:MAX_PHRASES]
