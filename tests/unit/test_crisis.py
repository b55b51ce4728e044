from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.availability import ALWAYS, NEVER, Availability, parse_availability
from bot.domain.crisis import (
    BROADCAST_TIER,
    MEANING_FULL,
    WEAK_FIT,
    WORDS_BESIDE_MEANING,
    WORDS_FULL,
    AnswerOutcome,
    Bridge,
    CloseOutcome,
    RequestState,
    Standing,
    Timing,
    close,
    fit_band,
    hybrid_fit,
    meaning_fit,
    next_step,
    rank_bridges,
    record_answer,
    standing,
    starts_tier,
    unanswered,
    weak_fit,
)
from bot.domain.crisis_stats import (
    RequestTimes,
    crisis_report,
    percentile,
    summarise_durations,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)  # a Wednesday morning
OFFICE = parse_availability("Mo-Fr 7-18")
NIGHT = parse_availability("täglich 22-6")
TIMING = Timing(tier1_size=2, tier2_size=2)
PEOPLE = tuple(f"p{i}" for i in range(8))
MIN = timedelta(minutes=1)


def bridge(
    id: str,
    fit: float = 0.5,
    availability: Availability = ALWAYS,
    asks: int = 0,
    last: datetime | None = None,
    sector: str = "Logistik",
) -> Bridge:
    return Bridge(id, sector, fit, availability, asks, last)


def ids(bridges: list[Bridge]) -> list[str]:
    return [b.id for b in bridges]


def test_ranking_order_is_fit_then_load_then_least_recently_asked() -> None:
    bridges = [
        bridge("recent", asks=1, last=NOW - MIN),
        bridge("long_ago", asks=1, last=NOW - 100 * MIN),
        bridge("busy", asks=3),
        bridge("never_asked", asks=1),
        bridge("best", fit=0.9, asks=5),
        bridge("same_band_as_rest", fit=0.51, asks=4),
        bridge("unfit", fit=0.0),
    ]
    # Nobody is left out for fitting badly: the unfit one comes last, not never.
    assert ids(rank_bridges(bridges, NOW, cap_per_week=None)) == [
        "best",
        "never_asked",
        "long_ago",
        "recent",
        "busy",
        "same_band_as_rest",
        "unfit",
    ]


def test_within_a_band_the_better_fit_goes_first_while_nobody_was_asked_yet() -> None:
    # A crisis starts: no bridge has been asked this week. The bands rotate only by load, so
    # without a load to tell them apart the closer contact is asked first, whatever the ids.
    bridges = [
        bridge("a_close", fit=0.52),
        bridge("b_closest", fit=0.59),
        bridge("c_closer", fit=0.55),
    ]
    assert ids(rank_bridges(bridges, NOW, cap_per_week=None)) == [
        "b_closest",
        "c_closer",
        "a_close",
    ]
    # Load still rotates within the band: the closest one, asked yesterday, waits its turn.
    asked = [
        bridges[0],
        bridge("b_closest", fit=0.59, asks=1, last=NOW - 24 * 60 * MIN),
        bridges[2],
    ]
    assert ids(rank_bridges(asked, NOW, cap_per_week=None)) == ["c_closer", "a_close", "b_closest"]


def test_out_of_window_and_capped_people_are_skipped_while_others_fit() -> None:
    bridges = [
        bridge("night", fit=0.9, availability=NIGHT),
        bridge("capped", fit=0.9, asks=3),
        bridge("available", fit=0.1),
    ]
    assert ids(rank_bridges(bridges, NOW, cap_per_week=3)) == ["available"]
    # Standing rules exactly as before the fit gate went: not even an available bridge that
    # does not fit at all lets the others be paged outside their window or over their cap.
    unfit = [*bridges[:2], bridge("available_unfit", fit=0.0)]
    assert ids(rank_bridges(unfit, NOW, cap_per_week=3)) == ["available_unfit"]
    assert ids(rank_bridges(bridges[:2], NOW, cap_per_week=3)) == ["capped"]
    assert ids(rank_bridges(bridges[:1], NOW, cap_per_week=3)) == ["night"]
    assert ids(rank_bridges(bridges[:2], NOW, cap_per_week=None)) == ["capped"]
    assert standing(bridges[0], NOW, 3) == Standing.OUT_OF_WINDOW
    assert (
        standing(bridge("x", availability=NEVER, asks=9), NOW, 3) == Standing.OUT_OF_WINDOW_AT_CAP
    )


def test_ranking_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        rank_bridges([bridge("a")], NOW.replace(tzinfo=None), None)


