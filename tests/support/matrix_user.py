# The waits take a `timeout=` argument on purpose: tests read better with it than with
# `async with asyncio.timeout(...)` around every call.
# ruff: noqa: ASYNC109
"""A real Matrix user for integration tests, behaving like Element does.

Each ``MatrixUser`` is a matrix-nio client with its own E2EE store, logged in against the
test Synapse, with a background sync loop (matrix_sync.py). Tests drive it ("open a DM with
the bot", "send this", "react with 👍") and wait for what arrives (decrypted).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from nio import RoomCreateResponse, RoomPreset, RoomRedactResponse, RoomSendResponse
from nio.api import Api

from tests.support.matrix_sync import MatrixError, SyncedUser

MEGOLM = "m.megolm.v1.aes-sha2"


def unique_localpart(prefix: str) -> str:
    """Fresh users per test on the shared session homeserver."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class MatrixUser(SyncedUser):
    """What a test user does, as Element does it; `SyncedUser` collects what arrives."""

    # -- rooms ---------------------------------------------------------------------------

    async def open_dm(self, other_user_id: str, *, timeout: float = 10.0) -> str:
        """Open an encrypted DM exactly as Element does; returns once it is synced."""
        response = await self.client.room_create(
            is_direct=True,
            preset=RoomPreset.trusted_private_chat,
            invite=[other_user_id],
            initial_state=[
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": MEGOLM},
                }
            ],
        )
        if not isinstance(response, RoomCreateResponse):
            raise MatrixError(f"createRoom failed: {response}")
        room_id = response.room_id
        direct = await self.account_data("m.direct") or {}
        direct.setdefault(other_user_id, []).append(room_id)
        await self.set_account_data("m.direct", direct)
        # nio only encrypts once the room and its m.room.encryption state have been synced;
        # sending before that would go out in clear text.
        # Like Element, know the invitee before the first message: the room key must
        # reach their devices too.
        await self.wait_for_room(room_id, encrypted=True, timeout=timeout, member=other_user_id)
        return room_id

    async def joined_members(self, room_id: str) -> set[str]:
        """Who is joined to the room now, as the homeserver says."""
        response = await self.client.joined_members(room_id)
        return {m.user_id for m in response.members}

    # -- sending -------------------------------------------------------------------------

    async def send(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        """Send any room event, encrypted if the room is, as Element would."""
        room = self.client.rooms.get(room_id)
        if event_type == "m.reaction" and room is not None and room.encrypted:
            # nio sends reactions in clear text (a leftover from before MSC1849);
            # Element encrypts them, so encrypt here (m.relates_to stays visible).
            await self._share_room_key(room_id)
            event_type, content = self.client.encrypt(room_id, event_type, content)
            method, path, data = Api.room_send(
                self.client.access_token, room_id, event_type, content, uuid.uuid4()
            )
            response = await self.client._send(RoomSendResponse, method, path, data, (room_id,))
        else:
            response = await self.client.room_send(
                room_id, event_type, content, ignore_unverified_devices=True
            )
        if not isinstance(response, RoomSendResponse):
            raise MatrixError(f"sending {event_type} to {room_id} failed: {response}")
        return str(response.event_id)

    async def _share_room_key(self, room_id: str) -> None:
        # The same steps room_send takes before encrypting.
        client = self.client
        assert client.olm is not None
        if not client.rooms[room_id].members_synced:
            await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
        if client.olm.should_share_group_session(room_id):
            if room_id in client.sharing_session:
                await client.sharing_session[room_id].wait()
            else:
                await client.share_group_session(room_id, ignore_unverified_devices=True)

    async def send_text(self, room_id: str, body: str) -> str:
        return await self.send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self.send(room_id, "m.reaction", content)

    async def edit(self, room_id: str, event_id: str, new_body: str) -> str:
        content = {
            "msgtype": "m.text",
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        return await self.send(room_id, "m.room.message", content)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        response = await self.client.room_redact(room_id, event_id, reason)
        if not isinstance(response, RoomRedactResponse):
            raise MatrixError(f"redacting {event_id} failed: {response}")
        return str(response.event_id)

    # -- raw HTTP for what nio does not cover --------------------------------------------

    async def _http(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.send(
            method,
            path,
            None if body is None else json.dumps(body),
            headers={
                "Authorization": f"Bearer {self.client.access_token}",
                "Content-Type": "application/json",
            },
        )
        async with response:
            data = await response.json(content_type=None)
            if response.status == 404 and method == "GET":
                return None
            if response.status >= 400:
                raise MatrixError(f"{method} {path}: {response.status} {data}")
            return data

    def _account_data_path(self, event_type: str) -> str:
        user = quote(self.user_id, safe="")
        return f"/_matrix/client/v3/user/{user}/account_data/{quote(event_type, safe='')}"

    async def account_data(self, event_type: str) -> dict[str, Any] | None:
        data: dict[str, Any] | None = await self._http("GET", self._account_data_path(event_type))
        return data

    async def set_account_data(self, event_type: str, content: dict[str, Any]) -> None:
        await self._http("PUT", self._account_data_path(event_type), content)

    async def raw_room_events(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's latest events as the server stores them (oldest first, undecrypted)."""
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?dir=b&limit={limit}"
        data = await self._http("GET", path)
        return list(reversed(data["chunk"]))
