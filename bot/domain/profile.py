"""Profiles: the model, the fields people type in chat (or an operator imports), and their
validation. Pure: no I/O.

Every parser takes the raw text as typed and returns either the clean value or a
`FieldError` that says what is wrong (a code, the offending fragment, suggestions), so the
chat layer can tell the person how to write it correctly.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

# Limits: long enough for real answers, short enough to keep introductions readable and
# to bound what a person can make the bot store.
NAME_MAX = 80
CHOICE_MAX = 80  # department, municipality
TASKS_MAX = 1000
AVAILABILITY_MAX = 200
TOPIC_MAX = 40
TOPIC_MIN = 2
LANGUAGES_MAX = 12
PAUSE_WEEKS_MAX = 26


class ProfileField(StrEnum):
    NAME = "name"
    DEPARTMENT = "department"
    MUNICIPALITY = "municipality"
    TASKS = "tasks"
    TOPICS = "topics"
    LANGUAGES = "languages"
    AVAILABILITY = "availability"


# What people may type after `!profil` / `!profile` (case-insensitive).
FIELD_NAMES: dict[str, ProfileField] = {
    "name": ProfileField.NAME,
    "abteilung": ProfileField.DEPARTMENT,
    "amt": ProfileField.DEPARTMENT,
    "fachbereich": ProfileField.DEPARTMENT,
    "department": ProfileField.DEPARTMENT,
    "kommune": ProfileField.MUNICIPALITY,
    "gemeinde": ProfileField.MUNICIPALITY,
    "stadt": ProfileField.MUNICIPALITY,
    "municipality": ProfileField.MUNICIPALITY,
    "aufgaben": ProfileField.TASKS,
    "aufgabe": ProfileField.TASKS,
    "tasks": ProfileField.TASKS,
    "themen": ProfileField.TOPICS,
    "thema": ProfileField.TOPICS,
    "topics": ProfileField.TOPICS,
    "sprachen": ProfileField.LANGUAGES,
    "languages": ProfileField.LANGUAGES,
    "erreichbarkeit": ProfileField.AVAILABILITY,
    "verfügbarkeit": ProfileField.AVAILABILITY,
    "availability": ProfileField.AVAILABILITY,
}

# The names shown in help texts and error messages, per language.
FIELD_DISPLAY: dict[ProfileField, tuple[str, str]] = {
    ProfileField.NAME: ("name", "name"),
    ProfileField.DEPARTMENT: ("abteilung", "department"),
    ProfileField.MUNICIPALITY: ("kommune", "municipality"),
    ProfileField.TASKS: ("aufgaben", "tasks"),
    ProfileField.TOPICS: ("themen", "topics"),
    ProfileField.LANGUAGES: ("sprachen", "languages"),
    ProfileField.AVAILABILITY: ("erreichbarkeit", "availability"),
}


def field_by_name(name: str) -> ProfileField | None:
    return FIELD_NAMES.get(name.strip().casefold())


def suggest_field(name: str) -> list[str]:
    return difflib.get_close_matches(name.strip().casefold(), list(FIELD_NAMES), n=3, cutoff=0.6)


# -- the model ---------------------------------------------------------------------------

CoffeeState = Literal["on", "off", "paused"]
Source = Literal["chat", "import"]


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything Flurfunk knows about one person (besides the UI language choice, which the
    chat layer keeps and which is joined in as `ui_language`)."""

    id: int
    user_id: str
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    department: str | None = None
    municipality: str | None = None
    tasks: str | None = None
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # language codes, see LANGUAGES
    availability: str | None = None
    coffee: bool = False  # opted in to the weekly matching
    coffee_paused_until: datetime | None = None
    # The person acted in chat themselves; imported profiles stay unconfirmed and are
    # neither matched nor contacted.
    confirmed: bool = False
    source: Source = "chat"
    last_seen_at: datetime | None = None
    onboarded_at: datetime | None = None
    ui_language: str | None = None

    def coffee_state(self, now: datetime) -> CoffeeState:
        return coffee_state(self.coffee, self.coffee_paused_until, now)

    def coffee_eligible(self, now: datetime) -> bool:
        return self.confirmed and self.coffee_state(now) == "on"

    def value(self, which: ProfileField) -> str | tuple[str, ...] | None:
        return {
            ProfileField.NAME: self.display_name,
            ProfileField.DEPARTMENT: self.department,
            ProfileField.MUNICIPALITY: self.municipality,
            ProfileField.TASKS: self.tasks,
            ProfileField.TOPICS: self.topics,
            ProfileField.LANGUAGES: self.languages,
            ProfileField.AVAILABILITY: self.availability,
        }[which]


