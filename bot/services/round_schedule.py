"""When a coffee round or topic circle round is due.

A round belongs to a period (an ISO week "2026-W48" or a month "2026-12"); it is due at the
configured weekday and time of that period, moved past public holidays, and may still run
within a grace time (the bot was down).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

# Weeks for "every N weeks" are counted from this Monday.
WEEK_ANCHOR = date(2024, 1, 1)


@dataclass(frozen=True)
class RoundPeriod:
    key: str  # "2026-W48" (weekly) or "2026-12" (monthly)
    due: datetime | None  # aware; None: no round this period (holidays all week)


@cache
def _holidays(state: str, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("DE", subdiv=state, years=year))


def is_holiday(day: date, state: str | None) -> bool:
    return state is not None and day in _holidays(state, day.year)


def shift_past_holidays(day: date, state: str | None, last: date) -> date | None:
    """The day itself, or the next working day up to `last` if it is a public holiday."""
    if not is_holiday(day, state):
        return day
    wanted_weekday = day.weekday()
    candidate = day + timedelta(days=1)
    while candidate <= last:
        working = candidate.weekday() < 5 or candidate.weekday() == wanted_weekday
        if working and not is_holiday(candidate, state):
            return candidate
        candidate += timedelta(days=1)
    return None


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


@dataclass(frozen=True)
class Schedule:
    """Weekly (every `every_weeks` weeks) or monthly (the `week_of_month`-th weekday)."""

    weekday: int  # 0 = Monday
    at: clock_time
    timezone: ZoneInfo
    every_weeks: int | None = 1  # None: monthly
    week_of_month: int = 1
    holiday_state: str | None = None

    @property
    def unit(self) -> Literal["week", "month"]:
        return "month" if self.every_weeks is None else "week"

    def period_of(self, day: date) -> RoundPeriod:
        """The period `day` lies in, with its due time (None if not a round period)."""
        if self.every_weeks is None:
            first = day.replace(day=1)
            offset = (self.weekday - first.weekday()) % 7
            scheduled = first + timedelta(days=offset + 7 * (self.week_of_month - 1))
            next_month = (first + timedelta(days=32)).replace(day=1)
            # Past holidays, but not beyond the scheduled day's week or the month.
            last = min(
                scheduled + timedelta(days=6 - scheduled.weekday()),
                next_month - timedelta(days=1),
            )
            return RoundPeriod(month_key(day), self._due(scheduled, last))
        monday = day - timedelta(days=day.weekday())
        key = week_key(day)
        if ((monday - WEEK_ANCHOR).days // 7) % self.every_weeks != 0:
            return RoundPeriod(key, None)
        scheduled = monday + timedelta(days=self.weekday)
        return RoundPeriod(key, self._due(scheduled, monday + timedelta(days=6)))

    def _due(self, scheduled: date, last: date) -> datetime | None:
        day = shift_past_holidays(scheduled, self.holiday_state, last)
        if day is None:
            return None
        return datetime.combine(day, self.at, tzinfo=self.timezone)

    def due_period(self, now: float, grace_s: float) -> RoundPeriod | None:
        """The period whose round is due now: due time passed, grace not yet over."""
        local = datetime.fromtimestamp(now, self.timezone).date()
        step = timedelta(days=28 if self.unit == "month" else 7)
        for day in (local, local - step):
            period = self.period_of(day)
            if period.due is None:
                continue
            due = period.due.timestamp()
            if due <= now <= due + grace_s:
                return period
        return None

    def current_key(self, now: float) -> str:
        local = datetime.fromtimestamp(now, self.timezone).date()
        return month_key(local) if self.unit == "month" else week_key(local)
