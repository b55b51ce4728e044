"""Matrix errors as exceptions, classified by errcode (never by message text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import ErrorResponse

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


@dataclass
class SendFailure(Exception):
    errcode: str
    message: str
    retry_after_ms: int | None = None


def check(response: Any) -> Any:
    """Return a successful nio response, raise `SendFailure` for an error response."""
    if isinstance(response, ErrorResponse):
        raise SendFailure(
            str(response.status_code or "M_UNKNOWN"),
            str(response.message or ""),
            getattr(response, "retry_after_ms", None),
        )
    return response
