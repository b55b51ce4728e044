"""Availability windows of bridge persons: parsing, evaluation and rendering.

Accepted forms (German and English, case-insensitive)::

    immer | always | jederzeit          nie | never | niemals
    Mo-Fr 7-18                          Mo,Mi,Fr 8:30-12
    Sa 10-14; So 10-12                  Mo-Fr 7-18, Sa 9-12
    Mo-Fr 7-12, 14-18                   täglich 22-6   (across midnight)

A part without day names takes the days of the part before it, so ``Mo-Fr 7-12, 14-18`` means
two windows on weekdays, which is how people write it; a first part without days means every day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MINUTES_PER_DAY = 24 * 60
ALL_DAYS = frozenset(range(7))
MAX_INPUT_LENGTH = 200

DAY_NAMES_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
DAY_NAMES_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_DAY_ALIASES: dict[str, int] = {
    name.casefold(): index
    for names in (
        DAY_NAMES_DE,
        DAY_NAMES_EN,
        ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"),
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"),
    )
    for index, name in enumerate(names)
} | {"sonnabend": 5}
_EVERY_DAY_WORDS = frozenset({"täglich", "taeglich", "daily"})
_ALWAYS_WORDS = frozenset({"immer", "always", "jederzeit", "anytime"})
_NEVER_WORDS = frozenset({"nie", "never", "niemals"})

# The time range is anchored at the end of a part; whatever precedes it names the days.
_RANGE_RE = re.compile(
    r"(?P<start>\d[\d:.]*)\s*(?:-|–|—|\bbis\b|\bto\b)\s*(?P<end>\d[\d:.]*)\s*(?:uhr|h)?\.?\s*$",
    re.IGNORECASE,
)
_TIME_RE = re.compile(r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?")
_DAY_DASH_RE = re.compile(r"\s*(?:[-–—]|\s(?:bis|to)\s)\s*", re.IGNORECASE)


class AvailabilityErrorCode(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNKNOWN_DAY = "unknown_day"
    MISSING_TIME = "missing_time"
    BAD_TIME = "bad_time"
    EMPTY_WINDOW = "empty_window"
    SYNTAX = "syntax"


class AvailabilityError(ValueError):
    """A window the parser could not read; `fragment` is the part the user should fix."""

    def __init__(self, code: AvailabilityErrorCode, fragment: str) -> None:
        super().__init__(f"{code.value}: {fragment!r}")
        self.code = code
        self.fragment = fragment


@dataclass(frozen=True)
class TimeWindow:
    """Minutes since local midnight; `end <= start` means the window runs past midnight,
    and then it belongs to the day it starts on."""

    days: frozenset[int]
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.days or not self.days <= ALL_DAYS:
            raise ValueError(f"days must be a non-empty subset of 0..6, got {set(self.days)}")
        if not 0 <= self.start < MINUTES_PER_DAY or not 0 < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"window {self.start}-{self.end} outside the day")
        if self.start == self.end:
            raise ValueError("window is empty")

    def contains(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


@dataclass(frozen=True)
class Availability:
    """Build through `parse_availability`, `ALWAYS`, `NEVER` or `Availability.of` so that equal
    schedules compare equal."""

    windows: tuple[TimeWindow, ...] = ()
    always: bool = False

    @classmethod
    def of(cls, windows: Iterable[TimeWindow]) -> Availability:
        by_time: dict[tuple[int, int], frozenset[int]] = {}
        for window in windows:
            key = (window.start, window.end)
            by_time[key] = by_time.get(key, frozenset()) | window.days
        merged = (TimeWindow(days, start, end) for (start, end), days in by_time.items())
        # Week order reads like a timetable: "Mo-Fr 7-18; Sa 9-12".
        return cls(tuple(sorted(merged, key=lambda w: (min(w.days), w.start, w.end))))

    def contains(self, dt_local: datetime) -> bool:
        """`dt_local` is read as wall-clock time in the zone the windows were written for."""
        if self.always:
            return True
        minute = dt_local.hour * 60 + dt_local.minute
        return any(w.contains(dt_local.weekday(), minute) for w in self.windows)

    def render_de(self) -> str:
        return self._render(DAY_NAMES_DE, "täglich", "immer", "nie")

    def render_en(self) -> str:
        return self._render(DAY_NAMES_EN, "daily", "always", "never")

    def _render(self, names: tuple[str, ...], every_day: str, always: str, never: str) -> str:
        if self.always:
            return always
        if not self.windows:
            return never
        return "; ".join(
            f"{_render_days(w.days, names, every_day)} {_render_time(w.start)}-"
            f"{_render_time(w.end)}"
            for w in self.windows
        )


ALWAYS = Availability(always=True)
NEVER = Availability()


def parse_availability(text: str) -> Availability:
    cleaned = " ".join(text.split())
    if not cleaned:
        raise AvailabilityError(AvailabilityErrorCode.EMPTY, "")
    if len(cleaned) > MAX_INPUT_LENGTH:
        raise AvailabilityError(AvailabilityErrorCode.TOO_LONG, cleaned[:MAX_INPUT_LENGTH])
    word = cleaned.casefold().rstrip(".!")
    if word in _ALWAYS_WORDS:
        return ALWAYS
    if word in _NEVER_WORDS:
        return NEVER

    windows: list[TimeWindow] = []
    pending_days: set[int] = set()
    pending_text: list[str] = []
    previous_days: frozenset[int] | None = None
    for fragment in (f.strip() for f in re.split(r"[;,]", cleaned)):
        if not fragment:
            continue
        match = _RANGE_RE.search(fragment)
        if match is None:
            if any(ch.isdigit() for ch in fragment):
                raise AvailabilityError(AvailabilityErrorCode.SYNTAX, fragment)
            # "Mo,Mi,Fr 8-12": the days before the last comma wait for the time range.
            pending_days |= _parse_days(fragment)
            pending_text.append(fragment)
            continue
        days_text = fragment[: match.start()].strip().rstrip(":")
        if any(ch.isdigit() for ch in days_text):
            raise AvailabilityError(AvailabilityErrorCode.SYNTAX, fragment)
        days = frozenset(pending_days | _parse_days(days_text))
        if not days:
            days = previous_days or ALL_DAYS
        start = _parse_time(match["start"], allow_24=False)
        end = _parse_time(match["end"], allow_24=True) or MINUTES_PER_DAY
        if start == end:
            raise AvailabilityError(AvailabilityErrorCode.EMPTY_WINDOW, match.group(0).strip())
        windows.append(TimeWindow(days, start, end))
        previous_days = days
        pending_days.clear()
        pending_text.clear()
    if pending_text:
        raise AvailabilityError(AvailabilityErrorCode.MISSING_TIME, ", ".join(pending_text))
    return Availability.of(windows)


def _parse_days(text: str) -> set[int]:
    days: set[int] = set()
    for item in _DAY_DASH_RE.sub("-", text).split():
        if item.casefold() in _EVERY_DAY_WORDS:
            days |= ALL_DAYS
            continue
        bounds = [_parse_day(name) for name in item.split("-")]
        if len(bounds) == 1:
            days.add(bounds[0])
        elif len(bounds) == 2:
            first, last = bounds
            # Ranges may wrap around the week ("Fr-Mo").
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            raise AvailabilityError(AvailabilityErrorCode.SYNTAX, item)
    return days


def _parse_day(name: str) -> int:
    day = _DAY_ALIASES.get(name.casefold().rstrip("."))
    if day is None:
        raise AvailabilityError(AvailabilityErrorCode.UNKNOWN_DAY, name)
    return day


def _parse_time(text: str, *, allow_24: bool) -> int:
    match = _TIME_RE.fullmatch(text.rstrip("."))
    if match is None:
        raise AvailabilityError(AvailabilityErrorCode.BAD_TIME, text)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not allow_24)):
        raise AvailabilityError(AvailabilityErrorCode.BAD_TIME, text)
    return hour * 60 + minute


def _render_days(days: frozenset[int], names: tuple[str, ...], every_day: str) -> str:
    if days == ALL_DAYS:
        return every_day
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        f"{names[run[0]]}-{names[run[-1]]}" if len(run) > 2 else ",".join(names[d] for d in run)
        for run in runs
    )


def _render_time(minutes: int) -> str:
    hour, minute = divmod(minutes, 60)
    return f"{hour}:{minute:02d}" if minute else str(hour)
