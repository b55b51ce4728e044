"""When an outbox item is tried again, and when it is given up (review finding S-05).

Every item ends: whatever it waits for (its room, an earlier item, a rate limit, the
homeserver), it is given up once it is `outbox.give_up_after_s` old, and every retry is
due by then at the latest, so that the sender looks at it in time. Errors that are the
item's own count against `outbox.max_attempts`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.chat.errors import OFFLINE, SendFailure
from bot.config import OutboxConfig
from bot.store.outbox import ORIGINAL_BASED, OutboxItem

PERMANENT_ERRCODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_TOO_LARGE"})
# Of those, the ones that say "this DM room is gone for the bot" (the person left, the
# room was purged): a new DM is opened and the item tried there. Too large or malformed
# content would fail in any room.
ROOM_GONE_ERRCODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})
# The bot is not in the room an item is for (left, kicked, never joined): it may be
# invited back, so this counts against the attempts instead of failing at once.
NOT_JOINED = "M_NOT_JOINED"
OFFLINE_RETRY_MAX_S = 15.0
# A wait for a room or an earlier item (a DM created a moment ago shows up with the next
# sync) is polled every WAIT_POLL_S while the item is younger than WAIT_FAST_S, then less
# often, up to every WAIT_POLL_MAX_S.
WAIT_POLL_S = 0.2
WAIT_FAST_S = 120.0
WAIT_POLL_MAX_S = 5.0


@dataclass(frozen=True)
class RetryDecision:
    """`give_up` is the reason to mark the item failed; otherwise it is tried again in
    `delay_s`, counting an attempt if `count`, in a new DM if `forget_dm`."""

    give_up: str | None = None
    delay_s: float = 0.0
    count: bool = False
    forget_dm: bool = False


def deadline(item: OutboxItem, config: OutboxConfig) -> float:
    return item.created_at + config.give_up_after_s


def _retry(
    item: OutboxItem, config: OutboxConfig, now: float, delay_s: float, *, count: bool
) -> RetryDecision:
    # Never later than the age limit: the item is looked at again when it is due to end.
    left = deadline(item, config) - now
    return RetryDecision(delay_s=max(0.0, min(delay_s, left + 0.01)), count=count)


def waiting(item: OutboxItem, reason: str, config: OutboxConfig, now: float) -> RetryDecision:
    """The item cannot go yet (its room is not ready, an earlier item is not delivered)."""
    age = now - item.created_at
    if age >= config.give_up_after_s:
        return RetryDecision(give_up=f"{reason} for too long")
    poll = WAIT_POLL_S if age < WAIT_FAST_S else min(WAIT_POLL_MAX_S, age / WAIT_FAST_S)
    return _retry(item, config, now, poll, count=False)


def failed(
    item: OutboxItem, failure: SendFailure, config: OutboxConfig, now: float, offline: int
) -> RetryDecision:
    """What to do after `failure`; `offline` counts connection errors in a row."""
    errcode = failure.errcode
    if now - item.created_at >= config.give_up_after_s:
        return RetryDecision(give_up=f"too old, last error {errcode}: {failure.message}"[:500])
    if errcode == "M_LIMIT_EXCEEDED":
        # No fault of the item: wait as long as the homeserver asks, attempts unused.
        wait_s = min((failure.retry_after_ms or 1000) / 1000, config.max_retry_after_s)
        return _retry(item, config, now, wait_s, count=False)
    if errcode == OFFLINE:
        # The homeserver is away: an outage must not use up the item's attempts, and once
        # it is back the queue goes out within OFFLINE_RETRY_MAX_S.
        delay = min(OFFLINE_RETRY_MAX_S, 2.0 ** max(0, offline - 1)) * random.uniform(1.0, 1.2)
        return _retry(item, config, now, delay, count=False)
    last_attempt = item.attempts + 1 >= config.max_attempts
    if errcode in PERMANENT_ERRCODES:
        if (
            item.target_kind == "dm"
            and item.action not in ORIGINAL_BASED
            and errcode in ROOM_GONE_ERRCODES
            and not last_attempt
        ):
            # The person left our DM room: a new one is opened on the retry.
            return RetryDecision(delay_s=0.0, count=True, forget_dm=True)
        return RetryDecision(give_up=f"{errcode}: {failure.message}"[:500])
    if last_attempt:
        return RetryDecision(give_up=f"{errcode}: {failure.message}"[:500])
    delay = min(300.0, 2.0**item.attempts) * random.uniform(1.0, 1.5)
    return _retry(item, config, now, delay, count=True)
