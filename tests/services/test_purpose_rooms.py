"""Purpose rooms (coffee pairs, circles, coffee breaks, crisis connections) keep nobody's
Matrix ID longer than the room needs it: export, `!vergessen`, the sender dropping the
invitees once the room is ready, and retention (review finding S-02)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nio import RoomCreateResponse, RoomSendResponse

from bot.chat.sender import OutboxSender
from bot.services.coffee_break import REACTIONS
from bot.services.personal_data import PurposeRoomData
from bot.store.db import Database
from bot.store.rooms import RoomDirectory
from tests.support.chat_fakes import sender_for
from tests.support.harness import ADMIN, BOT, SERVER, STAFF, FakeClient, FakeRoom, Harness, dm

DAY_S = 86_400.0


@dataclass
class Homeserver(FakeClient):
    """The harness's fake nio client plus what OutboxSender calls to create rooms and send;
    invitees show up in a room's member list only when `join` says so."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def room_create(self, **kwargs: Any) -> RoomCreateResponse:
        room_id = f"!purpose{len(self.rooms)}:{SERVER}"
        self.rooms[room_id] = FakeRoom({BOT: object()})
        return RoomCreateResponse(room_id)

    async def room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], **kwargs: Any
    ) -> RoomSendResponse:
        self.sent.append((room_id, content))
        return RoomSendResponse(f"$sent{len(self.sent)}", room_id)

    def join(self, room_id: str, *users: str) -> None:
        for user in users:
            self.rooms[room_id].users[user] = object()


async def deliver_rooms(bot: Harness, sender: OutboxSender) -> None:
    """One attempt at every pending item for a purpose room, waiting ones included."""
    await bot.db.execute(
        "UPDATE outbox SET next_attempt_at = 0 WHERE status = 'pending'", name="test.due_now"
    )
    for item in await bot.outbox.due():
        if item.target_kind == "roomkey":
            await sender._try(item)


async def purpose_rows(db: Database) -> list[tuple[Any, ...]]:
    rows = await db.fetchall(
        "SELECT key, room_id, invitees, created_at FROM purpose_rooms ORDER BY key"
    )
    return [tuple(r) for r in rows]


async def invitees(db: Database, key: str) -> list[str]:
    return await RoomDirectory(db).purpose_invitees(key)


async def coffee_break(bot: Harness) -> None:
    """ADMIN and STAFF both ask for a spontaneous coffee break: break 1, room coffeebreak:1."""
    await bot.say(ADMIN, dm(ADMIN), "!kaffeepause")
    await bot.say(STAFF, dm(STAFF), "!kaffeepause")


async def exported(bot: Harness, user_id: str) -> dict[str, Any]:
    """The file `!meinedaten` queues, decoded."""
    await bot.say(user_id, dm(user_id), "!meinedaten")
    row = await bot.db.fetchone(
        "SELECT payload FROM outbox WHERE action = 'file' AND target = ? ORDER BY id DESC",
        (dm(user_id),),
    )
    assert row is not None
    data: dict[str, Any] = json.loads(base64.b64decode(json.loads(row[0])["data"]))
    return data


async def test_forget_removes_the_person_from_purpose_rooms(tmp_path: Path) -> None:
    """S-02, appendix B: after a coffee break whose room was created, `!meinedaten` lists
    the room and `!vergessen ja` leaves the person's Matrix ID in no column of
    purpose_rooms; the other person's entry stays."""
    async with Harness.open(tmp_path) as bot:
        await coffee_break(bot)
        home = Homeserver()
        await deliver_rooms(bot, sender_for(bot, home))  # created; nobody has joined yet
        [(key, room_id, _, _)] = await purpose_rows(bot.db)
        assert key == "coffeebreak:1" and room_id in home.rooms
        assert await invitees(bot.db, key) == [ADMIN, STAFF]

        rooms = (await exported(bot, STAFF))["sections"]["purpose_rooms"]
        assert [(r["key"], r["room_id"]) for r in rooms] == [("coffeebreak:1", room_id)]
        assert datetime.fromisoformat(rooms[0]["created_at"]).date() == datetime.now(UTC).date()

        await bot.say(STAFF, dm(STAFF), "!vergessen ja")
        rows = await purpose_rows(bot.db)
        assert rows and STAFF not in repr(rows) and "sachbearbeitung" not in repr(rows)
        assert await invitees(bot.db, key) == [ADMIN]
        assert (await exported(bot, STAFF))["sections"]["purpose_rooms"] == []
        assert [r["key"] for r in (await exported(bot, ADMIN))["sections"]["purpose_rooms"]] == [
            "coffeebreak:1"
        ]


