"""Aggregate figures on crisis requests and drills, for the drill report and network health.

The inputs are anonymous durations per request and head counts per sector, so nothing here can
name, rank or single out a bridge person: the product promises no per-person figures anywhere.
Drills and real requests are always reported apart, because drills are announced and answered
under different conditions and would flatter or blur the real numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

MIN_LIVE_BRIDGES = 2


@dataclass(frozen=True)
class RequestTimes:
    """One request: how long until the first answer (yes or no) and until a yes connected;
    None when that never happened."""

    drill: bool
    first_answer_after: timedelta | None = None
    connected_after: timedelta | None = None


@dataclass(frozen=True)
class DurationSummary:
    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class ResponseStats:
    """`answered_within_target` is a share of all requests, unanswered ones counting as missed;
    None when there were no requests."""

    requests: int
    answered: int
    connected: int
    first_answer: DurationSummary
    connection: DurationSummary
    answered_within_target: float | None


@dataclass(frozen=True)
class CrisisReport:
    target: timedelta
    drills: ResponseStats
    real: ResponseStats
    thin_sectors: tuple[str, ...]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), so the median of an even
    count is the mean of the middle two."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise_durations(durations: Iterable[timedelta]) -> DurationSummary:
    # A clock step between two timestamps can make a duration negative; it still happened "at
    # once" and should count, not distort the median.
    seconds = [max(d.total_seconds(), 0.0) for d in durations]
    if not seconds:
        return DurationSummary(0, None, None)
    return DurationSummary(
        len(seconds),
        timedelta(seconds=percentile(seconds, 50)),
        timedelta(seconds=percentile(seconds, 90)),
    )


def response_stats(records: Iterable[RequestTimes], target: timedelta) -> ResponseStats:
    records = list(records)
    first = [r.first_answer_after for r in records if r.first_answer_after is not None]
    connected = [r.connected_after for r in records if r.connected_after is not None]
    within = sum(d <= target for d in first)
    return ResponseStats(
        requests=len(records),
        answered=len(first),
        connected=len(connected),
        first_answer=summarise_durations(first),
        connection=summarise_durations(connected),
        answered_within_target=within / len(records) if records else None,
    )


def thin_sectors(
    sectors: Sequence[str],
    live_bridges: Mapping[str, int],
    minimum: int = MIN_LIVE_BRIDGES,
) -> tuple[str, ...]:
    """Configured sectors, in configured order, with fewer than `minimum` people holding a live
    contact there. One bridge is not enough: that person may be on leave when the crisis comes."""
    return tuple(s for s in sectors if live_bridges.get(s, 0) < minimum)


def crisis_report(
    records: Iterable[RequestTimes],
    target: timedelta,
    sectors: Sequence[str],
    live_bridges: Mapping[str, int],
) -> CrisisReport:
    records = list(records)
    return CrisisReport(
        target=target,
        drills=response_stats((r for r in records if r.drill), target),
        real=response_stats((r for r in records if not r.drill), target),
        thin_sectors=thin_sectors(sectors, live_bridges),
    )
