"""Network health: aggregate figures over the ties of the network, never per person.

A *tie* is one recorded encounter of two people: a coffee match or topic circle that met, a
confirmed spontaneous coffee break, a hospitation that took place, a crisis request that
connected a requester with a bridge person. Each tie carries the department and municipality
of both people (as they were at the time, where the feature kept that).

From ties and the current profiles (only their unit and participation flags) this module
computes, for a period and the one before it: ties per month and kind, cross-department and
cross-municipality ties, the E-I index per unit (Krackhardt & Stern 1988:
`(E - I) / (E + I)` with E the ties of a unit's members to other units and I the ties inside
the unit), units without outside ties, participation per unit, and the crisis sectors with
fewer than two live bridge persons.

k-anonymity: a unit with fewer than `k` participants (confirmed profiles) is merged into
`OTHER`; if `OTHER` itself ends up with fewer than `k`, the smallest named units join it
until it has `k` (otherwise the total minus the named units would reveal it). With fewer
than `k` participants overall the report carries no figures at all. The output holds unit
names, sector names and counts only: no Matrix ID, no name, no free text of a person.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

import networkx as nx

from bot.domain.crisis_stats import thin_sectors
from bot.domain.profile import fold

KINDS = ("coffee", "circle", "break", "hospitation", "crisis")
"""Tie kinds: weekly coffee match, topic circle, spontaneous coffee break, hospitation,
crisis connection (real requests only; drills are exercises, not ties)."""

OTHER = "~other"  # units with fewer than k participants, merged ("Sonstige")
UNKNOWN = "~unknown"  # no department / municipality given ("ohne Angabe")
Level = Literal["department", "municipality"]
LEVELS: tuple[Level, ...] = ("department", "municipality")

DEFAULT_K = 5
MAX_DAYS = 3660


# -- input ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tie:
    """One tie. `person_a`/`person_b` are opaque keys (a Matrix ID or a placeholder for a
    forgotten person); they are only used to count distinct pairs and people."""

    kind: str
    person_a: str
    person_b: str
    on: date
    department_a: str | None = None
    municipality_a: str | None = None
    department_b: str | None = None
    municipality_b: str | None = None

    def unit(self, level: Level, side: Literal["a", "b"]) -> str | None:
        if level == "department":
            return self.department_a if side == "a" else self.department_b
        return self.municipality_a if side == "a" else self.municipality_b


@dataclass(frozen=True)
class Member:
    """One profile, reduced to what participation needs. `confirmed`: takes part (acted in
    chat); `opted_in`: weekly coffee matching switched on."""

    department: str | None
    municipality: str | None
    confirmed: bool
    opted_in: bool

    def unit(self, level: Level) -> str | None:
        return self.department if level == "department" else self.municipality


# -- periods ----------------------------------------------------------------------------

PeriodKind = Literal["days", "month", "quarter", "year"]


class PeriodError(StrEnum):
    UNREADABLE = "unreadable"
    FUTURE = "future"
    TOO_LONG = "too_long"


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

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def previous(self) -> Period:
        """The period of the same kind right before (the same number of days for `days`)."""
        if self.kind == "days":
            end = self.start - timedelta(days=1)
            return Period("days", end - timedelta(days=self.days - 1), end)
        if self.kind == "month":
            return month_period(_month_start(self.start.year, self.start.month, -1))
        if self.kind == "quarter":
            return quarter_period(_month_start(self.start.year, self.start.month, -3))
        return year_period(self.start.year - 1)

    @property
    def key(self) -> str:
        """Stable, file-name safe: `2026-11`, `2026-Q3`, `2026`, `2026-10-15_2026-11-13`."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def months(self) -> list[date]:
        """First days of the calendar months the period touches, in order."""
        found = []
        current = _month_start(self.start.year, self.start.month)
        while current <= self.end:
            found.append(current)
            current = _month_start(current.year, current.month, 1)
        return found


def last_days(days: int, today: date) -> Period:
    return Period("days", today - timedelta(days=days - 1), today)


def month_period(day: date) -> Period:
    return Period("month", _month_start(day.year, day.month), _month_end(day.year, day.month))


def quarter_period(day: date) -> Period:
    first = _month_start(day.year, (day.month - 1) // 3 * 3 + 1)
    last = _month_start(first.year, first.month, 3) - timedelta(days=1)
    return Period("quarter", first, last)


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31))


_DAYS = re.compile(r"^(\d{1,4})\s*(tage?|days?|d)?$")
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


