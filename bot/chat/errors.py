"""Matrix errors as exceptions, classified by errcode (never by message text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import ErrorResponse

from bot.chat.recovery import Verdict, classify

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
# Our errcode for "the homeserver did not answer" (no connection, or a gateway without it).
OFFLINE = "M_CONNECTION"


@dataclass
class SendFailure(Exception):
    errcode: str
    message: str
    retry_after_ms: int | None = None


def check(response: Any) -> Any:
    """Return a successful nio response, raise `SendFailure` for an error response.

    A reverse proxy answering 502/503/504 for a homeserver that is not there fails like a
    refused connection (`M_CONNECTION`): the item waits for the homeserver instead of
    using up its attempts (nio would call it `M_UNKNOWN`)."""
    if isinstance(response, ErrorResponse):
        transport = getattr(response, "transport_response", None)
        retry_after_ms = getattr(response, "retry_after_ms", None)
        errcode = str(response.status_code or "M_UNKNOWN")
        asked_to_wait = retry_after_ms is not None or "Retry-After" in getattr(
            transport, "headers", {}
        )
        status = getattr(transport, "status", None)
        if classify(status, errcode, asked_to_wait) is Verdict.UNREACHABLE:
            errcode = OFFLINE
        raise SendFailure(errcode, str(response.message or ""), retry_after_ms)
    return response
