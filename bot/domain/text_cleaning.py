"""Cleaning text people type: one line without control characters, quotes that insist on
a spelling, the dash that clears a field, and the comparison key (`fold`). Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

CLEAR_TOKENS = frozenset({"", "-", "–", "—", "--"})
_SPACE = re.compile(r"\s+")
_QUOTES = (('"', '"'), ("»", "«"), ("«", "»"), ("„", "“"), ("“", "”"), ("'", "'"), ("‚", "‘"))


def is_clear(text: str) -> bool:
    """An empty value or a dash clears a field."""
    return text.strip() in CLEAR_TOKENS


def clean_text(text: str) -> str:
    """One line: control and format characters dropped, whitespace collapsed."""
    kept = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif category[0] == "C":  # Cc control, Cf format (bidi overrides, zero width), ...
            continue
        else:
            kept.append(ch)
    return _SPACE.sub(" ", "".join(kept)).strip()


def unquote(text: str) -> tuple[str, bool]:
    """`"Gesundheitsamtt"` -> (`Gesundheitsamtt`, True): quotes insist on the spelling."""
    stripped = text.strip()
    for left, right in _QUOTES:
        if len(stripped) >= 2 and stripped.startswith(left) and stripped.endswith(right):
            return stripped[len(left) : -len(right)].strip(), True
    return stripped, False


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """The comparison key: case, umlaut spelling, spaces and punctuation do not count."""
    lowered = clean_text(text).casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if ch.isalnum())
