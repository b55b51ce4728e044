"""Parsing and validating profile fields as typed in chat (or imported by an operator).
Pure: no I/O.

Every parser takes the raw text as typed and returns either the clean value or a
`FieldError` that says what is wrong (a code, the offending fragment, suggestions), so the
chat layer can tell the person how to write it correctly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.text_cleaning import clean_text, fold, unquote

# Limits: long enough for real answers, short enough to keep introductions readable and
# to bound what a person can make the bot store.
NAME_MAX = 80
CHOICE_MAX = 80  # department, municipality
TASKS_MAX = 1000
AVAILABILITY_MAX = 200
TOPIC_MAX = 40
TOPIC_MIN = 2

# -- errors ------------------------------------------------------------------------------


class FieldErrorCode(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    DID_YOU_MEAN = "did_you_mean"  # close to a listed value: probably a typo
    NOT_IN_LIST = "not_in_list"  # free text not allowed and nothing close
    TOO_MANY = "too_many"
    TOPIC_TOO_LONG = "topic_too_long"
    TOPIC_TOO_SHORT = "topic_too_short"
    UNKNOWN_LANGUAGE = "unknown_language"


@dataclass(frozen=True, slots=True)
class FieldError:
    code: FieldErrorCode
    fragment: str = ""  # the part of the input that is wrong, to quote it back
    suggestions: tuple[str, ...] = ()
    limit: int = 0  # the maximum that was exceeded (length or count)


# -- single values -----------------------------------------------------------------------


def parse_line(text: str, limit: int) -> str | FieldError:
    """Free text on one line: a name, the availability note, the tasks."""
    value = clean_text(text)
    if not value:
        return FieldError(FieldErrorCode.EMPTY)
    if len(value) > limit:
        return FieldError(FieldErrorCode.TOO_LONG, value[:40] + "…", limit=limit)
    return value


def parse_name(text: str) -> str | FieldError:
    return parse_line(text, NAME_MAX)


def parse_tasks(text: str) -> str | FieldError:
    return parse_line(text, TASKS_MAX)


def parse_availability(text: str) -> str | FieldError:
    return parse_line(text, AVAILABILITY_MAX)


def parse_choice(text: str, choices: Sequence[str], *, free: bool) -> str | FieldError:
    """A department or municipality: one of `choices` (spelled as configured), or free text
    where `free` allows it (or no list is configured).

    Close to a listed value but not equal -> DID_YOU_MEAN, even where free text is allowed:
    "Gesundhetsamt" is far more likely a typo than a new office. Quoting the value
    (`"Gesundhetsamt"`) insists on the spelling where free text is allowed.
    """
    raw, quoted = unquote(text)
    value = clean_text(raw)
    if not value or not fold(value):
        return FieldError(FieldErrorCode.EMPTY)
    if len(value) > CHOICE_MAX:
        return FieldError(FieldErrorCode.TOO_LONG, value[:40] + "…", limit=CHOICE_MAX)
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(fold(choice), choice)
    key = fold(value)
    if key in by_key:
        return by_key[key]
    free = free or not by_key
    if free and quoted:
        return value
    suggestions = suggest(value, choices, cutoff=0.8 if free else 0.6)
    if suggestions:
        return FieldError(FieldErrorCode.DID_YOU_MEAN, value, tuple(suggestions))
    if free:
        return value
    return FieldError(FieldErrorCode.NOT_IN_LIST, value, tuple(suggest(value, choices, 0.0)))


def suggest(value: str, choices: Iterable[str], cutoff: float, n: int = 3) -> list[str]:
    """Listed values close to `value`: typos (difflib) and abbreviations (prefixes)."""
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(fold(choice), choice)
    key = fold(value)
    if not key:
        return []
    found = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=n, cutoff=cutoff)]
    if len(key) >= 4:
        for k, choice in by_key.items():
            if k.startswith(key) and choice not in found:
                found.append(choice)
    return found[:n]


# -- lists -------------------------------------------------------------------------------

_LIST_SEPARATORS = re.compile(r"[,;\n]")


def split_list(text: str) -> list[str]:
    return [part for part in (clean_text(p) for p in _LIST_SEPARATORS.split(text)) if part]


def parse_topics(text: str, max_count: int) -> tuple[str, ...] | FieldError:
    """Comma- or semicolon-separated tags; `#` in front is dropped, duplicates merged."""
    topics: list[str] = []
    seen: set[str] = set()
    for part in split_list(text):
        topic = clean_text(part.lstrip("#"))
        key = fold(topic)
        if not key:
            continue
        if len(topic) > TOPIC_MAX:
            return FieldError(FieldErrorCode.TOPIC_TOO_LONG, topic[:40] + "…", limit=TOPIC_MAX)
        if len(topic) < TOPIC_MIN:
            return FieldError(FieldErrorCode.TOPIC_TOO_SHORT, topic, limit=TOPIC_MIN)
        if key not in seen:
            seen.add(key)
            topics.append(topic)
    if not topics:
        return FieldError(FieldErrorCode.EMPTY)
    if len(topics) > max_count:
        return FieldError(FieldErrorCode.TOO_MANY, str(len(topics)), limit=max_count)
    return tuple(topics)