def coffee_state(on: bool, paused_until: datetime | None, now: datetime) -> CoffeeState:
    """Paused while `paused_until` lies ahead; the pause ends by itself."""
    if not on:
        return "off"
    if paused_until is not None and paused_until > now:
        return "paused"
    return "on"


def pause_end(now: datetime, weeks: int) -> datetime:
    if not 1 <= weeks <= PAUSE_WEEKS_MAX:
        raise ValueError(f"weeks must be 1..{PAUSE_WEEKS_MAX}")
    return now + timedelta(weeks=weeks)


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


# -- text cleaning -----------------------------------------------------------------------

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


# Language code -> German name, English name, further spellings people use.
LANGUAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "de": ("Deutsch", "German", ("deutsch", "dt")),
    "en": ("Englisch", "English", ("engl",)),
    "fr": ("Französisch", "French", ("francais", "franz")),
    "es": ("Spanisch", "Spanish", ("espanol",)),
    "it": ("Italienisch", "Italian", ("italiano",)),
    "pt": ("Portugiesisch", "Portuguese", ("portugues",)),
    "nl": ("Niederländisch", "Dutch", ("hollaendisch", "nederlands")),
    "da": ("Dänisch", "Danish", ()),
    "sv": ("Schwedisch", "Swedish", ()),
    "no": ("Norwegisch", "Norwegian", ()),
    "fi": ("Finnisch", "Finnish", ()),
    "pl": ("Polnisch", "Polish", ("polski",)),
    "cs": ("Tschechisch", "Czech", ()),
    "sk": ("Slowakisch", "Slovak", ()),
    "sl": ("Slowenisch", "Slovenian", ()),
    "hu": ("Ungarisch", "Hungarian", ()),
    "ro": ("Rumänisch", "Romanian", ()),
    "bg": ("Bulgarisch", "Bulgarian", ()),
    "hr": ("Kroatisch", "Croatian", ()),
    "sr": ("Serbisch", "Serbian", ()),
    "bs": ("Bosnisch", "Bosnian", ()),
    "sq": ("Albanisch", "Albanian", ()),
    "mk": ("Mazedonisch", "Macedonian", ()),
    "el": ("Griechisch", "Greek", ()),
    "lt": ("Litauisch", "Lithuanian", ()),
    "lv": ("Lettisch", "Latvian", ()),
    "et": ("Estnisch", "Estonian", ()),
    "lb": ("Luxemburgisch", "Luxembourgish", ()),
    "ru": ("Russisch", "Russian", ()),
    "uk": ("Ukrainisch", "Ukrainian", ()),
    "be": ("Belarussisch", "Belarusian", ("weissrussisch",)),
    "tr": ("Türkisch", "Turkish", ("turkce",)),
    "ku": ("Kurdisch", "Kurdish", ("kurmandschi", "kurmanji", "sorani")),
    "ar": ("Arabisch", "Arabic", ()),
    "fa": ("Persisch", "Persian", ("farsi",)),
    "prs": ("Dari", "Dari", ()),
    "ps": ("Paschtu", "Pashto", ("paschto", "pashtu")),
    "ur": ("Urdu", "Urdu", ()),
    "hi": ("Hindi", "Hindi", ()),
    "bn": ("Bengalisch", "Bengali", ()),
    "ta": ("Tamil", "Tamil", ()),
    "zh": ("Chinesisch", "Chinese", ("mandarin",)),
    "ja": ("Japanisch", "Japanese", ()),
    "ko": ("Koreanisch", "Korean", ()),
    "vi": ("Vietnamesisch", "Vietnamese", ()),
    "th": ("Thailändisch", "Thai", ("thai",)),
    "ti": ("Tigrinya", "Tigrinya", ("tigrinisch",)),
    "am": ("Amharisch", "Amharic", ()),
    "so": ("Somali", "Somali", ("somalisch",)),
    "sw": ("Swahili", "Swahili", ("suaheli",)),
    "he": ("Hebräisch", "Hebrew", ()),
    "la": ("Latein", "Latin", ()),
    "nds": ("Plattdeutsch", "Low German", ("niederdeutsch", "platt")),
    "hsb": ("Sorbisch", "Sorbian", ("obersorbisch", "niedersorbisch", "wendisch")),
    "fy": ("Friesisch", "Frisian", ("nordfriesisch", "saterfriesisch")),
    "rom": ("Romanes", "Romani", ("romani",)),
    "gsg": ("Deutsche Gebärdensprache", "German Sign Language", ("dgs", "gebaerdensprache")),
}


