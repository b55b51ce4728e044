"""The dispatcher without Matrix: real registry, handlers, services and store (a temporary
SQLite file), replies read back from the outbox. What a message to the bot does, minus
the homeserver.

    async with Harness.open(tmp_path) as bot:
        replies = await bot.say(STAFF, bot.dm(STAFF), "!profil")
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import MatrixRoom, RoomMessageText

from bot.chat.dispatch import Dispatcher
from bot.chat.health import Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.roles import RoleResolver
from bot.chat.rooms import DirectRooms
from bot.commands import load_all
from bot.config import Config
from bot.jobs import Jobs
from bot.services.hub import build_services
from bot.store.chat_traces import ChatTraceStore
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory
from tests.support.config import BOT, SERVER, deep_merge, make_config

STAFF = f"@sachbearbeitung:{SERVER}"
CRISIS = f"@krisenstab:{SERVER}"
ADMIN = f"@it-admin:{SERVER}"
STRANGER = "@fremd:anderswo.example"
CRISIS_ROOM = f"!krisenstab:{SERVER}"
SHARED_ROOM = f"!flur:{SERVER}"

HARNESS_SECTIONS: dict[str, Any] = {
    # The per-person limits would cut the authorisation matrix and the fuzzing short;
    # they have their own tests (tests/security/test_command_limits.py).
    "bot": {"admins": [ADMIN], "limits": {"enabled": False}},
    "crisis": {"room": CRISIS_ROOM, "staff": [CRISIS], "default_availability": "immer"},
    "coffee": {"enabled": False},
    "circles": {"enabled": False},
}


def harness_config(**sections: dict[str, Any]) -> Config:
    """The harness's config (its people in their roles), `sections` deep-merged over it."""
    return make_config(**deep_merge(HARNESS_SECTIONS, sections))


@dataclass
class FakeRoom:
    users: dict[str, object] = field(default_factory=dict)
    invited_users: dict[str, object] = field(default_factory=dict)


@dataclass
class FakeClient:
    """What the dispatcher and role resolver read from nio: our ID and room members."""

    user_id: str = BOT
    rooms: dict[str, FakeRoom] = field(default_factory=dict)


@dataclass
class Reply:
    key: str
    target: str
    body: str
    html: str | None
    mentions: dict[str, Any]
    content: dict[str, Any]


APOLOGY = "ein Fehler auf meiner Seite"  # error.internal: a handler raised


class Harness:
    def __init__(self, db: Database, cfg: Config) -> None:
        self.db = db
        self.config = cfg
        self.client = FakeClient()
        self.client.rooms[CRISIS_ROOM] = FakeRoom({CRISIS: object()})
        directory = RoomDirectory(db)
        self.direct = DirectRooms(self.client, directory)
        self.outbox = Outbox(db)
        self.messenger = ChatMessenger(
            self.outbox, ChatTraceStore(db).language, cfg.bot.default_language, lambda: None
        )
        self.services = build_services(cfg, db, self.messenger, Jobs(cfg.timezone))
        load_all()
        roles = RoleResolver(
            self.client,
            cfg.bot.admins,
            list(cfg.crisis.staff),
            cfg.crisis.room,
        )
        self.dispatcher = Dispatcher(
            self.client,
            cfg,
            db,
            self.services,
            self.messenger,
            self.direct,
            roles,
            Metrics(),
        )
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def open(cls, tmp_path: Path, cfg: Config | None = None) -> AsyncIterator[Harness]:
        db = Database(tmp_path / f"flurfunk-{next(_databases)}.db")
        await db.open()
        try:
            harness = cls(db, cfg or harness_config())
            for user in (STAFF, CRISIS, ADMIN, STRANGER):
                await harness.add_person(user)
            yield harness
        finally:
            await db.close()

    async def add_person(self, user_id: str) -> str:
        """Somebody new on the allowed homeserver, with a DM; returns the DM room."""
        await self.db.execute(
            "INSERT OR IGNORE INTO dm_rooms (user_id, room_id) VALUES (?, ?)",
            (user_id, dm(user_id)),
            name="harness.add_person",
        )
        # What `m.direct` on the homeserver says (DirectRooms.load reads it at start).
        self.direct._direct.setdefault(user_id, set()).add(dm(user_id))
        return dm(user_id)

    async def say(self, sender: str, room_id: str, body: str, *, edit: bool = False) -> list[Reply]:
        """One text event through `Dispatcher.on_event`, as the sync loop delivers it; the
        replies it queued. An exception in a handler shows as the "error on my side" reply."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if edit:
            content["m.relates_to"] = {"rel_type": "m.replace", "event_id": "$original"}
        event = RoomMessageText.from_dict(
            {
                "type": "m.room.message",
                "event_id": f"$ev{next(self._ids)}",
                "sender": sender,
                "origin_server_ts": int(time.time() * 1000),
                "room_id": room_id,
                "content": content,
            }
        )
        assert isinstance(event, RoomMessageText), event
        before = await self._outbox_keys()
        await self.dispatcher.on_event(MatrixRoom(room_id, BOT), event)
        return await self.queued_since(before)

    async def _outbox_keys(self) -> set[str]:
        # Keys, not row IDs: `!vergessen` deletes rows, and SQLite reuses their IDs.
        return {str(r[0]) for r in await self.db.fetchall("SELECT key FROM outbox")}

    async def queued_since(self, before: set[str]) -> list[Reply]:
        rows = await self.db.fetchall(
            "SELECT key, target, payload FROM outbox WHERE action = 'message' ORDER BY id"
        )
        replies = []
        for key, target, payload in rows:
            if key in before:
                continue
            content = json.loads(payload)["content"]
            replies.append(
                Reply(
                    key,
                    target,
                    content.get("body", ""),
                    content.get("formatted_body"),
                    content.get("m.mentions", {}),
                    content,
                )
            )
        return replies


_databases = itertools.count(1)


def dm(user_id: str) -> str:
    """The DM room the harness shares with each test person."""
    return "!dm-" + user_id.strip("@").replace(":", "-") + f":{SERVER}"
