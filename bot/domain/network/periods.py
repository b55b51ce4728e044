"""Report periods: a calendar month, quarter or year that has ended; parsing what people
type (`2026-11`, `monat`, `Q3 2026`, `jahr`) and the months a chart shows.

Whole, completed months are the smallest period (review finding S-07): a window of days
(`!admin bericht 1`) gave the figures of one day, two overlapping windows could be
subtracted from each other, and so could two reports on a month that is still running."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

PeriodKind = Literal["month", "quarter", "year"]


class PeriodError(StrEnum):
    UNREADABLE = "unreadable"
    FUTURE = "future"
    WHOLE_MONTHS = "whole_months"  # a number of days: only whole months
    RUNNING = "running"  # has not ended yet


def _month_start(year: int, month: int, delta: int = 0) -> date:
    index = year * 12 + (month - 1) + delta
    return date(index // 12, index % 12 + 1, 1)


def _month_end(year: int, month: int) -> date:
    return _month_start(year, month, 1) - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends after it starts")
        if (
            self.kind not in ("month", "quarter", "year")
            or self.start.day != 1
            or (self.end + timedelta(days=1)).day != 1
        ):
            raise ValueError(f"a report period covers whole months, not {self.kind} {self}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def previous(self) -> Period:
        """The period of the same kind right before."""
        if self.kind == "month":
            return month_period(_month_start(self.start.year, self.start.month, -1))
        if self.kind == "quarter":
            return quarter_period(_month_start(self.start.year, self.start.month, -3))
        return year_period(self.start.year - 1)

    @property
    def key(self) -> str:
        """Stable, file-name safe: `2026-11`, `2026-Q3`, `2026`."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def months(self) -> list[date]:
        """First days of the calendar months the period touches, in order."""
        found = []
        current = _month_start(self.start.year, self.start.month)
        while current <= self.end:
            found.append(current)
            current = _month_start(current.year, current.month, 1)
        return found


def last_month(today: date) -> Period:
    """The last complete calendar month."""
    return month_period(_month_start(today.year, today.month, -1))


def month_period(day: date) -> Period:
    return Period("month", _month_start(day.year, day.month), _month_end(day.year, day.month))


def quarter_period(day: date) -> Period:
    first = _month_start(day.year, (day.month - 1) // 3 * 3 + 1)
    last = _month_start(first.year, first.month, 3) - timedelta(days=1)
    return Period("quarter", first, last)


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31))


_DAYS = re.compile(r"^(\d{1,4})\s*(tage?|days?|d)?$")  # refused: only whole months
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DE_MONTH = re.compile(r"^(\d{1,2})[./](\d{4})$")
_QUARTER = (
    re.compile(r"^(?P<y>\d{4})[-/ ]?q(?P<q>[1-4])$"),
    re.compile(r"^q(?P<q>[1-4])[-/ ]?(?P<y>\d{4})$"),
    re.compile(r"^(?P<q>[1-4])\.?\s*quartal\s*(?P<y>\d{4})$"),
)
_LAST_MONTH = frozenset({"monat", "month", "vormonat", "letzter monat", "last month"})
_LAST_QUARTER = frozenset({"quartal", "quarter", "letztes quartal", "last quarter"})
_LAST_YEAR = frozenset({"jahr", "year", "vorjahr", "letztes jahr", "last year"})


def parse_period(text: str | None, today: date) -> Period | PeriodError:
    """`None`/empty and `monat`: the last complete month. `2026-11`/`11.2026`: a calendar
    month. `quartal`: the last complete quarter; `2026-Q3`/`Q3 2026`: that quarter. `jahr`:
    the last complete year; `2026`: that year. A number of days is refused (WHOLE_MONTHS),
    so is a period that has not started (FUTURE) or not ended yet (RUNNING)."""
    word = " ".join((text or "").split()).casefold()
    if not word or word in _LAST_MONTH:
        return last_month(today)
    if word in _LAST_QUARTER:
        return quarter_period(today).previous()
    if word in _LAST_YEAR:
        return year_period(today.year - 1)
    found: Period | None = None
    if re.fullmatch(r"\d{4}", word) and 2000 <= int(word) <= 2999:
        found = year_period(int(word))
    elif _DAYS.match(word):
        return PeriodError.WHOLE_MONTHS
    elif month_match := (_ISO_MONTH.match(word) or _DE_MONTH.match(word)):
        first, second = (int(g) for g in month_match.groups())
        year, month = (first, second) if month_match.re is _ISO_MONTH else (second, first)
        if not 1 <= month <= 12:
            return PeriodError.UNREADABLE
        found = month_period(date(year, month, 1))
    else:
        for pattern in _QUARTER:
            if quarter := pattern.match(word):
                year, number = int(quarter.group("y")), int(quarter.group("q"))
                found = quarter_period(date(year, number * 3 - 2, 1))
                break
    if found is None:
        return PeriodError.UNREADABLE
    if found.start > today:
        return PeriodError.FUTURE
    if found.end >= today:
        return PeriodError.RUNNING
    return found


def chart_months(period: Period, months: int) -> list[date]:
    """The whole months shown in the chart: at least `months`, ending with the period's."""
    last = date(period.end.year, period.end.month, 1)
    count = max(months, len(period.months()))
    return [_month_start(last.year, last.month, -i) for i in range(count - 1, -1, -1)]