async def test_invitees_are_dropped_once_the_room_is_ready(tmp_path: Path) -> None:
    """S-02: the invitees are kept only until everyone is in the room's member list (the
    first send into the room); later posts into the room still go out at once."""
    async with Harness.open(tmp_path) as bot:
        await coffee_break(bot)
        home = Homeserver()
        sender = sender_for(bot, home)
        await deliver_rooms(bot, sender)
        room_id = await bot.direct.directory.purpose_room("coffeebreak:1")
        assert room_id is not None and home.sent == []  # the intro waits for the invitees
        assert await invitees(bot.db, "coffeebreak:1") == [ADMIN, STAFF]

        home.join(room_id, ADMIN)
        await deliver_rooms(bot, sender)
        assert home.sent == [] and await invitees(bot.db, "coffeebreak:1") == [ADMIN, STAFF]

        home.join(room_id, STAFF)
        await deliver_rooms(bot, sender)
        assert [r for r, _ in home.sent] == [room_id]  # the intro
        assert await invitees(bot.db, "coffeebreak:1") == []
        assert await bot.direct.directory.purpose_room("coffeebreak:1") == room_id

        await bot.services.coffee_breaks.send_followups(time.time() + DAY_S)
        await deliver_rooms(bot, sender)
        # The follow-up with its reaction buttons, at once.
        assert [r for r, _ in home.sent] == [room_id] * (2 + len(REACTIONS))


async def test_forgetting_matches_the_whole_matrix_id(tmp_path: Path) -> None:
    """S-02: export and `!vergessen` match an invitee exactly: `@al:example.org` is not a
    prefix of `@al:example.org.uk`, and `_` or `%` are no wildcards."""
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    try:
        rooms = RoomDirectory(db)
        await rooms.set_purpose_room("crisis:A-1", "!a:x", ["@al:example.org.uk", "@axb:x"])
        await rooms.set_purpose_room("crisis:A-2", "!b:x", ["@al:example.org", "@a%b:x"])
        await rooms.set_purpose_room("crisis:A-3", "!c:x", ["@a_b:x", "@al:example.org.uk"])
        owner = PurposeRoomData(db)

        assert [r["key"] for r in await owner.export("@al:example.org")] == ["crisis:A-2"]
        assert [r["key"] for r in await owner.export("@a_b:x")] == ["crisis:A-3"]
        assert await owner.export("@al:example") == []

        await owner.forget("@al:example.org")
        await owner.forget("@a_b:x")
        assert await invitees(db, "crisis:A-1") == ["@al:example.org.uk", "@axb:x"]
        assert await invitees(db, "crisis:A-2") == ["@a%b:x"]
        assert await invitees(db, "crisis:A-3") == ["@al:example.org.uk"]
    finally:
        await db.close()


async def test_retention_prunes_purpose_rooms_of_deleted_features(tmp_path: Path) -> None:
    """S-02: the daily retention drops a purpose room once the coffee break, coffee group
    or crisis request it was made for is gone (each pruned after its own retention), but
    not while the sender still has something to deliver into it."""
    async with Harness.open(tmp_path) as bot:
        await coffee_break(bot)
        home = Homeserver()
        sender = sender_for(bot, home)
        await deliver_rooms(bot, sender)
        room_id = await bot.direct.directory.purpose_room("coffeebreak:1")
        assert room_id is not None
        home.join(room_id, ADMIN, STAFF)
        await deliver_rooms(bot, sender)

        rooms = RoomDirectory(bot.db)
        for key in ("coffee:2026-W01/1", "circle:2026-01/2", "crisis:A-GONE", "coffeebreak:7"):
            await rooms.set_purpose_room(key, f"!{key}:x", [ADMIN, STAFF])
        await rooms.start_creation("coffeebreak:8", [ADMIN])  # its room is being created
        await bot.outbox.enqueue("coffeebreak:8:intro", "message", "roomkey", "coffeebreak:8", {})
        await rooms.set_purpose_room("elsewhere:1", "!e:x", [])  # a prefix nobody owns
        await bot.db.execute(
            "INSERT INTO crisis_requests (id, requester, text, urgent, drill, state, active, "
            "created_at) VALUES ('A-LIVE', ?, 'Hilfe', 1, 0, '{}', 1, 0)",
            (STAFF,),
            name="test.seed_crisis",
        )
        await rooms.set_purpose_room("crisis:A-LIVE", "!live:x", [STAFF])

        await bot.services.retention.run()
        assert [r[0] for r in await purpose_rows(bot.db)] == [
            "coffeebreak:1",
            "coffeebreak:8",
            "crisis:A-LIVE",
            "elsewhere:1",
        ]

        # The break itself reaches its retention: its room goes with the next run.
        keep_s = bot.config.kitchen.keep_history_days * DAY_S
        assert await bot.services.coffee_breaks.prune(time.time() + keep_s + DAY_S) == 1
        await bot.services.retention.run()
        keys = [r[0] for r in await purpose_rows(bot.db)]
        assert keys == ["coffeebreak:8", "crisis:A-LIVE", "elsewhere:1"]
