"""Computes the network report from ties and members: the figures of a period and the one
before, per unit (E-I index, isolation, participation), per month, and the thin sectors."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Literal

import networkx as nx

from bot.domain.crisis_stats import thin_sectors
from bot.domain.network.periods import Period, chart_months
from bot.domain.network.report import (
    Figures,
    LevelFigures,
    LevelReport,
    MonthRow,
    NetworkReport,
    SectorRow,
    UnitRow,
    ei_index,
)
from bot.domain.network.ties import KINDS, LEVELS, OTHER, UNKNOWN, Level, Member, Tie
from bot.domain.network.units import DEFAULT_K, UnitMap, unit_key, unit_map


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