bridges_st = st.builds(
    bridge,
    id=st.sampled_from(PEOPLE),
    fit=st.sampled_from([0.0, 0.2, 0.5, 0.55, 0.9]),
    availability=st.sampled_from([ALWAYS, NEVER, OFFICE, NIGHT]),
    asks=st.integers(0, 4),
    last=st.none() | st.integers(1, 10_000).map(lambda m: NOW - m * MIN),
)
times_st = st.integers(0, 14 * 24 * 60).map(lambda m: NOW + m * MIN)


@given(
    st.lists(bridges_st, max_size=8, unique_by=lambda b: b.id),
    times_st,
    st.none() | st.integers(0, 4),
)
def test_unavailable_people_never_come_before_available_ones(
    bridges: list[Bridge], now: datetime, cap: int | None
) -> None:
    ranked = rank_bridges(bridges, now, cap)
    # Never a dead end: somebody is ranked whenever there is a bridge at all.
    assert bool(ranked) == bool(bridges)
    if bridges:
        best = min(standing(b, now, cap) for b in bridges)
        assert {b.id for b in ranked} == {b.id for b in bridges if standing(b, now, cap) == best}
    bands = [fit_band(b.fit) for b in ranked]
    assert bands == sorted(bands, reverse=True)


@given(
    st.lists(st.floats(0.5, 0.5999), min_size=2, max_size=len(PEOPLE)),
    st.permutations(PEOPLE),
    st.integers(0, 4),
)
def test_at_equal_load_the_exact_fit_orders_a_band(
    fits: list[float], people: list[str], asks: int
) -> None:
    """One band, the same load for everybody: the closest contact first, whatever the ids."""
    bridges = [bridge(p, fit=f, asks=asks) for p, f in zip(people, fits, strict=False)]
    ranked = rank_bridges(bridges, NOW, cap_per_week=None)
    assert [b.fit for b in ranked] == sorted(fits, reverse=True)


fits_st = st.one_of(
    st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.5]), st.floats(0.0, 1.0, allow_nan=False)
)
scored_bridges_st = st.builds(
    bridge,
    id=st.sampled_from(PEOPLE),
    fit=fits_st,
    availability=st.sampled_from([ALWAYS, NEVER, OFFICE, NIGHT]),
    asks=st.integers(0, 4),
    last=st.none() | st.integers(1, 10_000).map(lambda m: NOW - m * MIN),
)


def run_to_broadcast(
    bridges: list[Bridge], now: datetime, cap: int | None, timing: Timing
) -> RequestState:
    """A request nobody answers, through every tier, ranked afresh at each step."""
    state = RequestState(now, timing)
    for _ in range(BROADCAST_TIER + 1):
        ranked = ids(rank_bridges(bridges, now, cap))
        state = next_step(state, ranked, now).state
        now += timing.tier2_timeout  # past every tier's timeout
    return state


@given(
    st.lists(scored_bridges_st, max_size=8, unique_by=lambda b: b.id),
    times_st,
    st.none() | st.integers(0, 4),
    st.integers(1, 3),
    st.integers(1, 3),
)
def test_a_fitting_bridge_is_never_skipped_for_one_that_fits_less(
    bridges: list[Bridge], now: datetime, cap: int | None, tier1: int, tier2: int
) -> None:
    timing = Timing(tier1_size=tier1, tier2_size=tier2)
    ranked = rank_bridges(bridges, now, cap)
    position = {b.id: i for i, b in enumerate(ranked)}
    for a in ranked:
        for b in ranked:
            if fit_band(a.fit) > fit_band(b.fit):
                assert position[a.id] < position[b.id]
    # The same for the tiers: whoever is asked in a tier, everybody of the same standing who
    # fits better (a fitting one rather than a non-fitting one above all) was asked no later.
    state = next_step(RequestState(now, timing), ids(ranked), now).state
    state = next_step(state, ids(ranked), now + timing.tier1_timeout).state
    tier_of = {a.person: a.tier for a in state.asked}
    by_id = {b.id: b for b in bridges}
    for asked, tier in tier_of.items():
        for other in ranked:
            if fit_band(other.fit) > fit_band(by_id[asked].fit):
                assert tier_of.get(other.id, BROADCAST_TIER + 1) <= tier, (asked, other.id)
            if other.fit > 0 and by_id[asked].fit == 0:
                assert other.id in tier_of