def parse_period(text: str | None, today: date, default_days: int = 30) -> Period | PeriodError:
    """`None`/empty: the last `default_days` days. `30`/`30 Tage`: the last 30 days up to
    today. `2026-11`/`11.2026`: a calendar month. `monat`: the last complete month.
    `quartal`: the last complete quarter; `2026-Q3`/`Q3 2026`: that quarter. `jahr`: the
    last complete year; `2026`: that year. A period that has not started is refused; one
    that has not ended yet runs up to today."""
    word = " ".join((text or "").split()).casefold()
    if not word:
        return last_days(default_days, today)
    if word in _LAST_MONTH:
        return month_period(_month_start(today.year, today.month, -1))
    if word in _LAST_QUARTER:
        return quarter_period(today).previous()
    if word in _LAST_YEAR:
        return year_period(today.year - 1)
    found: Period | None = None
    if re.fullmatch(r"\d{4}", word) and 2000 <= int(word) <= 2999:
        found = year_period(int(word))
    elif match := _DAYS.match(word):
        days = int(match.group(1))
        if days < 1:
            return PeriodError.UNREADABLE
        if days > MAX_DAYS:
            return PeriodError.TOO_LONG
        return last_days(days, today)
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
    return found


# -- units and k-anonymity --------------------------------------------------------------


def unit_key(raw: str | None) -> str | None:
    """The comparison key of a unit name (case, umlaut spelling, spaces do not count);
    None when no unit is given."""
    if raw is None:
        return None
    key = fold(raw)
    return key or None


@dataclass(frozen=True)
class UnitMap:
    """Which label each unit is shown under: its name, or OTHER when merged."""

    labels: Mapping[str, str]  # unit key (UNKNOWN for none) -> shown label
    participants: Mapping[str, int]

    def shown(self, raw: str | None) -> str:
        key = unit_key(raw) or UNKNOWN
        return self.labels.get(key, OTHER)

    @property
    def merged(self) -> int:
        """How many units are shown as OTHER."""
        return sum(1 for key, label in self.labels.items() if label == OTHER and key != UNKNOWN)


