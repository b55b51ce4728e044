"""Routing of "Wer kennt wen?" requests to bridge persons, as pure functions.

The service keeps one `RequestState` per request and calls `next_step` whenever something may be
due: on creation, at `Step.next_check_at`, after every answer, after a restart. It persists
`Step.state` before sending what the step says. A person already in `state.asked` is never chosen
again, so calling `next_step` again with the same state — the restart case — asks nobody twice.
Drills take the same path; `RequestState.drill` only changes how the chat layer labels them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from bot.domain.availability import Availability

BROADCAST_TIER = 3


class Standing(IntEnum):
    """How acceptable it is to ask a bridge now; lower is better. Paging someone outside their own
    window ranks below exceeding the weekly cap because the window is the volunteer's explicit
    choice, while the cap is a fairness limit set by the administration."""

    AVAILABLE = 0
    AT_CAP = 1
    OUT_OF_WINDOW = 2
    OUT_OF_WINDOW_AT_CAP = 3


@dataclass(frozen=True)
class Bridge:
    """One person who might know someone; `fit` is how well their best contact fits the request
    (0 = not at all, 1 = perfectly; see `hybrid_fit`), `sector` the sector of that contact."""

    id: str
    sector: str
    fit: float
    availability: Availability
    asks_last_7_days: int = 0
    last_asked_at: datetime | None = None


# Fit of a contact to a request: the meaning (the lift of bot.domain.crisis_meaning: how
# much better the contact fits this request than typical crisis requests) and the shared
# words (TF-IDF cosine). On the routing evaluation set (dev part) the best contact of a
# request had a median lift of 0.03 and a 90th percentile of 0.046; a lift of MEANING_FULL
# counts as a full fit and 0 (no better than any request) as none, and a request's lifts are
# scaled so that its best one is at most MEANING_FULL (`crisis_meaning.relative_to_best`).
# 0.04 put a fitting bridge first most often on dev in the bot's own order (fit bands, then
# rotation), among 0.02-0.06. Shared words are rescaled from [0, WORDS_FULL] to [0, 1]: a
# TF-IDF cosine of 0.4 already means a shared name ("Tafel" in "Tafel Dresden | Soziale
# Träger"). Beside the meaning they count WORDS_BESIDE_MEANING of that: on dev the sector
# descriptions' words matched unrelated requests as often as fitting ones (TF-IDF 0.12-0.34).
MEANING_FULL = 0.04
WORDS_FULL = 0.4
WORDS_BESIDE_MEANING = 0.5
# Compared by words only, the best fit says little if it is below WEAK_FIT, or if it is
# hardly above the typical sector (a vague request, "Wer kann helfen?", fits every sector a
# bit): then the requester hears how to sharpen the request (by meaning: `weak_lift`).
WEAK_FIT = 0.4
WEAK_MARGIN = 0.22


def meaning_fit(lift: float) -> float:
    """A lift as a fit in [0, 1]: 0 up to no lift, 1 from MEANING_FULL on."""
    return min(1.0, max(0.0, lift / MEANING_FULL))


def words_fit(lexical: float) -> float:
    """A TF-IDF cosine as a fit in [0, 1]."""
    return min(1.0, max(0.0, lexical / WORDS_FULL))


def hybrid_fit(lift: float | None, lexical: float) -> float:
    """How well a contact fits a request, in [0, 1]. Either signal alone can make a contact fit
    and both together fit best (1 - (1 - meaning)(1 - words)): a request that names the
    organisation fits by its words even where the meaning is vague, one that shares no word
    fits by its meaning. Without a vector (no model, or not computed yet) only the words
    count."""
    words = words_fit(lexical)
    if lift is None or math.isnan(lift):
        return words
    return 1.0 - (1.0 - meaning_fit(lift)) * (1.0 - WORDS_BESIDE_MEANING * words)


def weak_fit(best_by_sector: Mapping[str, float]) -> bool:
    """Whether the best fit of a request is weak. `best_by_sector` is the best fit of any
    contact per sector that has contacts; the margin over the median sector is only judged
    with at least three sectors."""
    if not best_by_sector:
        return True
    best = max(best_by_sector.values())
    if best < WEAK_FIT:
        return True
    if len(best_by_sector) < 3:
        return False
    return best - statistics.median(best_by_sector.values()) < WEAK_MARGIN


def standing(bridge: Bridge, now: datetime, cap_per_week: int | None) -> Standing:
    """`now` is read as wall-clock time in the zone the availability windows are written for."""
    at_cap = cap_per_week is not None and bridge.asks_last_7_days >= cap_per_week
    out_of_window = not bridge.availability.contains(now)
    return Standing(2 * out_of_window + at_cap)


def fit_band(fit: float, fit_step: float = 0.1) -> int:
    """Fits are compared in bands of `fit_step`: similarity scores carry more precision than
    meaning. No fit at all is a band of its own, below every fit however small."""
    if fit <= 0:
        return -1
    return math.floor(fit / fit_step + 1e-9)


def rank_bridges(
    bridges: Iterable[Bridge],
    now: datetime,
    cap_per_week: int | None,
    *,
    fit_step: float = 0.1,
) -> list[Bridge]:
    """Every bridge that may be asked now, best first; empty only if there is no bridge.

    Nobody is left out for fitting badly: the request goes first to those who fit best and
    in the end (the broadcast) to everybody, so it never dead-ends on a wording the fit does
    not understand. Only bridges of the best standing present are returned: someone outside
    their window or at their cap is never asked while anybody available is there, not even in
    the broadcast. Within that group the order is fit, then load (asks in the last 7 days),
    then who was asked least recently. Fit is compared in bands of `fit_step` because
    similarity scores carry more precision than meaning; otherwise a 0.81 would beat a 0.80
    every time and the rotation among the bridges of a sector would never happen. At equal
    load (nobody asked yet when a crisis starts) the exact fit decides within a band.
    """
    _require_aware(now)
    if fit_step <= 0:
        raise ValueError("fit_step must be positive")
    placed = [(standing(b, now, cap_per_week), b) for b in bridges]
    if not placed:
        return []
    best = min(s for s, _ in placed)
    return sorted(
        (b for s, b in placed if s == best),
        key=lambda b: (
            -fit_band(b.fit, fit_step),
            b.asks_last_7_days,
            b.last_asked_at is not None,
            b.last_asked_at or now,
            -b.fit,
            b.id,
        ),
    )


@dataclass(frozen=True)
class Timing:
    tier1_size: int = 3
    tier1_timeout: timedelta = timedelta(minutes=10)
    tier2_size: int = 5
    tier2_timeout: timedelta = timedelta(minutes=20)
    urgent_factor: float = 0.5
    expire_after: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.tier1_size < 1 or self.tier2_size < 1:
            raise ValueError("tier sizes must be at least 1")
        if min(self.tier1_timeout, self.tier2_timeout, self.expire_after) <= timedelta(0):
            raise ValueError("timeouts and expiry must be positive")
        if not 0 < self.urgent_factor <= 1:
            raise ValueError("urgent_factor must be in (0, 1]")

    def size(self, tier: int) -> int | None:
        """How many new people a tier asks; None means all that remain."""
        return {1: self.tier1_size, 2: self.tier2_size}.get(tier)

    def timeout(self, tier: int, urgent: bool) -> timedelta:
        base = self.tier1_timeout if tier == 1 else self.tier2_timeout
        return base * self.urgent_factor if urgent else base


@dataclass(frozen=True)
class Asked:
    person: str
    tier: int
    at: datetime


@dataclass(frozen=True)
class Answer:
    person: str
    yes: bool
    at: datetime
    hint: str | None = None


@dataclass(frozen=True)
class RequestState:
    """Everything routing needs to know about one request; `tier_started[i]` is when tier i+1
    began, kept even when a tier found nobody new so that the timeouts survive a restart."""

    created_at: datetime
    timing: Timing = field(default_factory=Timing)
    urgent: bool = False
    drill: bool = False
    tier_started: tuple[datetime, ...] = ()
    asked: tuple[Asked, ...] = ()
    answers: tuple[Answer, ...] = ()
    connected_to: str | None = None
    connected_at: datetime | None = None
    closed_at: datetime | None = None
    expired_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.created_at)

    @property
    def tier(self) -> int:
        return len(self.tier_started)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + self.timing.expire_after

    @property
    def asked_ids(self) -> frozenset[str]:
        return frozenset(a.person for a in self.asked)

    @property
    def is_open(self) -> bool:
        return self.connected_to is None and self.closed_at is None and self.expired_at is None


def unanswered(state: RequestState) -> tuple[str, ...]:
    """Asked people who have not answered yet, in the order they were asked."""
    answered = {a.person for a in state.answers}
    return tuple(a.person for a in state.asked if a.person not in answered)


@dataclass(frozen=True)
class Step:
    """What to do now. `ask` are the people to message (each with its tier); `broadcast_note`
    asks for the note in the crisis room; `expired` means the request just expired and the
    requester and `unanswered(state)` should hear so; `next_check_at` is None once nothing can
    become due any more."""

    state: RequestState
    ask: tuple[Asked, ...] = ()
    broadcast_note: bool = False
    expired: bool = False
    next_check_at: datetime | None = None


def next_step(state: RequestState, ranked: Sequence[str], now: datetime) -> Step:
    """Advance the escalation of one request. `ranked` are person ids, best first (usually the
    ids of `rank_bridges`), recomputed by the caller for `now`. Tier 1 takes the first
    `tier1_size` not asked yet, tier 2 the next `tier2_size`, the broadcast all the rest."""
    _require_aware(now)
    if not state.is_open:
        return Step(state)
    if now >= state.expires_at:
        return Step(replace(state, expired_at=now), expired=True)
    asked: list[Asked] = []
    tier_before = state.tier
    while state.tier < BROADCAST_TIER and _tier_over(state, now):
        tier = state.tier + 1
        fresh = [p for p in dict.fromkeys(ranked) if p not in state.asked_ids]
        new = tuple(Asked(p, tier, now) for p in fresh[: state.timing.size(tier)])
        state = replace(state, tier_started=(*state.tier_started, now), asked=state.asked + new)
        asked.extend(new)
    # The crisis room hears of the broadcast even when nobody new was left to ask: that is
    # exactly when the staff should turn to the formal path.
    return Step(
        state,
        tuple(asked),
        broadcast_note=tier_before < BROADCAST_TIER == state.tier,
        next_check_at=_next_check(state),
    )


def starts_tier(state: RequestState, now: datetime) -> bool:
    """Whether `next_step` at `now` would start a tier, i.e. needs the ranking at all."""
    _require_aware(now)
    return (
        state.is_open
        and now < state.expires_at
        and state.tier < BROADCAST_TIER
        and _tier_over(state, now)
    )


def _tier_over(state: RequestState, now: datetime) -> bool:
    if state.tier == 0:
        return True
    # A tier that found nobody new has nobody to wait for, and neither has one where everybody
    # already said no.
    if not any(a.tier == state.tier for a in state.asked) or not unanswered(state):
        return True
    return now >= state.tier_started[-1] + state.timing.timeout(state.tier, state.urgent)


def _next_check(state: RequestState) -> datetime:
    if state.tier >= BROADCAST_TIER:
        return state.expires_at
    deadline = state.tier_started[-1] + state.timing.timeout(state.tier, state.urgent)
    return min(deadline, state.expires_at)


class AnswerOutcome(StrEnum):
    CONNECTED = "connected"
    DECLINED = "declined"
    ALREADY_DECLINED = "already_declined"
    HINT_ALREADY_FORWARDED = "hint_already_forwarded"
    ALREADY_SETTLED = "already_settled"
    NOT_ASKED = "not_asked"
    REQUEST_CLOSED = "request_closed"
    REQUEST_EXPIRED = "request_expired"


@dataclass(frozen=True)
class AnswerResult:
    """`state` is unchanged unless the outcome is CONNECTED or DECLINED. On CONNECTED,
    `notify_settled` are the other asked people; on DECLINED, `forward_hint` goes to the
    requester; `repeated`: an earlier no had no hint, only the hint is new."""

    outcome: AnswerOutcome
    state: RequestState
    notify_settled: tuple[str, ...] = ()
    forward_hint: str | None = None
    repeated: bool = False


def record_answer(
    state: RequestState, person: str, yes: bool, hint: str | None, now: datetime
) -> AnswerResult:
    """Apply a yes or no. A no may later turn into a yes (someone remembered a contact); the
    service should call `next_step` after a no, since a tier where everybody declined ends early."""
    _require_aware(now)
    if person not in state.asked_ids:
        return AnswerResult(AnswerOutcome.NOT_ASKED, state)
    if state.closed_at is not None:
        return AnswerResult(AnswerOutcome.REQUEST_CLOSED, state)
    if state.connected_to is not None:
        return AnswerResult(AnswerOutcome.ALREADY_SETTLED, state)
    if state.expired_at is not None or now >= state.expires_at:
        return AnswerResult(AnswerOutcome.REQUEST_EXPIRED, state)
    hint = (hint or "").strip() or None
    if not yes and (earlier := next((a for a in state.answers if a.person == person), None)):
        return _declined_again(state, earlier, hint)
    state = replace(state, answers=(*state.answers, Answer(person, yes, now, hint)))
    if not yes:
        return AnswerResult(AnswerOutcome.DECLINED, state, forward_hint=hint)
    others = tuple(dict.fromkeys(a.person for a in state.asked if a.person != person))
    return AnswerResult(
        AnswerOutcome.CONNECTED,
        replace(state, connected_to=person, connected_at=now),
        notify_settled=others,
    )


def _declined_again(state: RequestState, earlier: Answer, hint: str | None) -> AnswerResult:
    """The no `earlier` (a yes settles) counts once, with one hint per person (S-11)."""
    if hint is None:
        return AnswerResult(AnswerOutcome.ALREADY_DECLINED, state)
    if earlier.hint is not None:
        return AnswerResult(AnswerOutcome.HINT_ALREADY_FORWARDED, state)
    answers = tuple(replace(a, hint=hint) if a is earlier else a for a in state.answers)
    state = replace(state, answers=answers)
    return AnswerResult(AnswerOutcome.DECLINED, state, forward_hint=hint, repeated=True)


class CloseOutcome(StrEnum):
    CLOSED = "closed"
    ALREADY_CLOSED = "already_closed"


@dataclass(frozen=True)
class CloseResult:
    """On CLOSED, `notify` are the asked people still waiting to answer an open request."""

    outcome: CloseOutcome
    state: RequestState
    notify: tuple[str, ...] = ()


def close(state: RequestState, now: datetime) -> CloseResult:
    """Close by the crisis staff; allowed after connection or expiry too, to file the request."""
    _require_aware(now)
    if state.closed_at is not None:
        return CloseResult(CloseOutcome.ALREADY_CLOSED, state)
    notify = unanswered(state) if state.is_open else ()
    return CloseResult(CloseOutcome.CLOSED, replace(state, closed_at=now), notify)


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
