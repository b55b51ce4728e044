"""Token buckets: how many actions in a burst, and how fast the allowance comes back.

Used per person for commands (review finding S-11: a script flooding the bot) and per
hospitation offer for the host's notices. A bucket holds up to `burst` tokens and regains
`per_second` of them continuously; each action takes one.

A person who is refused is told once per *throttling episode*: the episode ends only when
all their buckets are full again, i.e. when they actually slowed down, so a script that
keeps sending hears it once, not once per token that trickles back nor once per kind of
command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Rate:
    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError("a rate needs burst >= 1 and per_second > 0")


@dataclass(frozen=True)
class BucketAnswer:
    """`allowed`: go ahead. Otherwise `retry_after_s` until one token is back, and (from
    `Limiter`) `tell` whether this refusal opens a throttling episode: say so."""

    allowed: bool
    retry_after_s: float = 0.0
    tell: bool = False


ALLOWED = BucketAnswer(True)


@dataclass
class TokenBucket:
    rate: Rate
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, rate: Rate, now: float) -> TokenBucket:
        return cls(rate, float(rate.burst), now)

    def refill(self, now: float) -> None:
        # A clock that steps backwards must not mint tokens nor take any away.
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(float(self.rate.burst), self.tokens + elapsed * self.rate.per_second)
        self.updated_at = max(self.updated_at, now)

    def take(self, now: float) -> BucketAnswer:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return ALLOWED
        return BucketAnswer(False, (1.0 - self.tokens) / self.rate.per_second)

    def is_full(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated_at)
        return self.tokens + elapsed * self.rate.per_second >= self.rate.burst


class Limiter:
    """Buckets per (person, kind of action), in memory. Full buckets are dropped when there
    are more than `max_buckets`, so memory stays bounded by the people who are active right
    now; a restart forgets everything, which only ever errs on the generous side."""

    def __init__(self, rates: dict[str, Rate], max_buckets: int = 10_000) -> None:
        self.rates = rates
        self.max_buckets = max_buckets
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._told: set[str] = set()

    def take(self, person: str, kind: str, now: float) -> BucketAnswer:
        if person in self._told and self._rested(person, now):
            self._told.discard(person)
        key = (person, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket.full(self.rates[kind], now)
        verdict = bucket.take(now)
        if verdict.allowed:
            return verdict
        tell = person not in self._told
        self._told.add(person)
        return replace(verdict, tell=tell)

    def _rested(self, person: str, now: float) -> bool:
        buckets = (self._buckets.get((person, kind)) for kind in self.rates)
        return all(b.is_full(now) for b in buckets if b is not None)

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]
        self._told = {p for p in self._told if not self._rested(p, now)}

    def __len__(self) -> int:
        return len(self._buckets)


def wait_seconds(retry_after_s: float) -> int:
    """Whole seconds to tell a person (never 0: "try again in 0 seconds" reads wrong)."""
    return max(1, math.ceil(retry_after_s))
