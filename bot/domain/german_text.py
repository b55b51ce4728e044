"""German words for similarity: tokens, stop words, Snowball stems and compound parts.

Everything here works per distinct word form, never per occurrence, so its cost grows with the
vocabulary (thousands of forms) and not with the number of profiles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection

import Stemmer

# Letters only: digits and paragraph numbers ("§ 8a", "2026") carry no topic. A hyphen joins
# the parts of "E-Akte" or "Kita-Plätze"; the parts are used as separate words.
_WORD = re.compile(r"[^\W\d_]+")

# The Snowball German stop list plus the words every task description uses ("ich bin zuständig
# für ..."), which would otherwise show up as "shared topics" in an introduction.
_STOP_TEXT = """
    aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
    anderes anderm andern anders auch auf aus bei bin bis bist da damit dann der den des dem
    die das dass daß derselbe derselben denselben desselben demselben dieselbe dieselben
    dasselbe dazu dein deine deinem deinen deiner deines denn derer dessen dich dir du dies
    diese diesem diesen dieser dieses doch dort durch ein eine einem einen einer eines einig
    einige einigem einigen einiger einiges einmal er ihn ihm es etwas euer eure eurem euren
    eurer eures für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich mich mir
    ihr ihre ihrem ihren ihrer ihres euch im in indem ins ist jede jedem jeden jeder jedes
    jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner keines können
    könnte machen man manche manchem manchen mancher manches mein meine meinem meinen meiner
    meines mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem
    seinen seiner seines selbst sich sie ihnen sind so solche solchem solchen solcher solches
    soll sollte sondern sonst über um und uns unsere unserem unseren unser unseres unter viel
    vom von vor während war waren warst was weg weil weiter welche welchem welchen welcher
    welches wenn werde werden wie wieder will wir wird wirst wo wollen wollte würde würden zu
    zum zur zwar zwischen aktuell arbeite arbeiten aufgabe aufgaben außerdem bearbeite
    bearbeiten bereich bereiche beschäftigen beschäftigt bzw ca derzeit etc gern gerne gerade
    insbesondere kümmere liegt mache schwerpunkt schwerpunkte seit sowie tätig team thema
    themen unterstütze viele vielen zudem zuständig zuständigkeit the and of for with in on to
    at by from
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

MIN_WORD_LENGTH = 2
# Compound parts shorter than this are mostly linking noise ("ein", "aus").
MIN_PART_LENGTH = 4
MIN_COMPOUND_LENGTH = 2 * MIN_PART_LENGTH


# Stop words as they appear in running text, so filtering needs no lower() per word.
_STOP_SPELLINGS = (
    STOP_WORDS | {w.capitalize() for w in STOP_WORDS} | {w.upper() for w in STOP_WORDS}
)


def normalise(text: str) -> str:
    """NFKC, so that "a" + combining diaeresis is the same word as "ä" (and "ﬁ" is "fi")."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def words(text: str) -> list[str]:
    """Word forms as written (case kept for display), stop words and single letters removed."""
    return [
        w
        for w in _WORD.findall(normalise(text))
        if len(w) >= MIN_WORD_LENGTH and w not in _STOP_SPELLINGS
    ]


class GermanStemmer:
    """Snowball German stems, folded where Snowball splits one word family.

    Snowball leaves "-ierung"/"-ieren" and "-ung"/"-en" apart ("digitalisier" vs "digitalisi",
    "planung" vs "plan"); task texts switch freely between the noun and the verb, so both are
    folded onto the verb stem. Snowball already maps umlauts, ß and ae/oe/ue to one form.
    """

    def __init__(self) -> None:
        self._snowball = Stemmer.Stemmer("german")
        self._cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        key = word.lower()
        stem = self._cache.get(key)
        if stem is None:
            stem = _fold(self._snowball.stemWord(key))
            self._cache[key] = stem
        return stem


def _fold(stem: str) -> str:
    if stem.endswith("iert") and len(stem) >= 7:
        return stem[:-3]
    if stem.endswith("ier") and len(stem) >= 6:
        return stem[:-2]
    if stem.endswith("ung") and len(stem) >= 7:
        return stem[:-3]
    return stem


def compound_parts(
    word: str, stem: Callable[[str], str], known: Collection[str]
) -> tuple[str, str] | None:
    """Split a compound into (modifier stem, head stem) when both are known words.

    "Fördermittelanträge" -> ("fordermittel", "antrag") if both occur on their own in the
    corpus, so it meets "Anträge auf Fördermittel". Of all valid splits the most balanced one
    wins, which prefers "Fördermittel|anträge" over "Förder|mittelanträge". Linking elements
    ("Ordnungs|amt") are tried with and without the "s".
    """
    low = word.lower()
    if len(low) < MIN_COMPOUND_LENGTH:
        return None
    best: tuple[int, str, str] | None = None
    for cut in range(MIN_PART_LENGTH, len(low) - MIN_PART_LENGTH + 1):
        head = stem(low[cut:])
        if head not in known:
            continue
        modifier = low[:cut]
        options = [modifier, modifier[:-1]] if modifier.endswith("s") else [modifier]
        for option in options:
            mod = stem(option)
            if len(option) >= MIN_PART_LENGTH - 1 and mod in known:
                balance = min(len(option), len(low) - cut)
                if best is None or balance > best[0]:
                    best = (balance, mod, head)
                break
    return None if best is None else (best[1], best[2])
