"""The sync loop's pacing while the homeserver is away or pushing back (bot.chat.recovery),
on a simulated clock: never more than one request a second while anything fails, back to
syncing on the first answer, backoff for "slow down"."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.recovery import Backoff, FailureKind, Recovery, classify

INTERVAL_S = 1.0
JITTER_S = 0.5


def recovery(seed: int = 0, backoff_max_s: float = 60.0) -> Recovery:
    rng = random.Random(seed)
    return Recovery(
        Backoff(1.0, backoff_max_s, rng), interval_s=INTERVAL_S, jitter_s=JITTER_S, rng=rng
    )


@pytest.mark.parametrize(
    ("status", "errcode", "retry_after", "verdict"),
    [
        (None, None, False, FailureKind.ERROR),  # an error without a status: no gateway
        (502, None, False, FailureKind.UNREACHABLE),
        (503, None, False, FailureKind.UNREACHABLE),
        (504, None, False, FailureKind.UNREACHABLE),
        (503, None, True, FailureKind.SLOW_DOWN),
        (429, "M_LIMIT_EXCEEDED", True, FailureKind.SLOW_DOWN),
        (429, None, False, FailureKind.SLOW_DOWN),
        (400, "M_LIMIT_EXCEEDED", True, FailureKind.SLOW_DOWN),
        (500, "M_UNKNOWN", False, FailureKind.ERROR),
        (404, "M_UNRECOGNIZED", False, FailureKind.ERROR),
    ],
)
def test_classify(
    status: int | None, errcode: str | None, retry_after: bool, verdict: FailureKind
) -> None:
    assert classify(status, errcode, retry_after) is verdict


@dataclass
class Request:
    at: float
    kind: str  # "sync" or "probe"
    outcome: str  # "ok", "unreachable", "slow", "error"


# What a request can meet: the homeserver away, "slow down" (with or without a time to
# wait), another error, or an answer (a long-poll then lasts 0–30 s).
Outcome = st.one_of(
    st.just(("unreachable", 0.0)),
    st.tuples(st.just("slow"), st.sampled_from([0.0, 0.5, 2.0, 10.0])),
    st.just(("error", 0.0)),
    st.tuples(st.just("ok"), st.floats(0.0, 30.0)),
)


def simulate(outcomes: list[tuple[str, float]], latency_s: float, seed: int) -> list[Request]:
    """The sync loop's decisions, as bot.chat.sync takes them, against scripted answers."""
    policy = recovery(seed)
    now, requests = 0.0, []
    for outcome, value in outcomes:
        kind = "probe" if policy.probing else "sync"
        policy.sent(now)
        requests.append(Request(now, kind, outcome))
        now += latency_s
        if kind == "probe":
            # A probe only tells "away" or "answers" (any HTTP answer but a gateway's 5xx).
            delay = policy.unreachable(now) if outcome == "unreachable" else policy.answered(now)
        elif outcome == "ok":
            now += value  # the long-poll
            policy.synced(now)
            delay = 0.0
        elif outcome == "unreachable":
            delay = policy.unreachable(now)
        elif outcome == "slow":
            delay = policy.slow_down(now, value or None)
            assert delay >= value
        else:
            delay = policy.failed(now)
        now += delay
    return requests


@settings(max_examples=300, deadline=None)
@given(
    outcomes=st.lists(Outcome, min_size=1, max_size=80),
    latency_s=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**32),
)
def test_never_more_than_one_request_a_second_while_anything_fails(
    outcomes: list[tuple[str, float]], latency_s: float, seed: int
) -> None:
    requests = simulate(outcomes, latency_s, seed)
    for before, after in itertools.pairwise(requests):
        if before.kind == "sync" and before.outcome == "ok":
            continue  # a healthy long-poll: the next sync goes at once
        assert after.at - before.at >= INTERVAL_S - 1e-9, (before, after)
    # Equivalently: any window of one second holds at most one request that follows a failure.
    failing = [r for r in requests if not (r.kind == "sync" and r.outcome == "ok")]
    for index, request in enumerate(failing[:-1]):
        assert sum(request.at <= r.at < request.at + INTERVAL_S for r in failing[index:]) <= 1


@settings(max_examples=300, deadline=None)
@given(
    down_for=st.integers(1, 200),
    latency_s=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32),
)
def test_an_outage_is_only_probed_and_syncing_resumes_on_the_first_answer(
    down_for: int, latency_s: float, seed: int
) -> None:
    """The homeserver fails `down_for` requests in a row, then answers everything."""
    outcomes = [("unreachable", 0.0)] * down_for + [("ok", 0.0)] * 3
    requests = simulate(outcomes, latency_s, seed)
    # Only the request that found the homeserver away is a sync; then probes alone.
    assert requests[0].kind == "sync"
    assert all(r.kind == "probe" for r in requests[1:down_for])
    answered = requests[down_for]
    assert answered.kind == "probe" and answered.outcome == "ok"
    # The first answered probe is the last probe: the next request is the sync, as soon as
    # the one-second spacing allows.
    resumed = requests[down_for + 1]
    assert resumed.kind == "sync"
    assert resumed.at - answered.at == pytest.approx(INTERVAL_S, abs=1e-9)
    # Each probe comes at most interval + jitter after the previous one (plus its latency):
    # a return is noticed within that.
    probes = [r.at for r in requests[: down_for + 1]]
    for before, after in itertools.pairwise(probes):
        assert after - before <= INTERVAL_S + JITTER_S + latency_s + 1e-9


def test_the_outage_is_measured_from_first_failure_to_answer_to_sync() -> None:
    policy = recovery()
    policy.sent(10.0)
    assert policy.reachable
    policy.unreachable(10.0)
    assert policy.probing
    for t in (11.0, 12.2, 13.4):
        policy.sent(t)
        policy.unreachable(t)
    policy.sent(14.6)
    wait = policy.answered(14.6)
    assert wait == pytest.approx(1.0)
    assert policy.reachable and not policy.probing
    policy.sent(15.6)
    outage = policy.synced(15.9)
    assert outage is not None
    assert outage.duration_s == pytest.approx(4.6)
    assert outage.recovery_s == pytest.approx(1.3)
    assert policy.synced(20.0) is None  # one outage is reported once


def test_a_sync_that_fails_after_the_answer_continues_the_same_outage() -> None:
    policy = recovery()
    policy.sent(0.0)
    policy.unreachable(0.0)
    policy.sent(1.2)
    policy.answered(1.2)
    policy.sent(2.2)
    policy.unreachable(2.2)  # Synapse answered /versions but the sync hit a 502 again
    assert policy.probing
    policy.sent(3.5)
    policy.answered(3.5)
    outage = policy.synced(4.6)
    assert outage is not None
    assert (outage.started_at, outage.back_at) == (0.0, 3.5)


def test_slow_down_backs_off_exponentially_and_resets_after_a_sync() -> None:
    policy = recovery(backoff_max_s=60.0)
    delays = []
    for t in range(8):
        policy.sent(t * 100.0)
        delays.append(policy.slow_down(t * 100.0, None))
    assert delays[-1] >= 30.0 and delays[0] <= 1.0 + 1e-9
    assert all(later >= earlier / 2 for earlier, later in itertools.pairwise(delays))
    assert policy.reachable  # being told to slow down is no outage
    assert policy.synced(1000.0) is None
    policy.sent(1000.0)
    assert policy.slow_down(1000.0, None) <= 1.0 + 1e-9
    assert policy.slow_down(1000.0, 45.0) >= 45.0  # never shorter than asked