def _language_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for code, (de, en, extra) in LANGUAGES.items():
        for name in (code, de, en, *extra):
            keys.setdefault(fold(name), code)
    return keys


_LANGUAGE_KEYS = _language_keys()
# "Englisch (B2)", "Englisch B2", "Französisch – Grundkenntnisse": the level is not asked.
_LEVEL = re.compile(
    r"\([^)]*\)|\b[abc][12]\b|\b(?:muttersprache|muttersprachlich|fließend|fliessend|gut|"
    r"sehr gut|grundkenntnisse|basis|native|fluent|basic|good|verhandlungssicher)\b",
    re.IGNORECASE,
)
_LANGUAGE_SEPARATORS = re.compile(r"[,;/&+\n]|\bund\b|\band\b", re.IGNORECASE)


def language_name(code: str, lang: str) -> str:
    entry = LANGUAGES.get(code)
    if entry is None:
        return code
    return entry[0] if lang == "de" else entry[1]


def parse_languages(text: str) -> tuple[str, ...] | FieldError:
    """Language names (German or English) or codes -> codes, in the order given."""
    codes: list[str] = []
    for part in _LANGUAGE_SEPARATORS.split(text):
        name = clean_text(_LEVEL.sub(" ", part)).strip(" -–:")
        if not fold(name):
            continue
        code = _LANGUAGE_KEYS.get(fold(name))
        if code is None:
            names = [entry[0] for entry in LANGUAGES.values()]
            names += [entry[1] for entry in LANGUAGES.values()]
            # Offer each language once, in the closest spelling (German or English).
            offered: dict[str, str] = {}
            for close in suggest(name, names, cutoff=0.75, n=6):
                offered.setdefault(_LANGUAGE_KEYS[fold(close)], close)
            suggestions = tuple(list(offered.values())[:3])
            return FieldError(FieldErrorCode.UNKNOWN_LANGUAGE, name[:40], suggestions)
        if code not in codes:
            codes.append(code)
    if not codes:
        return FieldError(FieldErrorCode.EMPTY)
    if len(codes) > LANGUAGES_MAX:
        return FieldError(FieldErrorCode.TOO_MANY, str(len(codes)), limit=LANGUAGES_MAX)
    return tuple(codes)


# -- onboarding dialog -------------------------------------------------------------------


class Step(StrEnum):
    DEPARTMENT = "department"
    MUNICIPALITY = "municipality"
    TASKS = "tasks"
    TOPICS = "topics"
    LANGUAGES = "languages"
    AVAILABILITY = "availability"
    COFFEE = "coffee"


STEPS: tuple[Step, ...] = tuple(Step)


class Control(StrEnum):
    BACK = "back"
    SKIP = "skip"
    CANCEL = "cancel"


_CONTROLS: dict[str, Control] = {
    "zurück": Control.BACK,
    "zurueck": Control.BACK,
    "zuruck": Control.BACK,
    "back": Control.BACK,
    "überspringen": Control.SKIP,
    "ueberspringen": Control.SKIP,
    "uberspringen": Control.SKIP,
    "skip": Control.SKIP,
    "abbrechen": Control.CANCEL,
    "abbruch": Control.CANCEL,
    "cancel": Control.CANCEL,
    "stop": Control.CANCEL,
}
_YES = frozenset({"ja", "j", "jawohl", "gerne", "gern", "yes", "y", "ok", "okay", "👍", "✅"})
_NO = frozenset({"nein", "n", "nö", "no", "nope", "👎", "❌"})


def _word(text: str) -> str:
    return clean_text(text).casefold().strip(" .!?")


def parse_control(text: str) -> Control | None:
    return _CONTROLS.get(_word(text))


def parse_yes_no(text: str) -> bool | None:
    word = _word(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None
