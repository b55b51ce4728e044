"""What hospitation messages say: announcements, errors, names and dates; and the
profile lookup that names people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.dates import MAX_DAYS_AHEAD, MAX_RANGE_DAYS, When
from bot.domain.hospitation import (
    DESCRIPTION_MAX,
    PLACES_MAX,
    PLACES_MIN,
    TITLE_MAX,
    WISH_MAX,
    OfferError,
    Seats,
)
from bot.domain.text_cleaning import clean_text
from bot.services.ports import AccountDirectory, Say
from bot.store.db import Database
from bot.store.hospitation_rows import HospitationOffer


@dataclass(frozen=True)
class PersonInfo:
    """What the profile says about a person, as far as hospitations show it."""

    name: str | None = None
    department: str | None = None
    municipality: str | None = None


PersonLookup = Callable[[str], Awaitable[PersonInfo]]


def profile_lookup(db: Database, accounts: AccountDirectory | None = None) -> PersonLookup:
    """Name, department and municipality from the person's profile; without a name there,
    the display name the chat layer last saw."""
    from bot.store.profiles import ProfileRepository

    profiles = ProfileRepository(db)

    async def lookup(user_id: str) -> PersonInfo:
        profile = await profiles.get(user_id)
        seen = accounts.known_display_name(user_id) if accounts is not None else None
        if profile is None:
            return PersonInfo(clean_label(seen))
        return PersonInfo(
            clean_label(profile.display_name) or clean_label(seen),
            clean_label(profile.department),
            clean_label(profile.municipality),
        )

    return lookup


def clean_label(text: str | None) -> str | None:
    """One line without control or format characters; None when nothing is left. Names
    come from display names anybody can set and from imports (review finding S-15)."""
    return (clean_text(text) or None) if text else None


class Spelled:
    """One value spelled several ways; the template picks one: ``{when:de}``, ``{when:en}``.

    Both languages of a message then use the same parameter names.
    """

    def __init__(self, **spellings: str) -> None:
        self.spellings = spellings

    def __format__(self, spec: str) -> str:
        return self.spellings[spec]

    def __str__(self) -> str:
        return next(iter(self.spellings.values()))


def when_say(when: When) -> Say:
    """The date in the recipient's language (German dates, ISO dates in English)."""
    return Say("hosp.when", {"when": Spelled(de=when.render_de(), en=when.render_en())})


def host_label(offer: HospitationOffer) -> str:
    """For everyone (announcements, lists): ``Anna Schmidt (Bauamt, Musterstadt)``.

    Never the Matrix ID: a message naming it is dropped from the outbox when that person
    asks to be forgotten, and the announcement post must stay there so it can be edited.
    Without a known name the ID's local part stands in.
    """
    name = clean_label(offer.host_name) or clean_text(
        (offer.host or "–").lstrip("@").split(":", 1)[0]
    )
    place = ", ".join(p for p in map(clean_label, (offer.department, offer.municipality)) if p)
    return f"{name} ({place})" if place else name


def host_contact(offer: HospitationOffer) -> str:
    """For the people signed up (DMs): the host with Matrix ID, to write to them."""
    if offer.host is None:
        return host_label(offer)
    return person_label(
        offer.host, PersonInfo(offer.host_name, offer.department, offer.municipality)
    )


def person_label(user_id: str, info: PersonInfo) -> str:
    """How the host sees a participant: name with Matrix ID, so they can write to them."""
    parts = [p for p in map(clean_label, (info.department, info.municipality)) if p]
    name = clean_label(info.name)
    label = f"{name} ({clean_text(user_id)})" if name else clean_text(user_id)
    return f"{label}, {', '.join(parts)}" if parts else label


def offer_params(offer: HospitationOffer, prefix: str) -> dict[str, object]:
    return {"id": offer.id, "title": offer.title, "when": when_say(offer.when), "prefix": prefix}


def offered(offer: HospitationOffer, prefix: str, rooms: int) -> Say:
    """The answer to the host: the offer's ID, and whether it was announced anywhere."""
    return Say(
        "hosp.offered" if rooms else "hosp.offered_unannounced",
        {**offer_params(offer, prefix), "places": offer.capacity, "rooms": rooms},
    )


def example_dates(today: date) -> dict[str, Spelled]:
    """Dates for "this is how it works" texts: a Tuesday one to two weeks ahead (a fixed
    example date would lie in the past one day), and a range Tuesday to Thursday."""
    start = today + timedelta(days=7)
    start += timedelta(days=(1 - start.weekday()) % 7)
    end = start + timedelta(days=2)
    short = f"{start:%d}.-" if start.month == end.month else f"{start:%d.%m}.-"
    return {
        "example": Spelled(de=f"{start:%d.%m.%Y}", iso=start.isoformat()),
        "example_range": Spelled(
            de=f"{short}{end:%d.%m.%Y}", en=f"{start.isoformat()} to {end.isoformat()}"
        ),
    }


def offer_error(error: OfferError, prefix: str, today: date) -> Say:
    """Why an offer (or one answer of the dialog) was refused, with the right form."""
    return Say(
        f"hosp.error.{error.code}",
        {
            **example_dates(today),
            "detail": error.detail,
            "prefix": prefix,
            "title_max": TITLE_MAX,
            "description_max": DESCRIPTION_MAX,
            "places_min": PLACES_MIN,
            "places_max": PLACES_MAX,
            "days_ahead": MAX_DAYS_AHEAD,
            "range_days": MAX_RANGE_DAYS,
            "wish_max": WISH_MAX,
        },
    )


def announcement(offer: HospitationOffer, seats: Seats[str], prefix: str) -> Say:
    """The post in the announcement rooms: places and status, never participants' names."""
    base = {"id": offer.id, "when": when_say(offer.when), "prefix": prefix}
    if offer.cancelled and offer.cancelled_by == "forgotten":
        return Say("hosp.announce.removed", base)
    if offer.cancelled:
        return Say("hosp.announce.cancelled", {**base, "title": offer.title})
    if seats.free > 0:
        places = Say("hosp.places.open", {"free": seats.free, "capacity": seats.capacity})
    else:
        places = Say(
            "hosp.places.full", {"capacity": seats.capacity, "waiting": len(seats.waiting)}
        )
    description = (
        Say("hosp.description", {"text": offer.description})
        if offer.description
        else Say("hosp.empty")
    )
    return Say(
        "hosp.announce",
        {
            **base,
            "title": offer.title,
            "host": host_label(offer),
            "places": places,
            "description": description,
        },
    )


def host_digest(
    offer: HospitationOffer, seats: Seats[str], joined: int, left: int, prefix: str
) -> Say:
    """Several changes of places in one message to the host (review finding S-11)."""
    return Say(
        "hosp.host.digest",
        {
            **offer_params(offer, prefix),
            "joined": joined,
            "left": left,
            "taken": len(seats.confirmed),
            "capacity": seats.capacity,
            "waiting": len(seats.waiting),
        },
    )


def too_many_offers(open_ids: list[str], most: int, prefix: str) -> Say:
    """The host has `most` open offers already: which, and how to close one."""
    return Say(
        "hosp.error.too_many_offers",
        {"max": most, "ids": ", ".join(open_ids), "example": open_ids[0], "prefix": prefix},
    )
