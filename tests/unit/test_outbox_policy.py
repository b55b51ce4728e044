"""When an outbox item is tried again and when it is given up (S-05): every branch has
an age limit and, for the item's own errors, `max_attempts`."""

from __future__ import annotations

import pytest

from bot.chat.errors import SendFailure
from bot.chat.outbox_policy import NOT_JOINED, failed, waiting
from bot.config import OutboxConfig
from bot.store.outbox import Action, OutboxItem, TargetKind

CONFIG = OutboxConfig(max_attempts=3, max_retry_after_s=120, give_up_after_s=3600)
NOW = 1_000_000.0


def item(
    action: Action = "message", kind: TargetKind = "dm", attempts: int = 0, age: float = 0.0
) -> OutboxItem:
    return OutboxItem(
        id=1,
        key="k",
        action=action,
        target_kind=kind,
        target="@a:x",
        stored_payload="{}",
        attempts=attempts,
        subject_user=None,
        created_at=NOW - age,
    )


@pytest.mark.parametrize(
    "failure",
    [
        SendFailure("M_LIMIT_EXCEEDED", "", 5000),
        SendFailure("M_CONNECTION", "ClientConnectorError"),
        SendFailure("M_UNKNOWN", "500"),
        SendFailure(NOT_JOINED, "not in the room"),
    ],
)
def test_every_kind_of_failure_ends_at_the_age_limit(failure: SendFailure) -> None:
    young = failed(item(age=10), failure, CONFIG, NOW, offline=1)
    assert young.give_up is None
    # Whatever the wait, the retry is due by the age limit at the latest ...
    nearly = failed(item(age=3599), failure, CONFIG, NOW, offline=20)
    assert nearly.give_up is None and nearly.delay_s <= 1.01
    # ... and then the item ends.
    assert failed(item(age=3600), failure, CONFIG, NOW, offline=1).give_up is not None


def test_waiting_for_a_room_or_an_earlier_item_ends_too() -> None:
    young = waiting(item(age=1), "room not ready", CONFIG, NOW)
    assert young.give_up is None and young.delay_s == pytest.approx(0.2)
    older = waiting(item(age=1800), "room not ready", CONFIG, NOW)
    assert older.give_up is None and 0.2 < older.delay_s <= 5.0
    assert waiting(item(age=3600), "room not ready", CONFIG, NOW).give_up == (
        "room not ready for too long"
    )


def test_a_dm_too_large_fails_at_once_and_keeps_the_dm() -> None:
    verdict = failed(item(), SendFailure("M_TOO_LARGE", "event too large"), CONFIG, NOW, 0)
    assert verdict.give_up is not None and not verdict.forget_dm


def test_a_dm_the_person_left_is_replaced_a_bounded_number_of_times() -> None:
    gone = SendFailure("M_FORBIDDEN", "not in room")
    first = failed(item(attempts=0), gone, CONFIG, NOW, 0)
    assert first.forget_dm and first.count and first.give_up is None
    assert failed(item(attempts=2), gone, CONFIG, NOW, 0).give_up is not None


@pytest.mark.parametrize("action", ["reaction", "edit", "redact"])
def test_buttons_and_edits_of_a_failed_original_fail_and_never_touch_the_dm(
    action: Action,
) -> None:
    verdict = failed(item(action), SendFailure("M_NOT_FOUND", "original failed"), CONFIG, NOW, 0)
    assert verdict.give_up is not None and not verdict.forget_dm


def test_the_items_own_errors_count_up_to_max_attempts() -> None:
    error = SendFailure("M_UNKNOWN", "500")
    assert failed(item(attempts=1), error, CONFIG, NOW, 0).count
    assert failed(item(attempts=2), error, CONFIG, NOW, 0).give_up is not None
    limited = failed(item(attempts=2), SendFailure("M_LIMIT_EXCEEDED", "", 5000), CONFIG, NOW, 0)
    assert limited.give_up is None and not limited.count and limited.delay_s == 5.0
