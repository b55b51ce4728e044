"""Cleaning text people type: one line without control characters, quotes that insist on
a spelling, the dash that clears a field, and the comparison key (`fold`). Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

CLEAR_TOKENS = frozenset({"", "-", "–", "—", "--"})
# Letters that draw nothing (Hangul fillers): used to fake empty or blank names.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Kept where text may span lines (rendered parameters): line feed and tab.
_LAYOUT = frozenset("\n\t")
_SPACE = re.compile(r"\s+")
_QUOTES = (('"', '"'), ("»", "«"), ("«", "»"), ("„", "“"), ("“", "”"), ("'", "'"), ("‚", "‘"))


def is_clear(text: str) -> bool:
    """An empty value or a dash clears a field."""
    return text.strip() in CLEAR_TOKENS


def clean_text(text: str) -> str:
    """One line: control and format characters (and blank letters) dropped, whitespace
    (line breaks included) collapsed."""
    kept = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif category[0] == "C" or ch in BLANK_LETTERS:  # Cc, Cf (bidi, zero width), ...
            continue
        else:
            kept.append(ch)
    return _SPACE.sub(" ", "".join(kept)).strip()


def is_invisible(ch: str) -> bool:
    """Draws nothing or steers the display: every control (Cc) and format (Cf) character
    except line feed and tab, line and paragraph separators, and blank letters."""
    if ch in _LAYOUT:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or ch in BLANK_LETTERS


def drop_invisible(text: str) -> str:
    """`text` without invisible characters (see `is_invisible`); line breaks stay."""
    if text.isprintable() and BLANK_LETTERS.isdisjoint(text):
        return text
    return "".join(ch for ch in text if not is_invisible(ch))


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
