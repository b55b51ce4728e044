"""The security rules against a real Synapse: invite spam is limited per inviter, a few
cells of the authorisation matrix, a stranger from a homeserver that is not allowed (two
federating Synapses), and a 60 KiB message.

Driven through the client-server API with access tokens (unencrypted rooms); what the bot
did is read from the homeserver.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

import pytest

from bot.devserver import LocalSynapse
from bot.i18n.render import render
from tests.support.bot_process import BotProcess
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, HttpError, q, until
from tests.support.seed import query

pytestmark = pytest.mark.integration


async def membership(server: Homeserver, room_id: str, user_id: str) -> str | None:
    for event in await server.state(room_id):
        if event["type"] == "m.room.member" and event["state_key"] == user_id:
            return str(event["content"]["membership"])
    return None


async def test_invites_from_one_person_are_limited(
    make_bot: MakeBot, homeserver: Homeserver
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    [spammer_id] = await asyncio.to_thread(homeserver.register_many, "einlader", 1)
    spammer = await homeserver.puppet(spammer_id)
    rooms = []
    for i in range(8):
        created = await homeserver.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"name": f"Raum {i}", "invite": [bot.user_id]},
            token=spammer.token,
        )
        rooms.append(created["room_id"])

    async def decided() -> bool:
        states = [await membership(homeserver, r, bot.user_id) for r in rooms]
        return "invite" not in states

    await until(decided, 60, "the bot to answer all eight invites")
    states = [await membership(homeserver, r, bot.user_id) for r in rooms]
    assert states.count("join") == 5 and states.count("leave") == 3, states


def refusal(key: str) -> str:
    return render(key, "de", prefix="!").plain


async def test_matrix_cells_against_the_homeserver(
    make_bot: MakeBot, homeserver: Homeserver
) -> None:
    admin = homeserver.admin
    [staff_id] = await asyncio.to_thread(homeserver.register_many, "sachbearbeitung", 1)
    staff = await homeserver.puppet(staff_id)
    bot = make_bot(config={"bot": {"admins": [admin.user_id]}})
    await bot.start_and_wait()
    staff_dm = await homeserver.open_dm(staff, bot.user_id)
    await homeserver.wait_for_body(staff, staff_dm, bot.user_id, lambda b: "Flurfunk" in b)
    shared = await homeserver.call(
        "POST",
        "/_matrix/client/v3/createRoom",
        {"name": "Flur", "preset": "public_chat", "invite": [bot.user_id]},
    )
    room = shared["room_id"]
    await homeserver.call("POST", f"/_matrix/client/v3/rooms/{q(room)}/join", {}, token=staff.token)
    await until(lambda: _joined(homeserver, room, bot.user_id), 30, "the bot in the shared room")

    cells: list[tuple[Any, str, str, str]] = [
        (staff, staff_dm, "!admin runde", refusal("error.admins_only")),
        (staff, staff_dm, "!werkennt Wer kennt die Tafel?", refusal("error.crisis_only")),
        (staff, room, "!profil", refusal("error.dm_only")),
        (staff, room, "!meinedaten", refusal("error.dm_only")),
        (admin, room, "!admin runde probe", "Probelauf"),
    ]
    for who, where, text, expected in cells:
        await homeserver.send_text(who, where, text)

        def answered(body: str, expected: str = expected) -> bool:
            return expected in body

        await homeserver.wait_for_body(who, where, bot.user_id, answered)
    assert query(bot.database, "SELECT COUNT(*) FROM coffee_rounds") == [(0,)]
    assert query(bot.database, "SELECT COUNT(*) FROM crisis_requests") == [(0,)]


async def _joined(server: Homeserver, room_id: str, user_id: str) -> bool:
    return await membership(server, room_id, user_id) == "join"


async def test_sixty_kib_message_is_answered(make_bot: MakeBot, homeserver: Homeserver) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    user = homeserver.admin
    dm = await homeserver.open_dm(user, bot.user_id)
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "Flurfunk" in b)
    huge = ("Verwaltung <b>modernisieren</b> \u202e @room " * 1400)[: 60 * 1024]
    await homeserver.send_text(user, dm, "!hilfe " + huge)
    [answer] = await homeserver.wait_for_body(
        user, dm, bot.user_id, lambda b: "kenne ich keinen Befehl" in b
    )
    assert len(answer.encode()) < 40_000
    await homeserver.send_text(user, dm, "!hilfe profil")
    await homeserver.wait_for_body(user, dm, bot.user_id, lambda b: "!profil" in b)
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == [(0,)]


async def test_a_stranger_from_another_homeserver(
    synapse_pair: tuple[LocalSynapse, LocalSynapse], tmp_path: Any
) -> None:
    """Allowed is only the bot's own homeserver. A member of another one, in a room the bot
    shares, gets no answer and leaves no trace; the bot refuses the stranger's invite."""
    home, remote = synapse_pair
    here = await Homeserver.create(home, "hier")
    there = await Homeserver.create(remote, "dort")
    bot = BotProcess(home, tmp_path / "bot")
    try:
        [staff_id] = await asyncio.to_thread(here.register_many, "sachbearbeitung", 1)
        [stranger_id] = await asyncio.to_thread(there.register_many, "fremd", 1)
        staff, stranger = await here.puppet(staff_id), await there.puppet(stranger_id)
        await bot.start_and_wait()
        created = await here.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"name": "Flur", "preset": "public_chat", "invite": [bot.user_id]},
            token=staff.token,
        )
        room = created["room_id"]
        await until(lambda: _joined(here, room, bot.user_id), 30, "the bot in the room")

        async def stranger_joins() -> bool:
            try:
                await there.call(
                    "POST",
                    f"/_matrix/client/v3/join/{q(room)}?server_name={q(home.server_name)}",
                    {},
                    token=stranger.token,
                )
            except HttpError:
                return False
            return True

        await until(stranger_joins, 60, "the stranger to join over federation", interval=1)
        await until(lambda: _joined(here, room, stranger_id), 60, "the join to arrive")
        for text in ("!hilfe", "!kaffee an", "!hospitation anbieten X | 03.12.2030 | 2"):
            await there.send_text(stranger, room, text)
        await asyncio.sleep(2)
        await here.send_text(staff, room, "!hilfe hilfe")
        answers = await here.wait_for_body(staff, room, bot.user_id, lambda b: True)
        await asyncio.sleep(3)
        answers = await here.bodies_from(staff, room, bot.user_id)
        assert len(answers) == 1, answers  # only the staff member's question
        for table in ("profiles", "hospitation_offers"):
            rows = query(bot.database, f"SELECT COUNT(*) FROM {table}")
            assert rows == [(0,)], table

        invited = await there.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"is_direct": True, "invite": [bot.user_id]},
            token=stranger.token,
        )

        async def refused() -> bool:
            try:
                if await membership(there, invited["room_id"], bot.user_id) == "leave":
                    return True
            except HttpError:
                pass
            # When the inviter's server does not answer the rejection in time, Synapse
            # rejects locally and the stranger's server never hears of it: then the
            # refusal shows only in the bot's homeserver, as its membership record.
            with closing(sqlite3.connect(f"file:{home.database_path}?mode=ro", uri=True)) as db:
                row = db.execute(
                    "SELECT membership FROM local_current_membership "
                    "WHERE room_id = ? AND user_id = ?",
                    (invited["room_id"], bot.user_id),
                ).fetchone()
            return row is not None and row[0] == "leave"

        await until(refused, 120, "the bot to refuse the stranger's invite", interval=2)
    finally:
        bot.stop()
        await here.close()
        await there.close()