def unit_map(
    members: Sequence[Member],
    ties: Iterable[Tie],
    level: Level,
    k: int,
    preferred: Sequence[str] = (),
) -> UnitMap:
    """Name each unit (the configured spelling first, else the most common one among the
    profiles, else among the ties) and merge every unit with fewer than `k` participants
    into OTHER, then as many of the smallest others as it takes for OTHER to reach `k`."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    participants: Counter[str] = Counter()
    present: set[str] = set()
    for member in members:
        raw = member.unit(level)
        key = unit_key(raw) or UNKNOWN
        present.add(key)
        if raw is not None and key != UNKNOWN:
            spellings[key][" ".join(raw.split())] += 2 if member.confirmed else 1
        if member.confirmed:
            participants[key] += 1
    for tie in ties:
        for raw in (tie.unit(level, "a"), tie.unit(level, "b")):
            key = unit_key(raw) or UNKNOWN
            present.add(key)
            if raw is not None and key != UNKNOWN and not spellings[key]:
                spellings[key][" ".join(raw.split())] += 0
    configured = {unit_key(name): name for name in preferred if unit_key(name)}

    def name(key: str) -> str:
        if key == UNKNOWN:
            return UNKNOWN
        if key in configured:
            return configured[key]
        ranked = sorted(spellings[key].items(), key=lambda item: (-item[1], item[0]))
        return ranked[0][0] if ranked else key

    labels = {key: (name(key) if participants[key] >= k else OTHER) for key in present}
    merged = [key for key in present if labels[key] == OTHER]
    other_size = sum(participants[key] for key in merged)
    while merged and other_size < k:
        named = [key for key in present if labels[key] != OTHER]
        if not named:
            break
        smallest = min(named, key=lambda key: (participants[key], labels[key]))
        labels[smallest] = OTHER
        other_size += participants[smallest]
    return UnitMap(labels, dict(participants))


# -- output -----------------------------------------------------------------------------


def ei_index(external: int, internal: int) -> float | None:
    """Krackhardt & Stern: +1 only ties to other units, -1 only ties inside; None: no ties."""
    total = external + internal
    return None if total == 0 else (external - internal) / total


@dataclass(frozen=True)
class UnitRow:
    unit: str  # a unit name, OTHER or UNKNOWN
    profiles: int
    participants: int
    opted_in: int
    external: int
    internal: int
    ei: float | None
    ei_previous: float | None
    isolated: bool

    @property
    def share(self) -> float | None:
        """Participation: the share of the known profiles that take part."""
        return None if self.profiles == 0 else self.participants / self.profiles


@dataclass(frozen=True)
class LevelFigures:
    cross: int = 0
    internal: int = 0
    unclassified: int = 0  # a side without department / municipality

    @property
    def ei(self) -> float | None:
        return ei_index(self.cross, self.internal)

    @property
    def cross_share(self) -> float | None:
        classified = self.cross + self.internal
        return None if classified == 0 else self.cross / classified


@dataclass(frozen=True)
class LevelReport:
    level: Level
    units: tuple[UnitRow, ...] = ()
    matrix_units: tuple[str, ...] = ()  # rows/columns of `matrix` (no UNKNOWN)
    matrix: tuple[tuple[int, ...], ...] = ()  # ties between shown units; diagonal: inside
    isolated: tuple[str, ...] = ()  # shown units without a tie to another unit
    isolated_previous: int = 0
    components: int = 0  # separate groups of units (1: every unit reachable)
    merged: int = 0  # how many units are shown as OTHER
    current: LevelFigures = LevelFigures()
    previous: LevelFigures = LevelFigures()


@dataclass(frozen=True)
class Figures:
    ties: int = 0
    pairs: int = 0  # distinct pairs of people
    people: int = 0  # distinct people with at least one tie
    by_kind: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthRow:
    month: date  # first day of the month
    ties: int
    by_kind: Mapping[str, int]
    cross_department: int
    cross_municipality: int


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
    opted_in: int
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


# -- computation ------------------------------------------------------------------------


def _classify(tie: Tie, level: Level) -> Literal["cross", "internal", "unclassified"]:
    a, b = unit_key(tie.unit(level, "a")), unit_key(tie.unit(level, "b"))
    if a is None or b is None:
        return "unclassified"
    return "cross" if a != b else "internal"


def _figures(ties: Sequence[Tie]) -> Figures:
    graph: nx.Graph = nx.Graph()
    graph.add_edges_from((t.person_a, t.person_b) for t in ties if t.person_a != t.person_b)
    kinds = Counter(t.kind for t in ties)
    return Figures(
        ties=len(ties),
        pairs=graph.number_of_edges(),
        people=graph.number_of_nodes(),
        by_kind={kind: kinds.get(kind, 0) for kind in _kinds(kinds)},
    )


def _kinds(found: Iterable[str]) -> list[str]:
    return list(KINDS) + sorted(set(found) - set(KINDS))


def _level_figures(ties: Sequence[Tie], level: Level) -> LevelFigures:
    counts = Counter(_classify(t, level) for t in ties)
    return LevelFigures(counts["cross"], counts["internal"], counts["unclassified"])


def _external_internal(
    ties: Sequence[Tie], level: Level, units: UnitMap
) -> tuple[Counter[str], Counter[str]]:
    """Per shown unit: E (endpoints of ties to another unit) and I (ties inside a unit). A
    tie between two units merged into OTHER is external for both: the classification uses
    the real units, the grouping the shown ones."""
    external: Counter[str] = Counter()
    internal: Counter[str] = Counter()
    for tie in ties:
        kind = _classify(tie, level)
        if kind == "cross":
            external[units.shown(tie.unit(level, "a"))] += 1
            external[units.shown(tie.unit(level, "b"))] += 1
        elif kind == "internal":
            internal[units.shown(tie.unit(level, "a"))] += 1
    return external, internal


def _shown_order(labels: Iterable[str], participants: Mapping[str, int]) -> list[str]:
    """Largest units first; OTHER and UNKNOWN at the end."""
    named = sorted(
        (label for label in set(labels) if label not in (OTHER, UNKNOWN)),
        key=lambda label: (-participants.get(label, 0), label.casefold()),
    )
    return named + [label for label in (OTHER, UNKNOWN) if label in set(labels)]


def _level_report(
    level: Level,
    members: Sequence[Member],
    current: Sequence[Tie],
    previous: Sequence[Tie],
    units: UnitMap,
) -> LevelReport:
    profiles: Counter[str] = Counter()
    participants: Counter[str] = Counter()
    opted_in: Counter[str] = Counter()
    for member in members:
        shown = units.shown(member.unit(level))
        profiles[shown] += 1
        participants[shown] += member.confirmed
        opted_in[shown] += member.confirmed and member.opted_in
    external, internal = _external_internal(current, level, units)
    external_before, internal_before = _external_internal(previous, level, units)

    shown_units = set(profiles) | set(external) | set(internal)
    order = _shown_order(shown_units, participants)
    matrix_units = [u for u in order if u != UNKNOWN]
    index = {u: i for i, u in enumerate(matrix_units)}
    cells = [[0] * len(matrix_units) for _ in matrix_units]
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(matrix_units)
    for tie in current:
        if _classify(tie, level) == "unclassified":
            continue
        a, b = units.shown(tie.unit(level, "a")), units.shown(tie.unit(level, "b"))
        i, j = index[a], index[b]
        cells[i][j] += 1
        if i != j:
            cells[j][i] += 1
            graph.add_edge(a, b)

    def isolated(ext: Counter[str], label: str) -> bool:
        # With a single unit (one municipality, say) there is no outside to reach.
        return label != UNKNOWN and len(matrix_units) > 1 and ext[label] == 0

    rows = tuple(
        UnitRow(
            unit=label,
            profiles=profiles[label],
            participants=participants[label],
            opted_in=opted_in[label],
            external=external[label] if label != UNKNOWN else 0,
            internal=internal[label] if label != UNKNOWN else 0,
            ei=None if label == UNKNOWN else ei_index(external[label], internal[label]),
            ei_previous=(
                None
                if label == UNKNOWN
                else ei_index(external_before[label], internal_before[label])
            ),
            isolated=isolated(external, label),
        )
        for label in order
    )
    return LevelReport(
        level=level,
        units=rows,
        matrix_units=tuple(matrix_units),
        matrix=tuple(tuple(row) for row in cells),
        isolated=tuple(r.unit for r in rows if r.isolated),
        isolated_previous=sum(isolated(external_before, label) for label in matrix_units),
        components=nx.number_connected_components(graph) if matrix_units else 0,
        merged=units.merged,
        current=_level_figures(current, level),
        previous=_level_figures(previous, level),
    )


def _month_rows(ties: Sequence[Tie], months: Sequence[date]) -> tuple[MonthRow, ...]:
    by_month: dict[date, list[Tie]] = defaultdict(list)
    for tie in ties:
        by_month[date(tie.on.year, tie.on.month, 1)].append(tie)
    rows = []
    for month in months:
        found = by_month.get(month, [])
        kinds = Counter(t.kind for t in found)
        levels = {level: _level_figures(found, level) for level in LEVELS}
        rows.append(
            MonthRow(
                month=month,
                ties=len(found),
                by_kind={kind: kinds.get(kind, 0) for kind in _kinds(kinds)},
                cross_department=levels["department"].cross,
                cross_municipality=levels["municipality"].cross,
            )
        )
    return tuple(rows)


def chart_months(period: Period, months: int) -> list[date]:
    """The whole months shown in the chart: at least `months`, ending with the period's."""
    last = date(period.end.year, period.end.month, 1)
    count = max(months, len(period.months()))
    return [_month_start(last.year, last.month, -i) for i in range(count - 1, -1, -1)]


