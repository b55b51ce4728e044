"""Messages the bot cannot decrypt (review finding S-10): answered only in the sender's
DM, at most once per sender and megolm session, and the wait for the keys survives a
restart (table `pending_decryptions`, migration 0011).

The real `SyncLoop` and dispatcher, a temporary store and a fake homeserver
(`tests/support/chat_fakes.py`) that never has the keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import MegolmEvent
from nio.exceptions import EncryptionError

from tests.support.chat_fakes import Homeserver, connect, fast_config, running, sync_loop
from tests.support.chat_fakes import sync_response as sync_body
from tests.support.harness import SHARED_ROOM, STAFF, Harness, dm

UNDECRYPTABLE_DE = "nicht entschlüsseln"


@dataclass
class NoKeys(Homeserver):
    """A homeserver whose clients never share their room keys with the bot."""

    async def request_room_key(self, event: MegolmEvent, *a: Any) -> None:
        return None

    def decrypt_event(self, event: MegolmEvent) -> Any:
        raise EncryptionError("no session")


def encrypted(event_id: str, sender: str, session_id: str) -> dict[str, Any]:
    return {
        "type": "m.room.encrypted",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": int(time.time() * 1000),
        "content": {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnAc",
            "device_id": "PHONE",
            "sender_key": "curve-key",
            "session_id": session_id,
        },
    }


def megolm(event_id: str, sender: str, session_id: str) -> MegolmEvent:
    event = MegolmEvent.from_dict(encrypted(event_id, sender, session_id))
    assert isinstance(event, MegolmEvent)
    return event


async def answers(bot: Harness) -> list[tuple[str, str]]:
    rows = await bot.db.fetchall("SELECT target, payload FROM outbox ORDER BY id")
    return [(str(t), str(p)) for t, p in rows if UNDECRYPTABLE_DE in str(p)]


def timeline(room_id: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {room_id: {"timeline": {"events": list(events), "limited": False}}}


def arrives(token: str, room_id: str, event_id: str, sender: str, session: str) -> Any:
    """A sync response with an encrypted message sent just now (after the first sync)."""

    async def body() -> dict[str, Any]:
        return sync_body(token, join=timeline(room_id, encrypted(event_id, sender, session)))

    return body


async def test_only_answered_in_the_dm(tmp_path: Path) -> None:
    """S-10: an undecryptable message in a shared room gets no answer there (the room
    would hear about somebody's broken keys); in the DM it is answered."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        connect(bot).add_room(SHARED_ROOM, STAFF)
        await bot.dispatcher.on_undecryptable(SHARED_ROOM, megolm("$g1", STAFF, "S1"))
        assert await answers(bot) == []
        await bot.dispatcher.on_undecryptable(dm(STAFF), megolm("$d1", STAFF, "S2"))
        assert [target for target, _ in await answers(bot)] == [dm(STAFF)]


async def test_answered_once_per_sender_and_session(tmp_path: Path) -> None:
    """S-10: five messages of one megolm session that cannot be decrypted get one answer;
    a new session (the next time it breaks) gets one more."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        for n in range(5):
            await bot.dispatcher.on_undecryptable(dm(STAFF), megolm(f"$a{n}", STAFF, "S1"))
        assert len(await answers(bot)) == 1
        await bot.dispatcher.on_undecryptable(dm(STAFF), megolm("$b", STAFF, "S2"))
        assert len(await answers(bot)) == 2


async def test_the_wait_for_keys_survives_a_restart(tmp_path: Path) -> None:
    """S-10: the bot is restarted while it waits for the keys of a DM message: the waiting
    is kept in the store (event, room, sender, session, deadline), so the restarted bot
    still answers it once the wait is over, and only once."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.__class__ = NoKeys
        home.add_room(dm(STAFF), STAFF)
        home.script = [sync_body("s0"), arrives("s1", dm(STAFF), "$e1", STAFF, "S1")]
        before = sync_loop(bot, home)
        before.decrypt_wait_s = 3600
        async with running(before, home):
            pass
        assert await answers(bot) == []
        rows = await bot.db.fetchall(
            "SELECT event_id, room_id, sender, session_id FROM pending_decryptions"
        )
        assert [tuple(r) for r in rows] == [("$e1", dm(STAFF), STAFF, "S1")]

        # The restart: a new loop (nothing in memory), an hour later.
        await bot.db.execute(
            "UPDATE pending_decryptions SET deadline = ?",
            (time.time() - 1,),
            name="test.expire_decryptions",
        )
        home.idle.clear()
        home.script = [sync_body("s2"), sync_body("s3")]
        async with running(sync_loop(bot, home), home):
            pass
        assert [target for target, _ in await answers(bot)] == [dm(STAFF)]
        assert await bot.db.fetchall("SELECT * FROM pending_decryptions") == []


async def test_forgetting_drops_waiting_decryptions(tmp_path: Path) -> None:
    """S-10: `!vergessen` also drops the person's waiting decryptions."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        home.__class__ = NoKeys
        home.add_room(dm(STAFF), STAFF)
        home.script = [sync_body("s0"), arrives("s1", dm(STAFF), "$e1", STAFF, "S1")]
        loop = sync_loop(bot, home)
        loop.decrypt_wait_s = 3600
        async with running(loop, home):
            pass
        assert len(await bot.db.fetchall("SELECT * FROM pending_decryptions")) == 1
        assert STAFF in await bot.services.privacy.people()
        await bot.services.privacy.forget(STAFF)
        assert await bot.db.fetchall("SELECT * FROM pending_decryptions") == []
