"""Which room is somebody's DM (review finding S-04): only a room whose joined and invited
members are exactly the bot and that person. A group room invited with `is_direct` is no
DM, DM-only commands there are refused, and a message to somebody who left the DM goes to
a new DM instead of into the empty room.

The real `OutboxSender`, `DirectRooms`, `SyncLoop` and dispatcher, a temporary store and a
fake homeserver (`tests/support/chat_fakes.py`) with nio's own `MatrixRoom`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nio import MatrixRoom, RoomCreateResponse

from bot.chat.sender import INVITE_WAIT_S, OutboxSender
from tests.support.chat_fakes import (
    Homeserver,
    connect,
    fast_config,
    running,
    sender_for,
    sync_loop,
)
from tests.support.chat_fakes import sync_response as sync_body
from tests.support.harness import BOT, SERVER, STAFF, Harness, dm

OTHER = f"@kollegin:{SERVER}"
DM_ONLY_DE = "nur im Direktchat"


@dataclass
class DmHomeserver(Homeserver):
    created: list[dict[str, Any]] = field(default_factory=list)

    async def room_create(self, **kwargs: Any) -> RoomCreateResponse:
        room_id = f"!neu{len(self.created)}:{SERVER}"
        self.created.append(kwargs)
        room = self.add_room(room_id)
        for user in kwargs.get("invite", []):
            room.add_member(user, None, None, invited=True)
        return RoomCreateResponse(room_id)

    async def room_get_state_event(self, room_id: str, event_type: str, *a: Any) -> Any:
        return SimpleNamespace(content={})

    def add_room(self, room_id: str, *members: str) -> MatrixRoom:
        room = super().add_room(room_id, *members)
        room.encrypted = True  # S-16 is tested in test_dm_encryption.py
        return room


async def queue_old_dm(bot: Harness, key: str, user: str) -> None:
    """A DM message queued a while ago (the sender no longer waits for invites)."""
    await bot.outbox.enqueue(key, "message", "dm", user, {"content": {"body": "Anfrage"}})
    old = time.time() - INVITE_WAIT_S - 5
    await bot.db.execute(
        "UPDATE outbox SET created_at = ? WHERE key = ?", (old, key), name="test.age_outbox"
    )


async def deliver(bot: Harness, sender: OutboxSender, tries: int = 5) -> None:
    for _ in range(tries):
        await bot.db.execute(
            "UPDATE outbox SET next_attempt_at = 0 WHERE status = 'pending'", name="test.due_now"
        )
        for item in await bot.outbox.due():
            await sender._try(item)


async def test_a_message_to_someone_who_left_the_dm_goes_to_a_new_dm(tmp_path: Path) -> None:
    """S-04 (b): the person left the DM, the bot stayed. A crisis ask is not sent into the
    empty room (and marked sent); the DM is forgotten and a new one opened for it."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = DmHomeserver(rooms=bot.client.rooms)
        bot.direct.client = home
        home.add_room(dm(STAFF))  # only the bot is left
        await queue_old_dm(bot, "crisis:A-2345:ask:" + STAFF, STAFF)
        sender = sender_for(bot, home)
        await deliver(bot, sender)
        assert [room for room, _, _ in home.sent if room == dm(STAFF)] == []
        assert len(home.created) == 1 and home.created[0]["invite"] == [STAFF]
        new_room = await bot.direct.directory.dm_room(STAFF)
        assert new_room not in (None, dm(STAFF))
        assert [room for room, _, _ in home.sent] == [new_room]
        assert await bot.outbox.status("crisis:A-2345:ask:" + STAFF) == "sent"


async def test_a_group_room_is_not_used_as_a_dm(tmp_path: Path) -> None:
    """S-04 (a): the room recorded as the person's DM has a third member (a group chat
    invited with `is_direct`): nothing personal goes there, a real DM is opened."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = DmHomeserver(rooms=bot.client.rooms)
        bot.direct.client = home
        home.add_room(dm(STAFF), STAFF, OTHER)
        await queue_old_dm(bot, "export:" + STAFF, STAFF)
        sender = sender_for(bot, home)
        await deliver(bot, sender)
        assert all(room != dm(STAFF) for room, _, _ in home.sent)
        new_room = await bot.direct.directory.dm_room(STAFF)
        assert new_room not in (None, dm(STAFF))
        assert [room for room, _, _ in home.sent] == [new_room]


async def test_an_invited_third_person_also_makes_it_a_group(tmp_path: Path) -> None:
    """S-04: invited (not yet joined) members count too."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = DmHomeserver(rooms=bot.client.rooms)
        bot.direct.client = home
        room = home.add_room(dm(STAFF), STAFF)
        room.add_member(OTHER, None, None, invited=True)
        await queue_old_dm(bot, "export:" + STAFF, STAFF)
        await deliver(bot, sender_for(bot, home))
        assert all(room_id != dm(STAFF) for room_id, _, _ in home.sent)


async def test_a_dm_only_command_in_a_group_dm_is_refused(tmp_path: Path) -> None:
    """S-04 (a): `!profil` in a room recorded as the sender's DM but shared with somebody
    else is refused like in any group room; in the real DM it works."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.add_room(dm(STAFF), STAFF, OTHER)
        replies = await bot.say(STAFF, dm(STAFF), "!profil")
        assert [DM_ONLY_DE in r.body for r in replies] == [True]
        assert bot.direct._direct.get(STAFF)  # m.direct still names it
        await bot.db.execute(
            "DELETE FROM dm_rooms WHERE user_id = ?", (STAFF,), name="test.forget_dm"
        )
        replies = await bot.say(STAFF, dm(STAFF), "!profil")
        assert [DM_ONLY_DE in r.body for r in replies] == [True]
        home.add_room(dm(STAFF), STAFF)
        replies = await bot.say(STAFF, dm(STAFF), "!profil")
        assert replies and all(DM_ONLY_DE not in r.body for r in replies)


async def test_a_direct_invite_into_a_group_is_no_dm(tmp_path: Path) -> None:
    """S-04 (a): an invite with `is_direct` whose room already has a third member is joined
    as a group room: not recorded as the inviter's DM, no DM greeting."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        inviter = f"@neu:{SERVER}"
        group = f"!gruppe:{SERVER}"
        third = {
            "type": "m.room.member",
            "state_key": OTHER,
            "sender": inviter,
            "content": {"membership": "invite"},
        }
        me = {
            "type": "m.room.member",
            "state_key": BOT,
            "sender": inviter,
            "content": {"membership": "invite", "is_direct": True},
        }
        home.script = [sync_body("s1", invite={group: {"invite_state": {"events": [third, me]}}})]
        loop = sync_loop(bot, home)
        async with running(loop, home):
            pass
        assert home.joined == [group]
        assert await bot.direct.directory.dm_room(inviter) is None
        assert await bot.outbox.due() == []
