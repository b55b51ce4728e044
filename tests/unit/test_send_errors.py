"""How a failed send is classified: a gateway standing in for a stopped homeserver is an
outage (the item waits without using up attempts), a real error keeps its errcode."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nio import RoomSendError

from bot.chat.errors import SendFailure, check


def failed(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> object:
    response = RoomSendError.from_dict(body, "!room:example.org")
    response.transport_response = SimpleNamespace(status=status, headers=headers or {})
    return response


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_without_its_homeserver_is_an_outage(status: int) -> None:
    with pytest.raises(SendFailure) as raised:
        check(failed(status, {"error": "Bad Gateway"}))
    assert raised.value.errcode == "M_CONNECTION"


def test_a_503_that_names_a_wait_is_no_outage() -> None:
    with pytest.raises(SendFailure) as raised:
        check(failed(503, {"errcode": "M_UNKNOWN", "error": "busy"}, {"Retry-After": "5"}))
    assert raised.value.errcode == "M_UNKNOWN"


@pytest.mark.parametrize(
    ("status", "errcode"), [(413, "M_TOO_LARGE"), (403, "M_FORBIDDEN"), (500, "M_UNKNOWN")]
)
def test_real_errors_keep_their_errcode(status: int, errcode: str) -> None:
    with pytest.raises(SendFailure) as raised:
        check(failed(status, {"errcode": errcode, "error": "no"}))
    assert raised.value.errcode == errcode


def test_rate_limits_keep_their_wait() -> None:
    body = {"errcode": "M_LIMIT_EXCEEDED", "error": "slow", "retry_after_ms": 1500}
    with pytest.raises(SendFailure) as raised:
        check(failed(429, body))
    assert (raised.value.errcode, raised.value.retry_after_ms) == ("M_LIMIT_EXCEEDED", 1500)
