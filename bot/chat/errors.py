"""Matrix errors as exceptions, classified by errcode (never by message text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import ErrorResponse

from bot.chat.recovery import FailureKind, classify

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
# Our errcode for "the homeserver did not answer" (no connection, or a gateway without it).
OFFLINE = "M_CONNECTION"


@dataclass
class SendFailure(Exception):
    errcode: str
    message: str
    retry_after_ms: int | None = None


def retry_after_s(response: ErrorResponse, transport: Any) -> float | None:
    """How long the homeserver asked us to wait (None: it did not say)."""
    if response.retry_after_ms is not None:
        return response.retry_after_ms / 1000
    header = getattr(transport, "headers", {}).get("Retry-After")
    if header is None:
        return None
    # Seconds, or an HTTP date (then: "wait", the backoff says how long).
    return float(header) if header.strip().isdigit() else 0.0


def check(response: Any) -> Any:
    """Return a successful nio response, raise `SendFailure` for an error response.

    A reverse proxy answering 502/503/504 for a homeserver that is not there fails like a
    refused connection (`M_CONNECTION`): the item waits for the homeserver instead of
    using up its attempts (nio would call it `M_UNKNOWN`)."""
    if isinstance(response, ErrorResponse):
        transport = getattr(response, "transport_response", None)
        errcode = str(response.status_code or "M_UNKNOWN")
        asked_to_wait = retry_after_s(response, transport) is not None
        if classify(getattr(transport, "status", None), errcode, asked_to_wait) is (
            FailureKind.UNREACHABLE
        ):
            errcode = OFFLINE
        raise SendFailure(errcode, str(response.message or ""), response.retry_after_ms)
    return response
