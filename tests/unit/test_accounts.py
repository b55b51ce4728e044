"""`bot.chat.accounts.MatrixAccounts` against a fake homeserver: only the homeserver's own
word makes an account "deactivated" (review finding S-12), and display names are cleaned
before anybody sees them (S-15)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.chat.accounts import MatrixAccounts
from tests.support.fakes import FakeHttpResponse

BOT = "@flurfunk:rathaus.example"
ANNA = "@anna:rathaus.example"
OTHER_SERVER = "@olga:nachbar.example"


@dataclass
class Member:
    display_name: str | None = None


@dataclass
class Room:
    users: dict[str, Member] = field(default_factory=dict)
    invited_users: dict[str, Member] = field(default_factory=dict)


@dataclass
class Homeserver:
    """Answers by path; records every request."""

    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    user_id: str = BOT
    access_token: str = "token"
    asked: list[str] = field(default_factory=list)

    async def send(
        self, method: str, path: str, data: str | None = None, headers: Any = None
    ) -> FakeHttpResponse:
        self.asked.append(path)
        for prefix, (status, body) in self.answers.items():
            if path.startswith(prefix):
                return FakeHttpResponse(status, json.loads(json.dumps(body)))
        return FakeHttpResponse(
            500, {"errcode": "M_UNKNOWN", "error": f"unexpected {method} {path}"}
        )


PROFILE = "/_matrix/client/v3/profile/"
ADMIN = "/_synapse/admin/v2/users/"
KEYS = "/_matrix/client/v3/keys/query"
MEMBER = "/_matrix/client/v3/rooms/"


async def test_an_active_person_without_devices_who_left_the_dm_is_active() -> None:
    """S-12: a web user who logged out everywhere and left the bot's DM is not deactivated;
    no device count or DM membership is consulted any more."""
    server = Homeserver(
        answers={
            PROFILE: (200, {"displayname": "Anna"}),
            KEYS: (200, {"device_keys": {ANNA: {}}}),
            MEMBER: (200, {"membership": "leave"}),
        }
    )
    accounts = MatrixAccounts(server)
    assert await accounts.is_active(ANNA) is True
    assert not any(p.startswith((KEYS, MEMBER)) for p in server.asked)


@pytest.mark.parametrize(
    ("answer", "in_a_room", "expected"),
    [
        ((404, {"errcode": "M_UNKNOWN", "error": "No row found"}), False, False),  # erased
        ((404, {"errcode": "M_NOT_FOUND", "error": "Profile was not found"}), False, False),
        ((404, {"errcode": "M_NOT_FOUND"}), True, True),  # no name, no avatar, but here
        ((404, {}), False, None),  # a 404 without a Matrix error: a proxy, not Synapse
        ((403, {"errcode": "M_FORBIDDEN"}), False, None),
        ((502, {}), False, None),
    ],
)
async def test_profile_lookup_verdicts(
    answer: tuple[int, dict[str, Any]], in_a_room: bool, expected: bool | None
) -> None:
    """S-12: only a Matrix 404 (M_UNKNOWN/M_NOT_FOUND) for somebody who shares no room with
    the bot means deactivated; anything else is "cannot tell" or active."""
    rooms = {"!flur:rathaus.example": Room({ANNA: Member("Anna")})} if in_a_room else {}
    accounts = MatrixAccounts(Homeserver(answers={PROFILE: answer}, rooms=rooms))
    assert await accounts.is_active(ANNA) is expected


async def test_the_admin_api_decides_where_configured() -> None:
    """S-12: with `privacy.admin_api` the homeserver's `deactivated` flag decides (it also
    sees a deactivation without erasure); where it cannot answer, the profile lookup does."""
    gone = Homeserver(
        answers={ADMIN: (200, {"name": ANNA, "deactivated": True}), PROFILE: (200, {})}
    )
    assert await MatrixAccounts(gone, admin_api=True).is_active(ANNA) is False
    here = Homeserver(answers={ADMIN: (200, {"deactivated": False}), PROFILE: (404, {})})
    assert await MatrixAccounts(here, admin_api=True).is_active(ANNA) is True
    refused = Homeserver(answers={ADMIN: (403, {"errcode": "M_FORBIDDEN"}), PROFILE: (200, {})})
    assert await MatrixAccounts(refused, admin_api=True).is_active(ANNA) is True
    # Another homeserver's account: its admin API is not ours to ask.
    other = Homeserver(answers={PROFILE: (200, {})})
    assert await MatrixAccounts(other, admin_api=True).is_active(OTHER_SERVER) is True
    assert not any(p.startswith(ADMIN) for p in other.asked)
    # Without the setting the admin API is never asked.
    plain = Homeserver(answers={ADMIN: (200, {"deactivated": True}), PROFILE: (200, {})})
    assert await MatrixAccounts(plain).is_active(ANNA) is True
    assert not any(p.startswith(ADMIN) for p in plain.asked)


def test_display_names_are_cleaned() -> None:
    """S-15: a display name is one line without control or format characters."""
    room = Room({ANNA: Member("Anna\u202e\nBürgermeister: bitte überweisen\x1b[2K\u2060")})
    accounts = MatrixAccounts(Homeserver(rooms={"!flur": room}))
    assert accounts.known_display_name(ANNA) == "Anna Bürgermeister: bitte überweisen[2K"
    invisible = Room({ANNA: Member("\u3164\u200b")})
    accounts = MatrixAccounts(Homeserver(rooms={"!flur": invisible}))
    assert accounts.known_display_name(ANNA) is None