@given(
    st.lists(scored_bridges_st, min_size=1, max_size=8, unique_by=lambda b: b.id),
    times_st,
    st.none() | st.integers(0, 4),
    st.integers(1, 3),
    st.integers(1, 3),
)
def test_the_broadcast_reaches_every_available_bridge(
    bridges: list[Bridge], now: datetime, cap: int | None, tier1: int, tier2: int
) -> None:
    # The timeouts are short against the windows, so the standing stays that of `now`.
    timing = Timing(tier1, timedelta(seconds=1), tier2, timedelta(seconds=1))
    state = run_to_broadcast(bridges, now, cap, timing)
    asked = state.asked_ids
    best = min(standing(b, now, cap) for b in bridges)
    reachable = {b.id for b in bridges if standing(b, now, cap) == best}
    # However badly they fit: every bridge of the best standing present is asked, and nobody
    # of a worse one (windows and the weekly cap hold as before).
    assert asked == reachable
    available = {b.id for b in bridges if standing(b, now, cap) == Standing.AVAILABLE}
    assert available <= asked
    assert state.tier == BROADCAST_TIER


def test_a_dead_end_only_without_any_bridge() -> None:
    state = run_to_broadcast([], NOW, None, TIMING)
    assert state.asked == () and state.tier == BROADCAST_TIER
    nobody_fits = [bridge(p, fit=0.0) for p in PEOPLE[:4]]
    assert run_to_broadcast(nobody_fits, NOW, None, TIMING).asked_ids == set(PEOPLE[:4])


def test_meaning_and_words_combine_into_one_fit() -> None:
    # A lift of 0: the contact fits this request no better than any crisis request.
    assert meaning_fit(-0.02) == 0.0
    assert meaning_fit(0.0) == 0.0
    assert meaning_fit(MEANING_FULL + 0.05) == 1.0
    middle = MEANING_FULL / 2
    assert meaning_fit(middle) == pytest.approx(0.5)
    # Without a vector only the words count; with one, either signal alone can make a fit.
    some_words = WORDS_FULL / 2
    assert hybrid_fit(None, some_words) == pytest.approx(0.5)
    assert hybrid_fit(None, WORDS_FULL * 2) == 1.0
    assert hybrid_fit(None, 0.0) == 0.0
    assert hybrid_fit(middle, 0.0) == pytest.approx(0.5)
    # Beside the meaning, words count less (they matched unrelated requests too often).
    assert hybrid_fit(0.0, WORDS_FULL) == pytest.approx(WORDS_BESIDE_MEANING)
    assert hybrid_fit(middle, WORDS_FULL) == pytest.approx(1 - 0.5 * (1 - WORDS_BESIDE_MEANING))
    assert hybrid_fit(float("nan"), some_words) == pytest.approx(0.5)


@given(
    st.none() | st.floats(-1.0, 1.0, allow_nan=False),
    st.floats(0.0, 1.0, allow_nan=False),
    st.floats(0.0, 0.2, allow_nan=False),
    st.floats(0.0, 0.2, allow_nan=False),
)
def test_fit_is_bounded_and_grows_with_each_signal(
    lift: float | None, words: float, more_meaning: float, more_words: float
) -> None:
    fit = hybrid_fit(lift, words)
    assert 0.0 <= fit <= 1.0
    assert hybrid_fit(lift, min(1.0, words + more_words)) >= fit - 1e-12
    if lift is not None:
        assert hybrid_fit(lift + more_meaning, words) >= fit - 1e-12


def test_weak_fits_are_low_or_not_distinctive() -> None:
    assert weak_fit({})
    assert weak_fit({"Logistik": WEAK_FIT - 0.01})
    assert not weak_fit({"Logistik": 0.8, "Soziale Träger": 0.2})  # too few to judge a margin
    clear = {"Logistik": 0.8, "Soziale Träger": 0.2, "Wirtschaft": 0.3, "Wissenschaft": 0.1}
    assert not weak_fit(clear)
    # "Wer kann helfen?" fits every sector a bit: the best is high, but hardly above the rest.
    vague = {"Logistik": 0.65, "Soziale Träger": 0.6, "Wirtschaft": 0.55, "Wissenschaft": 0.5}
    assert weak_fit(vague)


def test_the_ranking_is_needed_only_when_a_tier_starts() -> None:
    state = RequestState(NOW, TIMING)
    assert starts_tier(state, NOW)
    state = next_step(state, PEOPLE, NOW).state
    assert not starts_tier(state, NOW + MIN)
    assert starts_tier(state, NOW + TIMING.tier1_timeout)
    assert not starts_tier(state, state.expires_at)
    assert not starts_tier(close(state, NOW).state, NOW + TIMING.tier1_timeout)