def network_report(
    ties: Iterable[Tie],
    members: Iterable[Member],
    period: Period,
    *,
    k: int = DEFAULT_K,
    sectors: Sequence[str] = (),
    live_bridges: Mapping[str, int] | None = None,
    chart_length: int = 12,
    departments: Sequence[str] = (),
    municipalities: Sequence[str] = (),
    as_of: date | None = None,
) -> NetworkReport:
    """The report for `period`, compared with `period.previous()`. `ties` may hold more
    than both periods (those are used for the chart only); `departments` and
    `municipalities` are the configured spellings of unit names."""
    if k < 1:
        raise ValueError("k must be at least 1")
    all_ties = list(ties)
    people = list(members)
    previous = period.previous()
    participants = sum(m.confirmed for m in people)
    profiles = len(people)
    opted_in = sum(m.confirmed and m.opted_in for m in people)
    if participants < k:
        return NetworkReport(period, previous, k, participants, profiles, opted_in, suppressed=True)
    current = [t for t in all_ties if period.contains(t.on)]
    before = [t for t in all_ties if previous.contains(t.on)]
    level_reports: dict[Level, LevelReport] = {}
    configured: dict[Level, Sequence[str]] = {
        "department": departments,
        "municipality": municipalities,
    }
    for level in LEVELS:
        units = unit_map(people, [*current, *before], level, k, configured[level])
        level_reports[level] = _level_report(level, people, current, before, units)
    chart_range = chart_months(period, chart_length)
    live = live_bridges or {}
    thin = set(thin_sectors(sectors, live))
    return NetworkReport(
        period,
        previous,
        k,
        participants,
        profiles,
        opted_in,
        suppressed=False,
        current=_figures(current),
        before=_figures(before),
        months=_month_rows(current, period.months()),
        chart=_month_rows(
            [t for t in all_ties if chart_range[0] <= t.on <= period.end], chart_range
        ),
        departments=level_reports["department"],
        municipalities=level_reports["municipality"],
        sectors=tuple(SectorRow(s, live.get(s, 0), s in thin) for s in sectors),
        as_of=as_of,
    )
