"""Dates and time ranges as users type them in chat, e.g. for hospitation offers.

Accepted (case-insensitive, commas and the words "Uhr", "jeweils", "am" ignored):
``2026-12-03``, ``03.12.2026``, ``3.12.26``, ``03.12.`` (next such day), optionally with a
weekday (``Do, 03.12.2026``, checked against the date), a time range (``9-12``,
``09:00-12:30``, ``9.30–12 Uhr``) and a date range (``03.12.2026-05.12.2026``,
``2026-12-03 bis 2026-12-05``, ``03.-05.12.2026``, ``30.11.-02.12.2026``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum

# A typo in the year ("2062") should not create an offer nobody will ever see come round.
MAX_DAYS_AHEAD = 731
# Hospitations last days, not months; longer ranges are almost always a typo.
MAX_RANGE_DAYS = 14
# Bounds the regex work on hostile input; real dates are far shorter.
MAX_INPUT_LENGTH = 80

WEEKDAYS_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class DateErrorCode(StrEnum):
    EMPTY = "date_empty"
    UNRECOGNISED = "date_unrecognised"
    INVALID_DATE = "date_invalid"
    WEEKDAY_MISMATCH = "date_weekday_mismatch"
    IN_PAST = "date_in_past"
    TOO_FAR = "date_too_far"
    END_BEFORE_START = "date_end_before_start"
    RANGE_TOO_LONG = "date_range_too_long"
    INVALID_TIME = "date_invalid_time"
    MISSING_END_TIME = "date_missing_end_time"
    TIME_ORDER = "date_time_order"


@dataclass(frozen=True)
class DateError:
    code: DateErrorCode
    # The part of the user's input that is wrong, so the message can quote it back.
    fragment: str = ""


@dataclass(frozen=True)
class When:
    start_date: date
    end_date: date
    start_time: time | None = None
    end_time: time | None = None

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ValueError("end_date before start_date")
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("start_time and end_time must be given together")
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")

    @property
    def is_all_day(self) -> bool:
        return self.start_time is None

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def render_de(self) -> str:
        """E.g. ``Do, 03.12.2026, 09:00–12:00``; parses back with `parse_when`."""
        return self._render(WEEKDAYS_DE, "%d.%m.%Y", "jeweils ")

    def render_en(self) -> str:
        """E.g. ``Thu, 2026-12-03, 09:00–12:00``; ISO dates avoid the d/m vs m/d trap."""
        return self._render(WEEKDAYS_EN, "%Y-%m-%d", "daily ")

    def _render(self, weekdays: tuple[str, ...], date_format: str, each_day: str) -> str:
        def one(day: date) -> str:
            return f"{weekdays[day.weekday()]}, {day.strftime(date_format)}"

        text = one(self.start_date)
        if self.end_date != self.start_date:
            text += f" – {one(self.end_date)}"
        if self.start_time is not None and self.end_time is not None:
            prefix = each_day if self.end_date != self.start_date else ""
            text += f", {prefix}{self.start_time:%H:%M}–{self.end_time:%H:%M}"
        return text


_WEEKDAY_NAMES = {
    name: index
    for index, names in enumerate(
        (
            ("mo", "montag", "mon", "monday"),
            ("di", "dienstag", "tue", "tues", "tuesday"),
            ("mi", "mittwoch", "wed", "wednesday"),
            ("do", "donnerstag", "thu", "thur", "thurs", "thursday"),
            ("fr", "freitag", "fri", "friday"),
            ("sa", "samstag", "sonnabend", "sat", "saturday"),
            ("so", "sonntag", "sun", "sunday"),
        )
    )
    for name in names
}
_WEEKDAY_RE = re.compile(
    r"\b(" + "|".join(sorted(_WEEKDAY_NAMES, key=len, reverse=True)) + r")\b\.?"
)
_FILLER_RE = re.compile(r"\b(uhr|jeweils|täglich|daily|each day|am|vom|von|on|from)\b")
_SEPARATOR_RE = re.compile(r"\b(bis|to|until)\b|[–—‒−]")

# re.ASCII: \d would otherwise match (and int() accept) digits of any script.
_ISO = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_DE = r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?"
_ISO_RE = re.compile(_ISO, re.ASCII)
_DE_RE = re.compile(_DE, re.ASCII)
_ISO_RANGE_RE = re.compile(_ISO + "-" + _ISO, re.ASCII)
# "03.12.2026-05.12.2026", "30.11.-02.12.2026": a start without year takes the end's year.
_DE_RANGE_RE = re.compile(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2})?)?-" + _DE, re.ASCII)
# "03.-05.12.2026" and "3-5.12.2026": the days share month and year.
_DAY_RANGE_RE = re.compile(r"(\d{1,2})\.?-" + _DE, re.ASCII)
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_TIME_RANGE_RE = re.compile(_TIME + "-" + _TIME, re.ASCII)
_SINGLE_TIME_RE = re.compile(_TIME, re.ASCII)


def parse_when(text: str, today: date) -> When | DateError:
    """Parse a date, date range and/or time range typed by a user; never raises."""
    raw = " ".join(text.split())
    if not raw:
        return DateError(DateErrorCode.EMPTY)
    if len(raw) > MAX_INPUT_LENGTH:
        return DateError(DateErrorCode.UNRECOGNISED, raw[:MAX_INPUT_LENGTH] + "…")
    normalised = raw.casefold().replace(",", " ")
    weekdays = [_WEEKDAY_NAMES[m.group(1)] for m in _WEEKDAY_RE.finditer(normalised)]
    normalised = _WEEKDAY_RE.sub(" ", normalised)
    normalised = _SEPARATOR_RE.sub("-", _FILLER_RE.sub(" ", normalised))
    tokens = re.sub(r"\s*-\s*", "-", " ".join(normalised.split())).split()
    if not 1 <= len(tokens) <= 2 or len(weekdays) > 2:
        return DateError(DateErrorCode.UNRECOGNISED, raw)

    dates = _parse_dates(tokens[0], today)
    if isinstance(dates, DateError):
        return _quoting_input(dates, raw)
    start, end = dates
    for weekday, day in zip(weekdays, (start, end), strict=False):
        if weekday != day.weekday():
            return DateError(DateErrorCode.WEEKDAY_MISMATCH, day.strftime("%d.%m.%Y"))
    if end < start:
        return DateError(DateErrorCode.END_BEFORE_START, tokens[0])
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return DateError(DateErrorCode.RANGE_TOO_LONG, tokens[0])
    if start < today:
        return DateError(DateErrorCode.IN_PAST, start.strftime("%d.%m.%Y"))
    if start > today + timedelta(days=MAX_DAYS_AHEAD):
        return DateError(DateErrorCode.TOO_FAR, start.strftime("%d.%m.%Y"))

    if len(tokens) == 1:
        return When(start, end)
    times = _parse_times(tokens[1])
    if isinstance(times, DateError):
        return _quoting_input(times, raw)
    return When(start, end, times[0], times[1])


def _quoting_input(error: DateError, raw: str) -> DateError:
    # The normalised token would quote back text the user never typed (lower-cased, cut up).
    if error.code is DateErrorCode.UNRECOGNISED:
        return DateError(error.code, raw)
    return error


def _parse_dates(token: str, today: date) -> tuple[date, date] | DateError:
    if match := _ISO_RE.fullmatch(token):
        day = _make_date(*[int(g) for g in match.groups()], token=token)
        return _pair(day, day)
    if match := _ISO_RANGE_RE.fullmatch(token):
        ymd = [int(g) for g in match.groups()]
        return _pair(_make_date(*ymd[:3], token=token), _make_date(*ymd[3:], token=token))
    if match := _DE_RE.fullmatch(token):
        day = _de_date(match.groups(), today, token)
        return _pair(day, day)
    if match := _DE_RANGE_RE.fullmatch(token):
        g = match.groups()
        return _de_range(int(g[0]), int(g[1]), g[2], g[3:], today, token)
    if match := _DAY_RANGE_RE.fullmatch(token):
        g = match.groups()
        return _de_range(int(g[0]), None, None, g[1:], today, token)
    return DateError(DateErrorCode.UNRECOGNISED, token)


def _de_range(
    day: int,
    month: int | None,
    year_text: str | None,
    end_groups: tuple[str | None, ...],
    today: date,
    token: str,
) -> tuple[date, date] | DateError:
    """Complete a German range whose start omits month and/or year from its end date."""
    end = _de_date(end_groups, today, token)
    if isinstance(end, DateError):
        return end
    month = month or end.month
    if year_text is None:
        # "28.12.-02.01.2027" spans the turn of the year.
        year = end.year - 1 if month > end.month else end.year
    else:
        year = _full_year(year_text)
    return _pair(_make_date(year, month, day, token=token), end)


def _de_date(groups: tuple[str | None, ...], today: date, token: str) -> date | DateError:
    day_text, month_text, year_text = groups
    assert day_text is not None and month_text is not None  # mandatory in the regex
    day, month = int(day_text), int(month_text)
    if year_text is not None:
        return _make_date(_full_year(year_text), month, day, token=token)
    # "03.12." means the next 3 December, so it can never land in the past.
    this_year = _make_date(today.year, month, day, token=token)
    if isinstance(this_year, date) and this_year >= today:
        return this_year
    return _make_date(today.year + 1, month, day, token=token)


def _full_year(text: str) -> int:
    return int(text) + (2000 if len(text) == 2 else 0)


def _pair(start: date | DateError, end: date | DateError) -> tuple[date, date] | DateError:
    if isinstance(start, DateError):
        return start
    if isinstance(end, DateError):
        return end
    return start, end


def _make_date(year: int, month: int, day: int, *, token: str) -> date | DateError:
    try:
        return date(year, month, day)
    except ValueError:
        return DateError(DateErrorCode.INVALID_DATE, token)


def _parse_times(token: str) -> tuple[time, time] | DateError:
    if match := _TIME_RANGE_RE.fullmatch(token):
        g = match.groups()
        start = _make_time(g[0], g[1], token)
        end = _make_time(g[2], g[3], token)
        if isinstance(start, DateError):
            return start
        if isinstance(end, DateError):
            return end
        if end <= start:
            return DateError(DateErrorCode.TIME_ORDER, token)
        return start, end
    if _SINGLE_TIME_RE.fullmatch(token):
        return DateError(DateErrorCode.MISSING_END_TIME, token)
    return DateError(DateErrorCode.UNRECOGNISED, token)


def _make_time(hour: str | None, minute: str | None, token: str) -> time | DateError:
    try:
        return time(int(hour or 0), int(minute or 0))
    except ValueError:
        return DateError(DateErrorCode.INVALID_TIME, token)
