"""The languages a profile can list: codes with German and English names, and parsing what
people type (`Englisch (B2), Türkisch`) into codes. Pure: no I/O."""

from __future__ import annotations

import re

from bot.domain.profile_fields import FieldError, FieldErrorCode, suggest
from bot.domain.text_cleaning import clean_text, fold

LANGUAGES_MAX = 12

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
