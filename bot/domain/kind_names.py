"""Which kinds of organisation a name says it is of: "Hotel Kaiserhof" is a hotel, whatever
the vector of "Hotel Kaiserhof | Wirtschaft" happens to be nearest to.

A kind's name ("Evangelische Kirchengemeinde", "Notschlafstelle", "DEHOGA", from the glossary
of organisation kinds) is found in an organisation's name when its words stand there in a
row, compared by Snowball stem, so that plural and case endings do not matter
("Kühltransporte" names a "Kühltransport"). Its first word may also be the head of a compound
("Kreisklinikum" names a "Klinikum", "Jugendnotschlafstelle" a "Notschlafstelle"): German
puts the head last. Abbreviations ("DRK", "AOK", "EnBW") must stand as written, so that the
"Jugendhilfeverbund" is not taken for the "BUND".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.german_text import GermanStemmer, normalise

_WORD = re.compile(r"[^\W\d_]+|\d+")
# A compound's head counts from this many letters of stem on: "Kreis" in "Landkreis" does,
# "Bau" in "Anbau" does not.
MIN_HEAD = 5


def _is_abbreviation(word: str) -> bool:
    return len(word) <= 3 or sum(c.isupper() for c in word) >= 2


@dataclass(frozen=True)
class _Name:
    kind: int
    words: tuple[str, ...]  # as written for abbreviations, else stems
    abbreviations: tuple[bool, ...]
    length: int  # letters: the longer name found is the more specific one


class KindNames:
    """The names of the kinds (`names[i]` is a name of kind `name_kind[i]`), ready to be
    looked for in organisations' names."""

    def __init__(self, names: Sequence[str], name_kind: Sequence[int]) -> None:
        self._stem = GermanStemmer()
        # Indexed by the first word: abbreviations as written, other words by stem, and by
        # the last MIN_HEAD letters of the stem for compounds that end with it.
        self._by_abbreviation: dict[str, list[_Name]] = defaultdict(list)
        self._by_stem: dict[str, list[_Name]] = defaultdict(list)
        self._by_head_end: dict[str, list[_Name]] = defaultdict(list)
        for text, kind in zip(names, name_kind, strict=True):
            written = _WORD.findall(normalise(text))
            if not written:
                continue
            abbreviations = tuple(_is_abbreviation(w) for w in written)
            pairs = zip(written, abbreviations, strict=True)
            words = tuple(w if short else self._stem(w) for w, short in pairs)
            name = _Name(kind, words, abbreviations, sum(map(len, written)))
            if abbreviations[0]:
                self._by_abbreviation[words[0]].append(name)
                continue
            self._by_stem[words[0]].append(name)
            if len(words[0]) >= MIN_HEAD:
                self._by_head_end[words[0][-MIN_HEAD:]].append(name)

    def named(self, organisation: str) -> dict[int, int]:
        """The kinds named in `organisation`, each with the length of its longest name
        found there."""
        written = _WORD.findall(normalise(organisation))
        stems = [self._stem(w) for w in written]
        found: dict[int, int] = {}
        for at, (word, stem) in enumerate(zip(written, stems, strict=True)):
            candidates = [*self._by_abbreviation.get(word, ()), *self._by_stem.get(stem, ())]
            candidates += [
                name
                for name in self._by_head_end.get(stem[-MIN_HEAD:], ())
                if stem != name.words[0] and stem.endswith(name.words[0])
            ]
            for name in candidates:
                if self._rest_follows(name, written, stems, at):
                    found[name.kind] = max(found.get(name.kind, 0), name.length)
        return found

    @staticmethod
    def _rest_follows(name: _Name, written: list[str], stems: list[str], at: int) -> bool:
        """Whether the name's words after the first stand at `at + 1`, ... (the first
        matched already)."""
        rest = range(1, len(name.words))
        return at + len(name.words) <= len(written) and all(
            (written if name.abbreviations[j] else stems)[at + j] == name.words[j] for j in rest
        )
