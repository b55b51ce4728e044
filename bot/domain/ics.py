"""Calendar file (.ics) for a hospitation participant."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.domain.dates import When

TIMEZONE = ZoneInfo("Europe/Berlin")
PRODID = "-//Flurfunk//Hospitation//DE"


def offer_to_ics(
    *,
    offer_id: str,
    title: str,
    when: When,
    dtstamp: datetime,
    description: str | None = None,
    department: str | None = None,
    municipality: str | None = None,
    uid_domain: str = "flurfunk",
) -> bytes:
    """One VEVENT for the offer; `dtstamp` (aware, "now") is required by RFC 5545.

    The UID depends on the offer ID only, so a re-sent file updates the calendar entry
    instead of duplicating it.
    """
    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be timezone-aware")
    event = Event()
    event.add("uid", f"{offer_id.lower()}@{uid_domain}")
    event.add("dtstamp", dtstamp)
    event.add("summary", _text(title))
    if when.start_time is None or when.end_time is None:
        event.add("dtstart", when.start_date)
        # DTEND of an all-day event is exclusive.
        event.add("dtend", when.end_date + timedelta(days=1))
    else:
        event.add("dtstart", datetime.combine(when.start_date, when.start_time, TIMEZONE))
        event.add("dtend", datetime.combine(when.start_date, when.end_time, TIMEZONE))
        if when.days > 1:
            # Same hours on each day, not one block running through the nights.
            event.add("rrule", {"freq": "daily", "count": when.days})
    if description:
        event.add("description", _text(description))
    location = ", ".join(part for part in (department, municipality) if part)
    if location:
        event.add("location", _text(location))

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    # Outlook needs the VTIMEZONE spelled out to honour TZID=Europe/Berlin; a year either
    # side of the event keeps it to a few transitions instead of every one since 1970.
    calendar.add_missing_timezones(
        first_date=when.start_date - timedelta(days=366),
        last_date=when.end_date + timedelta(days=366),
    )
    return calendar.to_ical()


def _text(value: str) -> str:
    """Chat text without the control characters iCalendar forbids in TEXT values."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc")
