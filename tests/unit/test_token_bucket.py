"""Token buckets (review finding S-11): bursts, refill, one notice per throttling episode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.token_bucket import Limiter, Rate, TokenBucket, wait_seconds

RATE = Rate(burst=5, per_second=0.5)


def test_burst_then_refused_with_the_time_until_one_token_is_back() -> None:
    bucket = TokenBucket.full(RATE, now=100.0)
    assert all(bucket.take(100.0).allowed for _ in range(5))
    verdict = bucket.take(100.0)
    assert not verdict.allowed
    assert verdict.retry_after_s == pytest.approx(2.0)
    assert not bucket.take(101.9).allowed
    assert bucket.take(102.0).allowed  # exactly one token came back


def test_told_once_while_the_flood_goes_on_and_again_after_a_real_pause() -> None:
    limiter = Limiter({"read": RATE, "change": Rate(2, 0.1)})
    told = 0
    # 500 commands in 10 s of both kinds: tokens trickle back, the sender never slows down.
    for i in range(500):
        verdict = limiter.take("@flut:x", "read" if i % 2 else "change", i * 0.02)
        told += verdict.tell
    assert told == 1
    # Full buckets again (20 s for the changes): a new flood is a new episode.
    assert all(limiter.take("@flut:x", "change", 40.0).allowed for _ in range(2))
    assert limiter.take("@flut:x", "change", 40.0).tell
    # The reads are full again, the changes are not: no pause yet, no second notice.
    assert all(limiter.take("@flut:x", "read", 41.0).allowed for _ in range(5))
    refused = limiter.take("@flut:x", "read", 41.0)
    assert not refused.allowed and not refused.tell


def test_limiter_keeps_people_and_kinds_apart_and_forgets_full_buckets() -> None:
    limiter = Limiter({"read": RATE, "change": Rate(1, 0.1)}, max_buckets=2)
    assert limiter.take("@a:x", "change", 0.0).allowed
    assert not limiter.take("@a:x", "change", 0.0).allowed
    assert limiter.take("@b:x", "change", 0.0).allowed  # someone else is not affected
    assert limiter.take("@a:x", "read", 0.0).allowed  # nor are reads by a change flood
    # All three buckets are full again after 100 s: a newcomer makes room by dropping them.
    assert limiter.take("@c:x", "read", 100.0).allowed
    assert len(limiter) == 1
    assert limiter.take("@a:x", "change", 100.0).allowed
    assert limiter.take("@a:x", "change", 100.0).tell  # a new episode after the pause


def test_wait_is_never_zero_seconds() -> None:
    assert wait_seconds(0.0001) == 1
    assert wait_seconds(2.0) == 2
    assert wait_seconds(2.1) == 3


@given(
    burst=st.integers(1, 50),
    per_second=st.floats(0.01, 10),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=300),
)
def test_never_more_than_burst_plus_refill(
    burst: int, per_second: float, gaps: list[float]
) -> None:
    """Over any stretch of time, what is let through never exceeds the burst plus what the
    rate refilled meanwhile; a refusal's retry time is honest; one notice per episode."""
    rate = Rate(burst, per_second)
    limiter = Limiter({"any": rate})
    bucket = TokenBucket.full(rate, 0.0)
    now, allowed, tells = 0.0, 0, 0
    for gap in gaps:
        now += gap
        verdict = bucket.take(now)
        told = limiter.take("@p:x", "any", now)
        assert told.allowed == verdict.allowed
        allowed += verdict.allowed
        tells += told.tell
        if not verdict.allowed:
            later = TokenBucket(rate, bucket.tokens, bucket.updated_at)
            assert later.take(now + verdict.retry_after_s + 1e-6).allowed
        assert 0.0 <= bucket.tokens <= burst
    assert allowed <= burst + now * per_second + 1e-6
    assert tells <= len(gaps) - allowed
    assert (tells == 0) == (allowed == len(gaps))


@given(steps=st.lists(st.floats(-5, 5), min_size=1, max_size=100))
def test_a_clock_stepping_back_mints_no_tokens(steps: list[float]) -> None:
    bucket = TokenBucket.full(Rate(3, 1.0), 0.0)
    now, high, allowed = 0.0, 0.0, 0
    for step in steps:
        now += step
        high = max(high, now)
        allowed += bucket.take(now).allowed
    # Everything let through fits into the burst plus the refill up to the latest time seen.
    assert allowed <= 3 + high * 1.0 + 1e-6
