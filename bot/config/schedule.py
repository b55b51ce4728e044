"""Weekly time slots ("Di 10:00") and German state codes used by the schedules."""

from __future__ import annotations

from datetime import time
from typing import Annotated

from pydantic import AfterValidator, Field

_WEEKDAYS = {
    **{name: i for i, name in enumerate(("mo", "di", "mi", "do", "fr", "sa", "so"))},
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: i
        for i, name in enumerate(
            ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag")
        )
    },
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


def parse_weekly_slot(entry: str) -> tuple[int, time]:
    """`"Di 10:00"` -> (1, 10:00). Raises ValueError naming what is expected."""
    day, _, clock = entry.strip().partition(" ")
    weekday = _WEEKDAYS.get(day.strip(".").casefold())
    try:
        hour, minute = (int(part) for part in clock.strip().split(":"))
        at = time(hour, minute)
    except ValueError:
        at = None
    if weekday is None or at is None:
        raise ValueError(f"cannot read {entry!r}; expected a weekday and a time, e.g. 'Di 10:00'")
    return weekday, at


_STATES = (
    "BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH",
)  # fmt: skip


def known_state(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if code not in _STATES:
        raise ValueError(f"unknown German state {value!r}; expected one of {', '.join(_STATES)}")
    return code


def _readable_slot(entry: str) -> str:
    parse_weekly_slot(entry)
    return entry


# Config value types: each check is written once and reads the same in every section.
WeeklySlot = Annotated[str, AfterValidator(_readable_slot)]
HolidayState = Annotated[
    str | None,
    AfterValidator(known_state),
    Field(
        description='German state code ("NW", "BY", ...): a round due on a public holiday there '
        "moves to the next working day of the same week (or is skipped if there is none)."
    ),
]
