"""Free text cut into the phrases the embedding model encodes one by one.

People list several tasks in one field ("Vergabe von Kita-Plätzen; Elternberatung. Gebühren
berechnen"). One vector per phrase keeps each task recognisable: measured on German task
phrases, per-phrase vectors beat one vector for the whole text (docs/semantics.md). A task
field is cut at semicolons, lines, bullets and sentence ends but not at commas
(`split_tasks`): a comma as often lists the steps of one task ("PA/RP-Anträge aufnehmen,
Fingerabdrücke erfassen, Dokumente ausgeben"), and cut there the steps ("Dokumente
ausgeben") fit any colleague; whole, a comma list still finds colleagues who share one of its
tasks more often (docs/BENCHMARKS.md, "Meaning"). Lists of short items, such as a sector's
description, are cut at commas too (`split_phrases`). The cut is deterministic, so the
stored vectors of a text always line up with its phrases again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Semicolons, line breaks, bullets and sentence ends separate tasks, and commas separate the
# items of a list; "und" does not ("Bau- und Wohnungsaufsicht" is one task).
_TASK_SEPARATORS = re.compile(r"[;\n\r•·|]+|(?<=[a-zäöüß)])[.!?]+(?=\s|$)|\s[-–—]\s")
_ITEM_SEPARATORS = re.compile(r",+|" + _TASK_SEPARATORS.pattern)
_SPACE = re.compile(r"\s+")
MAX_PHRASES = 12
MAX_PHRASE_CHARS = 200
MIN_PHRASE_CHARS = 3


def split_phrases(text: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The items of a list in `text` (cut at commas too), then `extra`, each once, at most
    `MAX_PHRASES`."""
    return _split(_ITEM_SEPARATORS, text, extra)


def split_tasks(text: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The tasks of a task field (not cut at commas), then `extra` (topic tags), each once,
    at most `MAX_PHRASES`."""
    return _split(_TASK_SEPARATORS, text, extra)


def _split(separators: re.Pattern[str], text: str | None, extra: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, str] = {}
    parts = separators.split(text or "")
    for part in [*parts, *extra]:
        phrase = _SPACE.sub(" ", part).strip(" .,-–—:()\"'»«„“")[:MAX_PHRASE_CHARS].strip()
        if len(phrase) >= MIN_PHRASE_CHARS:
            found.setdefault(phrase.casefold(), phrase)
    return tuple(found.values())[:MAX_PHRASES]
