"""Backoff pacing and the invite gate (allow-list plus per-inviter limit)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.chat.recovery import Backoff
from bot.chat.rooms import InviteGate
from bot.commands.hooks import normalise_emoji


@given(st.integers(min_value=1, max_value=60))
def test_backoff_never_faster_than_initial_and_bounded(failures: int) -> None:
    backoff = Backoff(1.0, 60.0)
    delays = [backoff.next_delay() for _ in range(failures)]
    assert all(1.0 <= d <= 60.0 for d in delays)


def test_backoff_grows_and_resets() -> None:
    backoff = Backoff(1.0, 60.0)
    early = backoff.next_delay()
    for _ in range(10):
        late = backoff.next_delay()
    assert late >= 30.0 > early
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_invites_only_from_allowed_servers() -> None:
    gate = InviteGate(["Rathaus.example"])
    assert gate.decide("@anna:rathaus.example").accept
    assert not gate.decide("@mallory:evil.example").accept


def test_invite_spam_is_limited_per_inviter() -> None:
    gate = InviteGate(["rathaus.example"], per_inviter=3, window_s=600)
    decisions = [gate.decide("@spam:rathaus.example", now=float(i)).accept for i in range(5)]
    assert decisions == [True, True, True, False, False]
    assert gate.decide("@anna:rathaus.example", now=5.0).accept
    assert gate.decide("@spam:rathaus.example", now=700.0).accept


def test_skin_tones_and_variation_selectors_are_normalised() -> None:
    assert normalise_emoji("👍🏽") == "👍"
    assert normalise_emoji("✔️") == "✔"
