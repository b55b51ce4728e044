"""Hospitation offers: validation, places with waiting list, short IDs, wish matching."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from bot.domain.dates import DateError, DateErrorCode, When, parse_when
from bot.domain.similarity import Document
from bot.domain.tfidf import TfidfSimilarity

TITLE_MAX = 120
DESCRIPTION_MAX = 1000
PLACES_MIN = 1
PLACES_MAX = 50
WISH_MAX = 200

# Without 0/O, 1/I/L: IDs are read off a screen and typed on another device.
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ID_LENGTH = 4
OFFER_ID_PREFIX = "H"


class OfferErrorCode(StrEnum):
    MISSING_PARTS = "offer_missing_parts"
    EMPTY_TITLE = "offer_empty_title"
    TITLE_TOO_LONG = "offer_title_too_long"
    PLACES_NOT_A_NUMBER = "offer_places_not_a_number"
    PLACES_OUT_OF_RANGE = "offer_places_out_of_range"
    DESCRIPTION_TOO_LONG = "offer_description_too_long"


@dataclass(frozen=True)
class OfferError:
    # Date problems keep their own, more precise code from `dates`.
    code: OfferErrorCode | DateErrorCode
    # The offending user input (or its length for the too-long codes), for quoting back.
    detail: str = ""


@dataclass(frozen=True)
class OfferDraft:
    title: str
    when: When
    places: int
    description: str | None = None


_PLACES_RE = re.compile(
    r"([+-]?\d{1,9})\s*(?:plätze|platz|places?|personen|person|teilnehmende)?\.?",
    re.ASCII | re.IGNORECASE,
)


def parse_offer(parts: list[str], today: date) -> OfferDraft | OfferError:
    """Validate `<Titel> | <Datum> | <Plätze> [| <Beschreibung>]`, already split at `|`.

    Parts beyond the fourth belong to the description: users may type `|` in free text.
    """
    if len(parts) < 3:
        return OfferError(OfferErrorCode.MISSING_PARTS, str(len(parts)))
    title = " ".join(parts[0].split())
    if not title:
        return OfferError(OfferErrorCode.EMPTY_TITLE)
    if len(title) > TITLE_MAX:
        return OfferError(OfferErrorCode.TITLE_TOO_LONG, str(len(title)))

    when = parse_when(parts[1], today)
    if isinstance(when, DateError):
        return OfferError(when.code, when.fragment)

    places_text = parts[2].strip()
    match = _PLACES_RE.fullmatch(places_text)
    if match is None:
        return OfferError(OfferErrorCode.PLACES_NOT_A_NUMBER, places_text)
    places = int(match.group(1))
    if not PLACES_MIN <= places <= PLACES_MAX:
        return OfferError(OfferErrorCode.PLACES_OUT_OF_RANGE, str(places))

    description = "|".join(parts[3:]).strip() or None
    if description is not None and len(description) > DESCRIPTION_MAX:
        return OfferError(OfferErrorCode.DESCRIPTION_TOO_LONG, str(len(description)))
    return OfferDraft(title, when, places, description)


class OfferState(StrEnum):
    OPEN = "open"
    FULL = "full"
    CANCELLED = "cancelled"
    PAST = "past"


P = TypeVar("P", bound=Hashable)


@dataclass(frozen=True)
class JoinResult(Generic[P]):
    seats: Seats[P]
    outcome: Literal["confirmed", "waiting", "already_confirmed", "already_waiting"]
    # 1-based place on the waiting list, for "waiting" and "already_waiting".
    position: int | None = None


@dataclass(frozen=True)
class CancelResult(Generic[P]):
    seats: Seats[P]
    outcome: Literal["left_confirmed", "left_waiting", "not_registered"]
    # The waiting person who moved up into the freed place; they must be told.
    promoted: P | None = None


@dataclass(frozen=True)
class Seats(Generic[P]):
    """Places of one offer: confirmed participants and a first-come waiting list."""

    capacity: int
    confirmed: tuple[P, ...] = ()
    waiting: tuple[P, ...] = ()

    def __post_init__(self) -> None:
        everyone = self.confirmed + self.waiting
        if self.capacity < 1 or len(self.confirmed) > self.capacity:
            raise ValueError("confirmed participants exceed capacity")
        if len(set(everyone)) != len(everyone):
            raise ValueError("a participant is listed twice")
        if self.waiting and len(self.confirmed) < self.capacity:
            raise ValueError("people are waiting although a place is free")

    @property
    def free(self) -> int:
        return self.capacity - len(self.confirmed)

    @property
    def everyone(self) -> tuple[P, ...]:
        """Whom to notify when the host cancels the offer."""
        return self.confirmed + self.waiting

    def join(self, person: P) -> JoinResult[P]:
        if person in self.confirmed:
            return JoinResult(self, "already_confirmed")
        if person in self.waiting:
            return JoinResult(self, "already_waiting", self.waiting.index(person) + 1)
        if self.free > 0:
            return JoinResult(self._with(confirmed=(*self.confirmed, person)), "confirmed")
        waiting = (*self.waiting, person)
        return JoinResult(self._with(waiting=waiting), "waiting", len(waiting))

    def cancel(self, person: P) -> CancelResult[P]:
        if person in self.waiting:
            waiting = tuple(p for p in self.waiting if p != person)
            return CancelResult(self._with(waiting=waiting), "left_waiting")
        if person not in self.confirmed:
            return CancelResult(self, "not_registered")
        confirmed = tuple(p for p in self.confirmed if p != person)
        if not self.waiting:
            return CancelResult(self._with(confirmed=confirmed), "left_confirmed")
        promoted, *still_waiting = self.waiting
        seats = Seats(self.capacity, (*confirmed, promoted), tuple(still_waiting))
        return CancelResult(seats, "left_confirmed", promoted)

    def state(self, *, cancelled: bool, when: When, today: date) -> OfferState:
        """What the announcement shows; a cancelled offer stays cancelled even when past."""
        if cancelled:
            return OfferState.CANCELLED
        if when.end_date < today:
            return OfferState.PAST
        return OfferState.FULL if self.free == 0 else OfferState.OPEN

    def _with(
        self, *, confirmed: tuple[P, ...] | None = None, waiting: tuple[P, ...] | None = None
    ) -> Seats[P]:
        return Seats(
            self.capacity,
            self.confirmed if confirmed is None else confirmed,
            self.waiting if waiting is None else waiting,
        )


def new_short_id(rng: random.Random, prefix: str = OFFER_ID_PREFIX) -> str:
    """E.g. ``H-7KQX``; the caller retries on the rare collision with a stored ID."""
    return f"{prefix}-" + "".join(rng.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalise_short_id(text: str, prefix: str = OFFER_ID_PREFIX) -> str | None:
    """Canonical form of a typed ID (``h-7kqx``, ``H 7KQX``, ``7kqx``), None if impossible."""
    body = text.strip().upper()
    if body.startswith(prefix.upper()):
        rest = body[len(prefix) :]
        # "H-ABC" is a mistyped ID, not the ID "HABC" that happens to start with H.
        if rest[:1] in ("-", "_", " ") and rest:
            body = rest.lstrip(" -_")
        elif len(rest) == ID_LENGTH:
            body = rest
    if len(body) != ID_LENGTH or any(c not in ID_ALPHABET for c in body):
        return None
    return f"{prefix}-{body}"


WishErrorCode = Literal["wish_empty", "wish_too_long"]


def parse_wish(text: str) -> str | WishErrorCode:
    """The area someone would like to shadow in, e.g. ``Bauaufsicht`` or ``Digitalisierung``."""
    area = " ".join(text.split())
    if not area:
        return "wish_empty"
    if len(area) > WISH_MAX:
        return "wish_too_long"
    return area


def offer_match_text(draft: OfferDraft, location: str | None = None) -> str:
    """The text of an offer that standing wishes are compared with."""
    return " ".join(part for part in (draft.title, draft.description, location) if part)


K = TypeVar("K")


def shared_words(offer: str, others: Sequence[str], areas: Sequence[str]) -> list[float]:
    """Per wish (area) how much it shares words with the `offer` text: a TF-IDF cosine with
    the weights of all open offers (the offer and `others`), so that a word every offer has
    ("Hospitation", "Amt") counts little and an office's name ("Personalamt") much."""
    index = TfidfSimilarity().index([Document(text) for text in (offer, *others)])
    # Row 0 is the offer; `rank` lists only the offers an area shares a word with.
    return [dict(index.rank(Document(area), 1 + len(others))).get(0, 0.0) for area in areas]


def matching_wishes(
    offer_text: str,
    wishes: Iterable[tuple[K, str]],
    score: Callable[[str, str], float],
    threshold: float,
) -> list[tuple[K, float]]:
    """Wishes (key, area) whose similarity to the offer reaches the threshold, best first."""
    scored = [(key, score(offer_text, area)) for key, area in wishes]
    hits = [(key, value) for key, value in scored if value >= threshold]
    # sorted() is stable, so equal scores keep the order the wishes were made in.
    return sorted(hits, key=lambda hit: -hit[1])
