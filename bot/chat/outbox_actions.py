"""What an outbox item does on the homeserver, per action: the Matrix calls and the event
contents. When and whether it is tried is `bot.chat.sender`'s business.

Every call carries a transaction ID derived from the item's key, so a repeat after a
crash or a cancelled send is de-duplicated by the homeserver.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from nio import AsyncClient, ErrorResponse, RoomSendResponse, UploadResponse

from bot.chat.content import transaction_id
from bot.chat.errors import check
from bot.store.outbox import OutboxItem


class MatrixActions:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def in_room(self, item: OutboxItem, room_id: str) -> str:
        """Deliver a message, file or invite into `room_id`; the event ID ("" for none)."""
        if item.action == "message":
            return await self.send(room_id, "m.room.message", item.payload["content"], item.key)
        if item.action == "file":
            return await self._file(item, room_id)
        if item.action == "invite":
            return await self._invite(item, room_id)
        raise ValueError(f"no room action {item.action}")

    async def on_original(self, item: OutboxItem, original: tuple[str, str]) -> str:
        """Edit, react to or redact the delivered event `original` (room, event ID)."""
        room_id, event_id = original
        if item.action == "edit":
            return await self.send(room_id, "m.room.message", _edit(item, event_id), item.key)
        if item.action == "reaction":
            relation = {
                "rel_type": "m.annotation",
                "event_id": event_id,
                "key": item.payload["key"],
            }
            return await self.send(room_id, "m.reaction", {"m.relates_to": relation}, item.key)
        if item.action == "redact":
            check(await self.client.room_redact(room_id, event_id, tx_id=transaction_id(item.key)))
            return ""
        raise ValueError(f"no action on an original: {item.action}")

    async def send(self, room_id: str, event_type: str, content: dict[str, Any], key: str) -> str:
        response = check(
            await self.client.room_send(
                room_id,
                event_type,
                content,
                tx_id=transaction_id(key),
                ignore_unverified_devices=True,
            )
        )
        assert isinstance(response, RoomSendResponse)
        return str(response.event_id)

    async def _invite(self, item: OutboxItem, room_id: str) -> str:
        response = await self.client.room_invite(room_id, item.payload["user_id"])
        if isinstance(response, ErrorResponse) and "already in the room" in str(response.message):
            return ""
        check(response)
        return ""

    async def _file(self, item: OutboxItem, room_id: str) -> str:
        payload = item.payload
        data = base64.b64decode(payload["data"])
        encrypted = self.client.rooms[room_id].encrypted
        upload, decryption = await self.client.upload(
            io.BytesIO(data),
            content_type=payload["mimetype"],
            filename=payload["filename"],
            encrypt=encrypted,
            filesize=len(data),
        )
        check(upload)
        assert isinstance(upload, UploadResponse)
        content: dict[str, Any] = {
            "msgtype": payload.get("msgtype", "m.file"),  # "m.image" with info w/h: a picture
            "body": payload["filename"],
            "filename": payload["filename"],
            "info": {**payload.get("info", {}), "mimetype": payload["mimetype"], "size": len(data)},
            "m.mentions": {},
        }
        if encrypted and decryption is not None:
            content["file"] = {**decryption, "url": upload.content_uri}
        else:
            content["url"] = upload.content_uri
        return await self.send(room_id, "m.room.message", content, item.key)


def _edit(item: OutboxItem, event_id: str) -> dict[str, Any]:
    new = item.payload["content"]
    content = {
        "msgtype": new["msgtype"],
        "body": "* " + new["body"],
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        "m.mentions": {},
    }
    if "formatted_body" in new:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = "* " + new["formatted_body"]
    return content
