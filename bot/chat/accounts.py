"""The AccountDirectory port on Matrix: is an account still active, what is its name.

Only the homeserver's own word makes an account "deactivated" (review finding S-12); an
active person who logged out of every device and left the bot's DM is still active.

- With `privacy.admin_api: true` (the bot account is a server admin) Synapse's admin API
  `GET /_synapse/admin/v2/users/{userId}` decides for accounts on the bot's own homeserver:
  `deactivated: true` or 404 (no such account) is gone, `deactivated: false` is active. This
  also sees a deactivation *without* erasure. Any other answer falls back to:
- The profile lookup an ordinary user can make. Measured against Synapse 1.163
  (tests/integration/test_profiles.py): deactivation *with* erasure deletes the profile row,
  so `GET /profile/{userId}` answers 404 `M_UNKNOWN` ("No row found"), exactly as for an
  account that never existed; `404 M_NOT_FOUND` is what a profile without display name
  and avatar gets. Such a 404 counts as gone unless the account still sits in a room with
  us. Deactivation *without* erasure (Synapse's default) keeps the profile (200): without
  the admin API it is not detected, and the inactivity limit deletes the data instead.

Anything else (a 404 without a Matrix error code, e.g. from a proxy; 403 from a homeserver
that limits profile lookups; 5xx; network errors) means "cannot tell", never "deactivated".
The retention job adds its own safety net against a misrouted endpoint (see retention.py).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

from bot.chat.errors import NETWORK_ERRORS
from bot.chat.session import raw_request
from bot.domain.text_cleaning import clean_text

log = logging.getLogger(__name__)

# What Synapse answers for a profile it has no row for (erased, or never existed) and for
# a profile without display name and avatar.
GONE_ERRCODES = frozenset({"M_UNKNOWN", "M_NOT_FOUND"})


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1].lower() if ":" in user_id else ""


class MatrixAccounts:
    def __init__(self, client: AsyncClient, *, admin_api: bool = False) -> None:
        self.client = client
        self.admin_api = admin_api

    async def is_active(self, user_id: str) -> bool | None:
        try:
            return await self._judge(user_id)
        except NETWORK_ERRORS as exc:
            log.info("account lookup postponed: %s", type(exc).__name__)
            return None

    async def _judge(self, user_id: str) -> bool | None:
        if self.admin_api and server_of(user_id) == server_of(self.client.user_id):
            verdict = await self._admin_verdict(user_id)
            if verdict is not None:
                return verdict
        status, data = await self._get(f"/_matrix/client/v3/profile/{_q(user_id)}")
        if status == 200:
            return True
        if status == 404 and data.get("errcode") in GONE_ERRCODES:
            return self._in_a_room(user_id)
        log.info("profile lookup answered %s %s; not judging", status, data.get("errcode"))
        return None

    async def _admin_verdict(self, user_id: str) -> bool | None:
        status, data = await self._get(f"/_synapse/admin/v2/users/{_q(user_id)}")
        if status == 200 and isinstance(data.get("deactivated"), bool):
            return not data["deactivated"]
        if status == 404 and data.get("errcode") in GONE_ERRCODES:
            return False
        log.info("admin API answered %s %s; asking the profile", status, data.get("errcode"))
        return None

    async def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        return await raw_request(self.client, "GET", path)

    def _in_a_room(self, user_id: str) -> bool:
        for room in self.client.rooms.values():
            if user_id in room.users and user_id not in room.invited_users:
                return True
        return False

    def known_display_name(self, user_id: str) -> str | None:
        """The display name seen in a shared room, as one clean line (it is arbitrary text
        anybody can set: no line breaks or invisible characters reach a message, S-15)."""
        for room in self.client.rooms.values():
            member = room.users.get(user_id)
            if member is not None and member.display_name:
                name = clean_text(str(member.display_name))
                if name:
                    return name
        return None


def _q(value: str) -> str:
    return quote(value, safe="")