@given(st.integers(2, 8), st.integers(1, 3), st.integers(1, 40))
def test_rotation_spreads_asks_evenly_within_a_sector(people: int, k: int, requests: int) -> None:
    asks = dict.fromkeys(PEOPLE[:people], 0)
    last: dict[str, datetime | None] = dict.fromkeys(PEOPLE[:people])
    timing = Timing(tier1_size=k)
    for i in range(requests):
        now = NOW + i * MIN
        bridges = [bridge(p, asks=asks[p], last=last[p]) for p in asks]
        ranked = ids(rank_bridges(bridges, now, cap_per_week=None))
        for asked in next_step(RequestState(now, timing), ranked, now).ask:
            asks[asked.person] += 1
            last[asked.person] = now
        assert max(asks.values()) - min(asks.values()) <= 1


def test_escalation_through_the_tiers() -> None:
    state = RequestState(NOW, TIMING)
    ranked = list(PEOPLE[:6])
    step = next_step(state, ranked, NOW)
    assert [(a.person, a.tier) for a in step.ask] == [("p0", 1), ("p1", 1)]
    assert step.next_check_at == NOW + TIMING.tier1_timeout
    assert not step.broadcast_note
    assert next_step(step.state, ranked, NOW).ask == ()  # a restart asks nobody again
    assert next_step(step.state, ranked, NOW + 9 * MIN).ask == ()

    t2 = NOW + TIMING.tier1_timeout
    step = next_step(step.state, ranked, t2)
    assert [(a.person, a.tier) for a in step.ask] == [("p2", 2), ("p3", 2)]
    assert step.next_check_at == t2 + TIMING.tier2_timeout

    t3 = t2 + TIMING.tier2_timeout
    step = next_step(step.state, ranked, t3)
    assert [(a.person, a.tier) for a in step.ask] == [("p4", BROADCAST_TIER), ("p5", 3)]
    assert step.broadcast_note
    assert step.next_check_at == step.state.expires_at
    assert next_step(step.state, [*ranked, "late"], t3 + MIN) == next_step(step.state, [], t3)


def test_urgent_requests_escalate_faster_but_expire_as_usual() -> None:
    state = RequestState(NOW, TIMING, urgent=True)
    step = next_step(state, PEOPLE, NOW)
    assert step.next_check_at == NOW + TIMING.tier1_timeout * TIMING.urgent_factor
    assert step.state.expires_at == NOW + TIMING.expire_after


def test_a_tier_where_everybody_declined_ends_early() -> None:
    state = next_step(RequestState(NOW, TIMING), PEOPLE, NOW).state
    for person in ("p0", "p1"):
        state = record_answer(state, person, False, None, NOW + MIN).state
    assert [a.person for a in next_step(state, PEOPLE, NOW + MIN).ask] == ["p2", "p3"]


def test_without_fitting_bridges_the_crisis_room_hears_at_once() -> None:
    step = next_step(RequestState(NOW, TIMING), [], NOW)
    assert step.ask == () and step.broadcast_note and step.state.tier == BROADCAST_TIER


def test_expiry_is_reported_once() -> None:
    state = next_step(RequestState(NOW, TIMING), PEOPLE, NOW).state
    step = next_step(state, PEOPLE, state.expires_at)
    assert step.expired and step.ask == () and step.next_check_at is None
    assert unanswered(step.state) == ("p0", "p1")
    assert next_step(step.state, PEOPLE, state.expires_at + MIN) == replace(step, expired=False)


def test_answers() -> None:
    state = next_step(RequestState(NOW, TIMING), PEOPLE, NOW).state
    result = record_answer(state, "p7", True, None, NOW)
    assert result.outcome == AnswerOutcome.NOT_ASKED and result.state == state

    result = record_answer(state, "p0", False, "  Fragt beim Jobcenter  ", NOW + MIN)
    assert result.outcome == AnswerOutcome.DECLINED
    assert result.forward_hint == "Fragt beim Jobcenter"
    assert record_answer(state, "p0", False, " ", NOW).forward_hint is None

    result = record_answer(result.state, "p0", True, None, NOW + 2 * MIN)
    assert result.outcome == AnswerOutcome.CONNECTED
    assert result.state.connected_to == "p0" and result.notify_settled == ("p1",)

    later = record_answer(result.state, "p1", True, None, NOW + 3 * MIN)
    assert later.outcome == AnswerOutcome.ALREADY_SETTLED and later.state == result.state
    assert next_step(result.state, PEOPLE, NOW + TIMING.tier1_timeout).ask == ()

    closed = close(result.state, NOW + 4 * MIN)
    assert closed.outcome == CloseOutcome.CLOSED and closed.notify == ()
    assert close(closed.state, NOW).outcome == CloseOutcome.ALREADY_CLOSED
    assert record_answer(closed.state, "p1", True, None, NOW).outcome == (
        AnswerOutcome.REQUEST_CLOSED
    )
    assert record_answer(state, "p1", True, None, state.expires_at).outcome == (
        AnswerOutcome.REQUEST_EXPIRED
    )


