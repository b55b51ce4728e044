"""Computes the network report from ties and members: the figures of a period and the one
before, per unit (E-I index, isolation, participation), per month, and the thin sectors.

Every count of people or ties from 1 to k-1 is suppressed (None) where it is computed:
matrix cells, participants and coffee opt-ins, E/I inputs, per-kind and per-month counts
(review finding S-07). Where a total is shown next to its parts and exactly one part is
suppressed, the smallest other non-zero part is suppressed with it, so the total minus the
others does not give it away."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Literal

import networkx as nx

from bot.domain.crisis_stats import thin_sectors
from bot.domain.network.periods import Period, chart_months
from bot.domain.network.report import (
    Count,
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


def _small(value: int, floor: int) -> Count:
    """The count, or None when it is at least 1 and below `floor` (k)."""
    return None if 0 < value < floor else value


def _protect(total: Count, parts: list[Count], exact: list[int]) -> list[Count]:
    """Secondary suppression: with the total shown and exactly one part suppressed, that
    part would be the total minus the others; the smallest other non-zero part goes too."""
    if total is None or sum(part is None for part in parts) != 1:
        return parts
    visible = [i for i, part in enumerate(parts) if part]
    if not visible:
        return parts
    hide = min(visible, key=lambda i: (exact[i], i))
    return [None if i == hide else part for i, part in enumerate(parts)]


def _by_kind(ties: Sequence[Tie], floor: int) -> dict[str, Count]:
    counts = Counter(t.kind for t in ties)
    kinds = _kinds(counts)
    exact = [counts.get(kind, 0) for kind in kinds]
    shown = _protect(_small(len(ties), floor), [_small(n, floor) for n in exact], exact)
    return dict(zip(kinds, shown, strict=True))


def _figures(ties: Sequence[Tie], floor: int) -> Figures:
    graph: nx.Graph = nx.Graph()
    graph.add_edges_from((t.person_a, t.person_b) for t in ties if t.person_a != t.person_b)
    return Figures(
        ties=_small(len(ties), floor),
        pairs=_small(graph.number_of_edges(), floor),
        people=_small(graph.number_of_nodes(), floor),
        by_kind=_by_kind(ties, floor),
    )


def _kinds(found: Iterable[str]) -> list[str]:
    return list(KINDS) + sorted(set(found) - set(KINDS))


def _level_figures(ties: Sequence[Tie], level: Level, floor: int) -> LevelFigures:
    """Across, inside, unclassified: together the total number of ties, which is shown."""
    counts = Counter(_classify(t, level) for t in ties)
    exact = [counts["cross"], counts["internal"], counts["unclassified"]]
    shown = _protect(_small(len(ties), floor), [_small(n, floor) for n in exact], exact)
    return LevelFigures(*shown)


def _suppress_matrix(
    cells: list[list[int]], units: Sequence[str], external: Mapping[str, Count], floor: int
) -> tuple[tuple[Count, ...], ...]:
    """Cells below `floor` suppressed; where a unit's outside ties (the sum of its row off
    the diagonal) are shown and one cell of the row is suppressed, the smallest other
    non-zero cell of the row (and its mirror) goes too, until nothing changes."""
    shown: list[list[Count]] = [[_small(c, floor) for c in row] for row in cells]
    changed = True
    while changed:
        changed = False
        for i, unit in enumerate(units):
            off = [j for j in range(len(units)) if j != i]
            if external.get(unit) is None or sum(shown[i][j] is None for j in off) != 1:
                continue
            visible = [j for j in off if shown[i][j]]
            if not visible:
                continue
            j = min(visible, key=lambda j: (cells[i][j], j))
            shown[i][j] = shown[j][i] = None
            changed = True
    return tuple(tuple(row) for row in shown)


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
    floor: int,
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

    def small(value: int) -> Count:
        return _small(value, floor)

    def ei(ext: Counter[str], inside: Counter[str], label: str) -> float | None:
        # From the shown inputs: None as soon as one of them is suppressed.
        return None if label == UNKNOWN else ei_index(small(ext[label]), small(inside[label]))

    shown_external = {label: small(external[label]) for label in order}
    rows = tuple(
        UnitRow(
            unit=label,
            profiles=small(profiles[label]),
            participants=small(participants[label]),
            opted_in=small(opted_in[label]),
            external=shown_external[label] if label != UNKNOWN else 0,
            internal=small(internal[label]) if label != UNKNOWN else 0,
            ei=ei(external, internal, label),
            ei_previous=ei(external_before, internal_before, label),
            isolated=isolated(external, label),
        )
        for label in order
    )
    return LevelReport(
        level=level,
        units=rows,
        matrix_units=tuple(matrix_units),
        matrix=_suppress_matrix(cells, matrix_units, shown_external, floor),
        isolated=tuple(r.unit for r in rows if r.isolated),
        isolated_previous=sum(isolated(external_before, label) for label in matrix_units),
        components=nx.number_connected_components(graph) if matrix_units else 0,
        merged=units.merged,
        current=_level_figures(current, level, floor),
        previous=_level_figures(previous, level, floor),
    )


def _month_rows(
    ties: Sequence[Tie], months: Sequence[date], floor: int, *, total_shown: bool = False
) -> tuple[MonthRow, ...]:
    """One row per month. With `total_shown` (the months of a period whose total is shown)
    a lone suppressed month takes the smallest other month with it."""
    by_month: dict[date, list[Tie]] = defaultdict(list)
    for tie in ties:
        by_month[date(tie.on.year, tie.on.month, 1)].append(tie)
    found = [by_month.get(month, []) for month in months]
    exact = [len(month_ties) for month_ties in found]
    counts = [_small(n, floor) for n in exact]
    if total_shown:
        counts = _protect(_small(sum(exact), floor), counts, exact)
    rows = []
    for month, month_ties, count in zip(months, found, counts, strict=True):
        cross = [sum(_classify(t, level) == "cross" for t in month_ties) for level in LEVELS]
        if count is None:
            # The month's total is hidden: so is every part of it but a zero.
            by_kind = _hidden(month_ties)
            shown_cross: list[Count] = [None if n else 0 for n in cross]
        else:
            by_kind = _by_kind(month_ties, floor)
            shown_cross = [_small(n, floor) for n in cross]
        rows.append(MonthRow(month, count, by_kind, shown_cross[0], shown_cross[1]))
    return tuple(rows)


def _hidden(ties: Sequence[Tie]) -> dict[str, Count]:
    """Every kind of a month whose total is suppressed: None where there were ties."""
    counts = Counter(t.kind for t in ties)
    return {kind: (None if counts.get(kind) else 0) for kind in _kinds(counts)}


def _chart_rows(
    all_ties: Sequence[Tie], period: Period, chart_range: Sequence[date], floor: int
) -> tuple[MonthRow, ...]:
    """The chart's months; those of the period and of the previous one exactly as the
    tables show them (protected against their shown totals)."""
    rows = {
        row.month: row
        for row in _month_rows(
            [t for t in all_ties if chart_range[0] <= t.on <= period.end], chart_range, floor
        )
    }
    for shown in (period.previous(), period):
        inside = [t for t in all_ties if shown.contains(t.on)]
        for row in _month_rows(inside, shown.months(), floor, total_shown=True):
            if row.month in rows:
                rows[row.month] = row
    return tuple(rows[month] for month in chart_range)


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
    smallest_count: int | None = None,
) -> NetworkReport:
    """The report for `period` (whole months), compared with `period.previous()`. `ties`
    may hold more than both periods (those are used for the chart only); `departments` and
    `municipalities` are the configured spellings of unit names. Counts from 1 to
    `smallest_count` - 1 are suppressed; it is k unless given (tests of the arithmetic
    pass 1; nothing shown to people may)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    floor = k if smallest_count is None else smallest_count
    if floor < 1:
        raise ValueError("smallest_count must be at least 1")
    if period.kind not in ("month", "quarter", "year"):
        raise ValueError("the report covers whole months only")
    all_ties = list(ties)
    people = list(members)
    previous = period.previous()
    participants = sum(m.confirmed for m in people)
    profiles = len(people)
    opted_in = _small(sum(m.confirmed and m.opted_in for m in people), floor)
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
        level_reports[level] = _level_report(level, people, current, before, units, floor)
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
        current=_figures(current, floor),
        before=_figures(before, floor),
        months=_month_rows(current, period.months(), floor, total_shown=True),
        chart=_chart_rows(all_ties, period, chart_range, floor),
        departments=level_reports["department"],
        municipalities=level_reports["municipality"],
        sectors=tuple(SectorRow(s, live.get(s, 0), s in thin) for s in sectors),
        as_of=as_of,
    )
