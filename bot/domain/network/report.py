"""The network report as data: figures per period, per unit and per month, the unit-to-unit
matrix and the crisis sectors. Unit names, sector names and counts only.

A count is `int | None`: None means "at least 1 and fewer than k", suppressed so that no
figure describes one or a few persons (review finding S-07); 0 is shown as 0. Values
derived from suppressed counts (E-I index, shares) are None too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias

from bot.domain.network.periods import Period
from bot.domain.network.ties import Level

Count: TypeAlias = int | None  # None: suppressed (1 to k-1)


def ei_index(external: Count, internal: Count) -> float | None:
    """Krackhardt & Stern: +1 only ties to other units, -1 only ties inside; None: no ties,
    or an input is suppressed."""
    if external is None or internal is None:
        return None
    total = external + internal
    return None if total == 0 else (external - internal) / total


@dataclass(frozen=True)
class UnitRow:
    unit: str  # a unit name, OTHER or UNKNOWN
    profiles: Count
    participants: Count
    opted_in: Count
    external: Count
    internal: Count
    ei: float | None
    ei_previous: float | None
    isolated: bool

    @property
    def share(self) -> float | None:
        """Participation: the share of the known profiles that take part."""
        if not self.profiles or self.participants is None:
            return None
        return self.participants / self.profiles


@dataclass(frozen=True)
class LevelFigures:
    cross: Count = 0
    internal: Count = 0
    unclassified: Count = 0  # a side without department / municipality

    @property
    def ei(self) -> float | None:
        return ei_index(self.cross, self.internal)

    @property
    def cross_share(self) -> float | None:
        if self.cross is None or self.internal is None:
            return None
        classified = self.cross + self.internal
        return None if classified == 0 else self.cross / classified


@dataclass(frozen=True)
class LevelReport:
    level: Level
    units: tuple[UnitRow, ...] = ()
    matrix_units: tuple[str, ...] = ()  # rows/columns of `matrix` (no UNKNOWN)
    matrix: tuple[tuple[Count, ...], ...] = ()  # ties between shown units; diagonal: inside
    isolated: tuple[str, ...] = ()  # shown units without a tie to another unit
    isolated_previous: int = 0
    components: int = 0  # separate groups of units (1: every unit reachable)
    merged: int = 0  # how many units are shown as OTHER
    current: LevelFigures = LevelFigures()
    previous: LevelFigures = LevelFigures()


@dataclass(frozen=True)
class Figures:
    ties: Count = 0
    pairs: Count = 0  # distinct pairs of people
    people: Count = 0  # distinct people with at least one tie
    by_kind: Mapping[str, Count] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthRow:
    month: date  # first day of the month
    ties: Count
    by_kind: Mapping[str, Count]
    cross_department: Count
    cross_municipality: Count


@dataclass(frozen=True)
class SectorRow:
    sector: str
    live_bridges: int  # distinct people with a live contact in the sector
    thin: bool  # fewer than two


@dataclass(frozen=True)
class NetworkReport:
    period: Period
    previous: Period
    k: int
    participants: int  # confirmed profiles overall
    profiles: int
    opted_in: Count
    suppressed: bool  # fewer than k participants: no figures at all
    current: Figures = Figures()
    before: Figures = Figures()
    months: tuple[MonthRow, ...] = ()  # the months of the period (ties inside the period)
    chart: tuple[MonthRow, ...] = ()  # whole months up to the period's end, for the chart
    departments: LevelReport = LevelReport("department")
    municipalities: LevelReport = LevelReport("municipality")
    sectors: tuple[SectorRow, ...] = ()
    as_of: date | None = None  # the day the report was made (a running period ends there)

    @property
    def running(self) -> bool:
        return self.as_of is not None and self.as_of < self.period.end

    def level(self, level: Level) -> LevelReport:
        return self.departments if level == "department" else self.municipalities