def test_closing_an_open_request_tells_those_still_asked() -> None:
    state = next_step(RequestState(NOW, TIMING), PEOPLE, NOW).state
    state = record_answer(state, "p0", False, None, NOW).state
    assert close(state, NOW).notify == ("p1",)


events = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(-60, 3000)),
        st.tuples(st.just("restart"), st.just(0)),
        st.tuples(st.just("yes"), st.integers(0, 7)),
        st.tuples(st.just("no"), st.integers(0, 7)),
        st.tuples(st.just("close"), st.just(0)),
    ),
    max_size=25,
)


@given(
    events,
    st.lists(st.permutations(PEOPLE).map(lambda p: p[:5]), min_size=1, max_size=4),
    st.booleans(),
)
def test_routing_invariants(
    script: list[tuple[str, int]], rankings: list[tuple[str, ...]], urgent: bool
) -> None:
    state = RequestState(NOW, TIMING, urgent=urgent)
    now = NOW
    for i, (action, arg) in enumerate(script):
        ranked = rankings[i % len(rankings)]
        if action == "wait":
            now += arg * MIN
        elif action == "close":
            state = close(state, now).state
        elif action in ("yes", "no"):
            before = state
            result = record_answer(state, PEOPLE[arg], action == "yes", None, now)
            state = result.state
            if result.outcome == AnswerOutcome.CONNECTED:
                assert before.connected_to is None and state.connected_to == PEOPLE[arg]
            if before.connected_to is not None:
                assert state.connected_to == before.connected_to
        step = next_step(state, ranked, now)
        assert step == next_step(state, ranked, now)  # deterministic, so a retry repeats itself
        assert not {a.person for a in step.ask} & state.asked_ids
        if not state.is_open or now >= state.expires_at:
            assert step.ask == ()
        state = step.state
        assert next_step(state, ranked, now).ask == ()  # a restart asks nobody twice
        people = [a.person for a in state.asked]
        assert len(people) == len(set(people))
        tiers = [a.tier for a in state.asked]
        assert tiers == sorted(tiers) and set(tiers) <= {1, 2, 3}


@given(st.lists(st.integers(0, 5000), max_size=30), st.permutations(PEOPLE))
def test_with_a_fixed_ranking_the_asked_are_its_prefix_in_tier_order(
    waits: list[int], ranked: list[str]
) -> None:
    state, now = RequestState(NOW, TIMING), NOW
    for wait in waits:
        now += wait * MIN
        state = next_step(state, ranked, now).state
    people = [a.person for a in state.asked]
    assert people == list(ranked[: len(people)])
    sizes = {1: TIMING.tier1_size, 2: TIMING.tier2_size}
    for tier, size in sizes.items():
        assert sum(a.tier == tier for a in state.asked) <= size


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 90) == 10
    assert percentile(list(range(11)), 90) == pytest.approx(9.0)
    with pytest.raises(ValueError):
        percentile([], 50)


@given(st.lists(st.integers(-100, 10_000), min_size=1, max_size=50))
def test_duration_summary_is_bounded_by_the_data(seconds: list[int]) -> None:
    summary = summarise_durations(timedelta(seconds=s) for s in seconds)
    assert summary.median is not None and summary.p90 is not None
    low, high = max(min(seconds), 0), max(max(seconds), 0)
    assert timedelta(seconds=low) <= summary.median <= summary.p90 <= timedelta(seconds=high)


def test_report_keeps_drills_and_real_requests_apart() -> None:
    records = [
        RequestTimes(True, 2 * MIN, 5 * MIN),
        RequestTimes(True, 8 * MIN, None),
        RequestTimes(True, None, None),
        RequestTimes(False, 1 * MIN, 1 * MIN),
    ]
    report = crisis_report(
        records,
        5 * MIN,
        ["Logistik", "Wissenschaft", "Wirtschaft"],
        {"Logistik": 2, "Wirtschaft": 1},
    )
    drills = report.drills
    assert (drills.requests, drills.answered, drills.connected) == (3, 2, 1)
    assert drills.first_answer.median == 5 * MIN
    assert drills.answered_within_target == pytest.approx(1 / 3)
    assert report.real.requests == 1 and report.real.answered_within_target == 1.0
    assert report.thin_sectors == ("Wissenschaft", "Wirtschaft")
    empty = crisis_report([], MIN, [], {}).real
    assert empty.answered_within_target is None and empty.first_answer.median is None
