"""The AccountDirectory port on Matrix: is an account still active, what is its name.

The bot is an ordinary user and cannot call the admin API, so it reads what an ordinary
user can see. Measured against Synapse 1.163 (tests/integration/test_profiles.py):

- Deactivation *with* erasure deletes the profile row: `GET /profile/{userId}` answers
  404 (errcode `M_UNKNOWN`, "No row found"), exactly as for an account that never existed.
  (`404 M_NOT_FOUND` is what a profile without display name and avatar gets.)
- Deactivation *without* erasure (Synapse's default) keeps the profile, so the endpoint
  still answers 200. What does change: every device is deleted (`/keys/query` lists none)
  and Synapse makes the account leave every room, our DM with the person included.

So an account counts as gone when its profile is 404 (unless it still sits in a room with
us: an active account that removed both display name and avatar gets a 404 too), or when
it has no device left *and* has left our DM. Anything else (403 from a homeserver that
limits profile lookups, 5xx, network errors) means "cannot tell", never "deactivated".
The retention job adds its own safety net against a misrouted endpoint (see retention.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

from bot.chat.errors import NETWORK_ERRORS
from bot.chat.session import raw_request

log = logging.getLogger(__name__)

DmRoomOf = Callable[[str], Awaitable[str | None]]


class MatrixAccounts:
    def __init__(self, client: AsyncClient, dm_room_of: DmRoomOf) -> None:
        self.client = client
        self.dm_room_of = dm_room_of

    async def is_active(self, user_id: str) -> bool | None:
        try:
            return await self._judge(user_id)
        except NETWORK_ERRORS as exc:
            log.info("account lookup postponed: %s", type(exc).__name__)
            return None

    async def _judge(self, user_id: str) -> bool | None:
        status, data = await self._get(f"/_matrix/client/v3/profile/{_q(user_id)}")
        if status == 404:
            return self._in_a_room(user_id)
        if status != 200:
            log.info("profile lookup answered %s %s; not judging", status, data.get("errcode"))
            return None
        room_id = await self.dm_room_of(user_id)
        if room_id is None:
            # Never talked to us (e.g. only imported): nothing more to compare with.
            return True
        if await self._devices(user_id) != 0:
            return True
        status, member = await self._get(
            f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.member/{_q(user_id)}"
        )
        if status == 200:
            return member.get("membership") in ("join", "invite")
        return None

    async def _devices(self, user_id: str) -> int | None:
        status, data = await raw_request(
            self.client, "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}}
        )
        if status != 200:
            return None
        devices = (data.get("device_keys") or {}).get(user_id) or {}
        return len(devices)

    async def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        return await raw_request(self.client, "GET", path)

    def _in_a_room(self, user_id: str) -> bool:
        for room in self.client.rooms.values():
            if user_id in room.users and user_id not in room.invited_users:
                return True
        return False

    def known_display_name(self, user_id: str) -> str | None:
        for room in self.client.rooms.values():
            member = room.users.get(user_id)
            if member is not None and member.display_name:
                return str(member.display_name)
        return None


def _q(value: str) -> str:
    return quote(value, safe="")
