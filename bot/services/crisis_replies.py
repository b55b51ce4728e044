"""What the crisis service hands back to its callers: refusals, replies and views."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.crisis import AnswerOutcome, CloseOutcome, RequestState
from bot.store.crisis import StoredRequest, TimelineEntry


class RequestError(ValueError):
    """`code`: not_allowed, empty, too_long."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Access(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"  # also for requests the actor may not see


@dataclass(frozen=True)
class Started:
    id: str
    asked: int
    status_room: str | None
    drill: bool


@dataclass(frozen=True)
class AnswerReply:
    outcome: AnswerOutcome
    request_id: str | None
    drill: bool = False


@dataclass(frozen=True)
class CloseReply:
    outcome: CloseOutcome | Access
    request_id: str | None


@dataclass(frozen=True)
class RequestView:
    id: str
    text: str
    drill: bool
    urgent: bool
    state: RequestState
    asked: int
    declined: int


@dataclass(frozen=True)
class Protocol:
    request: StoredRequest
    timeline: list[TimelineEntry]
