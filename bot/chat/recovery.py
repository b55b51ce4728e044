"""When the sync loop sends its next request while the homeserver is away or pushing back.

Pure policy, driven by a clock the caller passes in (`time.monotonic()` in the bot, a
simulated one in the tests); the sync loop does the requests and the sleeping.

- **Unreachable** (connection refused or dropped, a timeout, 502/503/504 without
  `Retry-After`: a reverse proxy in front of a stopped homeserver): no sync long-poll, only
  a cheap `GET /_matrix/client/versions` probe, at least `interval_s` after the previous
  request plus up to `jitter_s` (so many bots behind one homeserver do not probe in step),
  and the sync resumes right after the first probe that gets an answer. An outage of any
  length costs at most one request per `interval_s` and is over within about
  `interval_s + jitter_s` of the homeserver's return (before: backoff towards 60 s).
- **Slow down** (429, or 503 with `Retry-After`): exponential backoff with jitter, never
  shorter than what the homeserver asked for.
- **Other errors** (a 500, a batch whose handling failed): the same exponential backoff.
Fatal answers (revoked token, deactivated account) never reach this module: the sync loop
stops on them as before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

# Status codes of a gateway in front of a homeserver that is not there (or restarting).
GATEWAY_DOWN = frozenset({502, 503, 504})


class FailureKind(Enum):
    UNREACHABLE = "unreachable"
    SLOW_DOWN = "slow down"
    ERROR = "error"


def classify(http_status: int | None, errcode: str | None, retry_after: bool) -> FailureKind:
    """What a failed (non-fatal) sync answer means. `retry_after`: the answer named a
    time to wait (a `Retry-After` header or `retry_after_ms`)."""
    if http_status == 429 or errcode == "M_LIMIT_EXCEEDED":
        return FailureKind.SLOW_DOWN
    if http_status in GATEWAY_DOWN:
        return FailureKind.SLOW_DOWN if retry_after else FailureKind.UNREACHABLE
    return FailureKind.ERROR


class Backoff:
    """Exponential backoff with jitter, never below the initial delay."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.max_s, self.initial_s * 2 ** (self.failures - 1))
        low = max(self.initial_s, ceiling / 2)
        return self._rng.uniform(low, max(self.initial_s, ceiling))

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class Outage:
    """One stretch of an unreachable homeserver, on the caller's clock."""

    started_at: float  # the first request that found it away
    back_at: float  # the first answer again (a probe's, or a sync's)
    synced_at: float  # the first successful sync after that

    @property
    def duration_s(self) -> float:
        return self.back_at - self.started_at

    @property
    def recovery_s(self) -> float:
        """From the homeserver's first answer to our first successful sync."""
        return self.synced_at - self.back_at


class Recovery:
    """The delay before the next request, from what the previous ones found.

    Call `sent` when a request (sync or probe) goes out, then exactly one of the outcome
    methods; each returns how long to wait before the next request. While the homeserver
    is unreachable the next request is a probe (`probing`), otherwise a sync.
    """

    def __init__(
        self,
        backoff: Backoff,
        *,
        interval_s: float = 1.0,
        jitter_s: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.backoff = backoff
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self._rng = rng or random.Random()
        self._last_sent: float | None = None
        self._down_since: float | None = None
        self._back_at: float | None = None

    @property
    def probing(self) -> bool:
        """The homeserver is away: the next request is a probe, not a sync."""
        return self._down_since is not None and self._back_at is None

    @property
    def reachable(self) -> bool:
        return not self.probing

    def sent(self, now: float) -> None:
        self._last_sent = now

    def synced(self, now: float) -> Outage | None:
        """A sync succeeded: the next one goes at once. Returns the outage it ended."""
        self.backoff.reset()
        if self._down_since is None:
            return None
        outage = Outage(self._down_since, self._back_at or now, now)
        self._down_since = self._back_at = None
        return outage

    def unreachable(self, now: float) -> float:
        """A sync or probe found nobody there (or only a gateway saying so)."""
        if self._down_since is None:
            self._down_since = now
        self._back_at = None
        return self._after_gap(now) + self._rng.uniform(0.0, self.jitter_s)

    def answered(self, now: float) -> float:
        """A probe got an answer: the homeserver is back, sync (after the minimum gap)."""
        if self._down_since is not None and self._back_at is None:
            self._back_at = now
        return self._after_gap(now)

    def slow_down(self, now: float, retry_after_s: float | None) -> float:
        """429 or 503 with a time to wait: back off, at least as long as asked."""
        return max(self.backoff.next_delay(), retry_after_s or 0.0, self._after_gap(now))

    def failed(self, now: float) -> float:
        """Any other error (or a batch whose handling failed): back off."""
        return max(self.backoff.next_delay(), self._after_gap(now))

    def _after_gap(self, now: float) -> float:
        """How long until `interval_s` has passed since the previous request."""
        if self._last_sent is None:
            return 0.0
        return max(0.0, self._last_sent + self.interval_s - now)
