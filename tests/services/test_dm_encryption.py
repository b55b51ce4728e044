"""DMs are encrypted before anything personal goes into them (review finding S-16): the
bot switches encryption on in a DM created without it, waits with personal messages and
files until the room is encrypted, and files go up encrypted (`file` in the content, no
plain `url`).

The real `SyncLoop`, `OutboxSender` and `DirectRooms`, a temporary store and a fake
homeserver (`tests/support/chat_fakes.py`) with nio's own `MatrixRoom`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    RoomGetStateEventError,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
    UploadResponse,
)

from tests.support.chat_fakes import (
    Homeserver,
    dm_invite,
    fast_config,
    running,
    sender_for,
    sync_loop,
)
from tests.support.chat_fakes import sync_response as sync_body
from tests.support.harness import STAFF, Harness, dm

NEWBIE_DM = dm("@neu:rathaus.example")
NEWBIE = "@neu:rathaus.example"
ENCRYPTION = "m.room.encryption"


@dataclass
class Unencrypted(Homeserver):
    """Rooms are created by people without encryption; the bot may switch it on."""

    put: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    uploads: list[bool] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    async def room_get_state_event(self, room_id: str, event_type: str, *a: Any) -> Any:
        room = self.rooms.get(room_id)
        if event_type == ENCRYPTION and (room is None or not room.encrypted):  # type: ignore[attr-defined]
            return RoomGetStateEventError("not found", "M_NOT_FOUND")
        return RoomGetStateEventResponse({}, event_type, "", room_id)

    async def room_put_state(
        self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = ""
    ) -> RoomPutStateResponse:
        self.put.append((room_id, event_type, content))
        self.order.append("put_state")
        return RoomPutStateResponse("$state", room_id)

    async def room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], **kw: Any
    ) -> Any:
        self.order.append("send")
        return await super().room_send(room_id, event_type, content, **kw)

    async def upload(self, data: Any, *, encrypt: bool = False, **kw: Any) -> Any:
        self.uploads.append(encrypt)
        self.order.append("upload")
        keys = {"key": {"k": "secret"}, "iv": "iv", "hashes": {"sha256": "h"}, "v": "v2"}
        return UploadResponse("mxc://rathaus.example/datei"), keys if encrypt else None


async def test_joining_an_unencrypted_dm_switches_encryption_on(tmp_path: Path) -> None:
    """S-16: a person opens a DM without encryption and invites the bot: after joining, the
    bot sends the `m.room.encryption` state event (megolm) before anything else."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = Unencrypted(rooms=bot.client.rooms)
        bot.direct.client = home
        home.script = [sync_body("s1", invite={NEWBIE_DM: dm_invite(NEWBIE)})]
        async with running(sync_loop(bot, home), home):
            pass
        assert home.joined == [NEWBIE_DM]
        assert home.put == [(NEWBIE_DM, ENCRYPTION, {"algorithm": "m.megolm.v1.aes-sha2"})]
        assert home.order[:1] == ["put_state"]


async def test_nothing_personal_goes_into_an_unencrypted_dm(tmp_path: Path) -> None:
    """S-16: an export file for a DM that is not encrypted (yet) waits; the bot switches
    encryption on; once the room is encrypted the file goes up encrypted, with `file`
    (keys) in the content and no plain `url`."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = Unencrypted(rooms=bot.client.rooms)
        bot.direct.client = home
        room = home.add_room(dm(STAFF), STAFF)
        assert not room.encrypted
        data = base64.b64encode(b'{"profil": "privat"}').decode()
        payload = {"data": data, "mimetype": "application/json", "filename": "meinedaten.json"}
        await bot.outbox.enqueue("export:1", "file", "dm", STAFF, payload)
        sender = sender_for(bot, home)
        [item] = await bot.outbox.due()
        await sender._try(item)
        assert home.uploads == [] and home.sent == []
        assert home.put == [(dm(STAFF), ENCRYPTION, {"algorithm": "m.megolm.v1.aes-sha2"})]

        room.encrypted = True  # the next sync shows the state event
        await bot.db.execute("UPDATE outbox SET next_attempt_at = 0", name="test.due_now")
        [item] = await bot.outbox.due()
        await sender._try(item)
        assert home.uploads == [True]
        [(room_id, content, _)] = home.sent
        assert room_id == dm(STAFF)
        assert "url" not in content
        assert content["file"]["url"] == "mxc://rathaus.example/datei"
        assert content["file"]["key"] == {"k": "secret"}


async def test_an_operator_may_keep_dms_as_clients_open_them(tmp_path: Path) -> None:
    """`bot.encrypted_direct_chats: false` (for clients that cannot encrypt): the bot
    neither switches encryption on nor holds messages back."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = Unencrypted(rooms=bot.client.rooms)
        bot.direct.client = home
        bot.direct.encrypted = False
        home.add_room(dm(STAFF), STAFF)
        await bot.direct.ensure_encrypted(dm(STAFF))
        await bot.outbox.enqueue("hello:1", "message", "dm", STAFF, {"content": {"body": "x"}})
        sender = sender_for(bot, home)
        [item] = await bot.outbox.due()
        await sender._try(item)
        assert home.put == []
        assert [room_id for room_id, _, _ in home.sent] == [dm(STAFF)]
