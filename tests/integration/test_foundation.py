"""The foundation against a real Synapse: encrypted DMs, exactly-once, outages, invites."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from nio import RoomMessage, RoomMessageNotice

from bot.devserver import LocalSynapse
from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.faults import Faults
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.postgres import both_backends


def notices(user: MatrixUser, bot: BotProcess, room_id: str) -> list[RoomMessageNotice]:
    return [m for m in user.messages_from(bot.user_id, room_id) if isinstance(m, RoomMessageNotice)]


async def test_encrypted_dm_help_overview(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    alice = await make_user("alice")
    room_id = await dm_with_bot(alice, bot)
    await alice.send_text(room_id, "!hilfe")
    reply = await alice.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "Befehle" in m.body, timeout=20
    )
    assert isinstance(reply, RoomMessageNotice)
    assert "!profil" in reply.body or "!hilfe" in reply.body
    assert reply.source["content"]["m.mentions"] == {}
    raw = await alice.raw_room_events(room_id)
    messages = [e for e in raw if e["type"] in ("m.room.message", "m.room.encrypted")]
    assert messages, "no messages stored"
    assert {e["type"] for e in messages} == {"m.room.encrypted"}


async def test_english_alias_answers_in_english(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    bob = await make_user("bob")
    room_id = await dm_with_bot(bob, bot)
    await bob.send_text(room_id, "!help")
    reply = await bob.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "commands" in m.body, timeout=20
    )
    assert "!help" in reply.body


async def test_user_text_is_escaped_and_pings_nobody(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    eve = await make_user("eve")
    room_id = await dm_with_bot(eve, bot)
    await eve.send_text(room_id, "!hilfe <b>fett</b><script>alert(1)</script>@room **x**")
    reply = await eve.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "fett" in m.body, timeout=20
    )
    html = reply.source["content"]["formatted_body"]
    assert "<b>fett" not in html and "<script>" not in html
    assert "&lt;b&gt;fett&lt;/b&gt;&lt;script&gt;" in html
    assert "**x**" in html  # markdown is shown as typed, not interpreted
    assert reply.source["content"]["m.mentions"] == {}


@both_backends
async def test_command_while_down_answered_once_after_start(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot()
    carol = await make_user("carol")
    # Before the bot ever ran: this must never be answered (first start skips the backlog).
    await bot.start_and_wait()
    room_id = await dm_with_bot(carol, bot)
    bot.stop()
    await bot.wait_exit()
    await carol.send_text(room_id, "!hilfe sprache")
    await asyncio.sleep(1)
    bot.start()
    await bot.wait_healthy()
    await carol.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "sprache" in m.body.lower(), timeout=30
    )
    # A second restart must not answer it again.
    bot.stop()
    await bot.wait_exit()
    await bot.start_and_wait()
    await carol.send_text(room_id, "!hilfe hilfe")
    await carol.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "Übersicht" in m.body, timeout=30
    )
    answers = [n for n in notices(carol, bot, room_id) if "!sprache" in n.body]
    assert len(answers) == 1


async def test_commands_before_the_first_start_are_not_answered(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot()
    dave = await make_user("dave")
    # The DM exists and holds a command before the bot ever ran.
    room_id = await dave.open_dm(bot.user_id)
    await dave.send_text(room_id, "!hilfe")
    await bot.start_and_wait()
    await dave.wait_for_message(room_id, sender=bot.user_id, timeout=20)  # greeting on join
    await dave.send_text(room_id, "!hilfe sprache")
    await dave.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "!sprache" in m.body, timeout=20
    )
    await asyncio.sleep(2)
    assert not [n for n in notices(dave, bot, room_id) if "Diese Befehle" in n.body]


async def test_sigkill_between_store_and_send_sends_once(
    make_bot: MakeBot, make_user: MakeUser, tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"
    bot = make_bot(faults=Faults(kill_before_send=marker))
    frank = await make_user("frank")
    marker.touch()  # no crash while greeting
    await bot.start_and_wait()
    room_id = await dm_with_bot(frank, bot)
    marker.unlink()
    await frank.send_text(room_id, "!hilfe kaffee")
    exit_code = await bot.wait_exit(timeout=30)
    assert exit_code == -9 and marker.exists()
    with sqlite3.connect(bot.database) as db:
        pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert pending >= 1, "the reply was not stored before the crash"
    await bot.start_and_wait()
    await frank.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "kaffee" in m.body.lower(), timeout=30
    )
    await asyncio.sleep(3)
    answers = [n for n in notices(frank, bot, room_id) if "kaffee" in n.body.lower()]
    assert len(answers) == 1


async def test_homeserver_outage_recovers_with_paced_retries(
    make_bot: MakeBot, make_user: MakeUser, synapse: LocalSynapse
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    gina = await make_user("gina")
    room_id = await dm_with_bot(gina, bot)
    before = bot.metrics()
    synapse.stop()
    outage_s = 30
    await asyncio.sleep(outage_s)
    during = bot.metrics()
    synapse.start()

    def requests(metrics: dict[str, float]) -> float:
        counted = ("flurfunk_sync_errors_total", "flurfunk_homeserver_probes_total")
        return sum(v for k, v in metrics.items() if k.startswith(counted))

    # At most one request per second from the sync loop (failed syncs and the probes that
    # replace them) while the homeserver is away.
    assert 1 <= requests(during) - requests(before) <= outage_s + 1
    await bot.wait_healthy(timeout=60)
    await gina.send_text(room_id, "!hilfe profil")
    await gina.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "profil" in m.body.lower(), timeout=60
    )


async def test_invites_only_from_allowed_homeservers(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    strict = make_bot(config={"homeserver": {"allowed_homeservers": ["rathaus.example"]}})
    await strict.start_and_wait()
    open_bot = make_bot()
    await open_bot.start_and_wait()
    hana = await make_user("hana")
    refused = await hana.open_dm(strict.user_id)
    allowed = await hana.open_dm(open_bot.user_id)
    await hana.wait_for_message(allowed, sender=open_bot.user_id, timeout=20)

    async def membership(room_id: str, user_id: str) -> str | None:
        for event in reversed(await hana.raw_room_events(room_id)):
            if event["type"] == "m.room.member" and event.get("state_key") == user_id:
                return str(event["content"]["membership"])
        return None

    for _ in range(50):
        if await membership(refused, strict.user_id) == "leave":
            break
        await asyncio.sleep(0.2)
    assert await membership(refused, strict.user_id) == "leave"
    assert await membership(allowed, open_bot.user_id) == "join"


async def test_burst_of_replies_with_default_rate_limits(
    make_bot: MakeBot, synapse_default_limits: LocalSynapse, tmp_path: Path
) -> None:
    bot = make_bot(server=synapse_default_limits)
    await bot.start_and_wait()
    ivan = await MatrixUser.create(synapse_default_limits, unique_localpart("ivan"), tmp_path)
    try:
        room_id = await dm_with_bot(ivan, bot)
        for i in range(30):
            await ivan.send_text(room_id, f"!hilfe nummer{i}")
        for i in range(30):

            def answered(message: RoomMessage, i: int = i) -> bool:
                return f"nummer{i}«" in message.body

            await ivan.wait_for_message(
                room_id, sender=bot.user_id, predicate=answered, timeout=240
            )
        answers = [n for n in notices(ivan, bot, room_id) if "nummer" in n.body]
        assert len(answers) == 30
    finally:
        await ivan.close()
