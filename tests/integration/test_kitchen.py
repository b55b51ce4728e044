"""Kaffeeküche against a real Synapse: scheduled prompts as thread roots, suggestions that
join the rotation, spontaneous coffee breaks, expiry, restarts and the follow-up."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

from nio import RoomMessage, RoomMessageNotice

from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import ask, bot_db_row, encrypted_room, quick_kitchen
from tests.support.matrix_user import MatrixUser

PROMPTS = ["Erste Testfrage im Raum?", "Zweite Testfrage im Raum?", "Dritte Testfrage im Raum?"]


def is_prompt(message: RoomMessage) -> bool:
    return "Kaffeeküche" in message.body


async def next_prompt(user: MatrixUser, bot: BotProcess, room_id: str) -> RoomMessage:
    return await user.wait_for_message(room_id, is_prompt, sender=bot.user_id, timeout=30)


def prompt_text(message: RoomMessage) -> str:
    match = re.search(r"Kaffeeküche:\*{0,2} (.+?)\n", message.body)
    assert match, message.body
    return match.group(1)


def kitchen_config(room_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "kitchen": {
            "rooms": [room_id],
            "prompt_interval_s": 2,
            "use_builtin_prompts": False,
            "extra_prompts_de": PROMPTS,
            **extra,
        }
    }


async def test_prompts_are_thread_roots_and_do_not_repeat_within_the_catalogue(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    bot = make_bot()
    room_id = await encrypted_room(alice, "Kaffeeküche", [bot.user_id])
    bot.config.update(kitchen_config(room_id))
    bot.write_config()
    await bot.start_and_wait()

    first = await next_prompt(alice, bot, room_id)
    assert isinstance(first, RoomMessageNotice)
    content = first.source["content"]
    assert "m.relates_to" not in content  # a plain root that threads can hang on
    assert content["m.mentions"] == {}

    # A colleague answers in the thread; the bot must not say anything there.
    answer = await alice.send(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "Bei mir war es die neue Vorlage für Bescheide.",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": first.event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": first.event_id},
            },
        },
    )
    texts = [prompt_text(first)]
    for _ in range(5):
        texts.append(prompt_text(await next_prompt(alice, bot, room_id)))
    assert sorted(texts[:3]) == sorted(PROMPTS)
    assert sorted(texts[3:]) == sorted(PROMPTS)
    assert texts[2] != texts[3]

    # A command after the thread answer proves the bot has handled the answer by now.
    await ask(alice, bot, room_id, "!hilfe sprache", "!sprache")
    path = (
        f"/_matrix/client/v1/rooms/{quote(room_id, safe='')}/relations/"
        f"{quote(first.event_id, safe='')}/m.thread"
    )
    thread = await alice._http("GET", path)
    assert [e["sender"] for e in thread["chunk"]] == [alice.user_id]
    assert thread["chunk"][0]["event_id"] == answer
    for event in await alice.raw_room_events(room_id, limit=200):
        if event["sender"] != bot.user_id:
            continue
        relates = event["content"].get("m.relates_to") or {}
        assert relates.get("event_id") != first.event_id
        assert (relates.get("m.in_reply_to") or {}).get("event_id") != answer


async def test_suggestion_accepted_by_an_admin_joins_the_rotation(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    admin = await make_user("admin")
    bob = await make_user("bob")
    bot = make_bot(config={"bot": {"admins": [admin.user_id]}})
    room_id = await encrypted_room(admin, "Kaffeeküche", [bot.user_id, bob.user_id])
    bot.config.update(kitchen_config(room_id, prompt_interval_s=3))
    bot.write_config()
    await bot.start_and_wait()

    bob_dm = await dm_with_bot(bob, bot)
    suggestion = "Was hat Sie heute <b>zum Lachen</b> gebracht?"
    reply = await ask(bob, bot, bob_dm, f"!frage vorschlagen {suggestion}", "Vorschlag")
    match = re.search(r"F(\d+)", reply.body)
    assert match, reply.body
    suggestion_id = f"F{match.group(1)}"

    admin_dm = await dm_with_bot(admin, bot)
    listing = await ask(admin, bot, admin_dm, "!admin fragen", suggestion_id)
    assert suggestion in listing.body
    assert "<b>zum" not in listing.source["content"]["formatted_body"]  # escaped
    # Staff may not decide.
    await ask(bob, bot, bob_dm, f"!admin frage annehmen {suggestion_id}", "Administration")
    await ask(admin, bot, admin_dm, f"!admin frage annehmen {suggestion_id}", "angenommen")
    told = await bob.wait_for_message(
        bob_dm, sender=bot.user_id, predicate=lambda m: "angenommen" in m.body, timeout=20
    )
    assert suggestion in told.body

    for _ in range(4):
        prompt = await next_prompt(bob, bot, room_id)
        if prompt_text(prompt) == suggestion:
            assert "<b>zum" not in prompt.source["content"]["formatted_body"]
            break
    else:
        raise AssertionError("the accepted suggestion never appeared in the room")


async def test_two_offers_meet_in_a_new_room_and_confirm_the_tie(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"kitchen": quick_kitchen(break_followup_delay_s=0)})
    await bot.start_and_wait()
    carol = await make_user("carol")
    dave = await make_user("dave")
    carol_dm = await dm_with_bot(carol, bot)
    dave_dm = await dm_with_bot(dave, bot)
    await ask(carol, bot, carol_dm, "!kaffeepause 5", "Notiert")
    await ask(dave, bot, dave_dm, "!coffeebreak", carol.user_id)

    room_id = await carol.wait_for_invite(timeout=30)
    assert await dave.wait_for_invite(timeout=30) == room_id
    assert room_id not in (carol_dm, dave_dm)

    # The introduction went into that room, naming and mentioning both.
    intro_event, payload = await bot_db_row(
        bot,
        "SELECT event_id, payload FROM outbox WHERE key LIKE 'coffeebreak:%:intro' "
        "AND status = 'sent' AND room_id = ?",
        (room_id,),
    )
    content = json.loads(payload)["content"]
    assert "Kaffeepause" in content["body"]
    assert carol.user_id in content["body"] and dave.user_id in content["body"]
    assert sorted(content["m.mentions"]["user_ids"]) == sorted([carol.user_id, dave.user_id])
    raw = await carol.raw_room_events(room_id)
    assert any(e["event_id"] == intro_event and e["type"] == "m.room.encrypted" for e in raw)

    # After the 5 "minutes": "Haben Sie gesprochen?" with 👍/👎; two 👍 make a tie.
    (question,) = await bot_db_row(
        bot,
        "SELECT event_id FROM outbox WHERE key LIKE 'coffeebreak:%:followup' "
        "AND status = 'sent' AND room_id = ?",
        (room_id,),
    )
    await bot_db_row(
        bot,
        "SELECT 1 FROM outbox WHERE key LIKE 'coffeebreak:%:followup:react:👎' AND status = 'sent'",
    )
    await dave.wait_for_room(room_id, encrypted=True)
    await carol.react(room_id, question, "👍")
    await dave.react(room_id, question, "👍🏽")
    tie = await bot_db_row(bot, "SELECT user_a, user_b FROM coffee_break_ties")
    assert tie == (carol.user_id, dave.user_id)
    await bot_db_row(
        bot, "SELECT 1 FROM outbox WHERE key LIKE 'coffeebreak:%:thanks' AND status = 'sent'"
    )

    # Both can read the introduction: the bot waits for the invites before it encrypts.
    for user in (carol, dave):
        await user.wait_for_message(
            room_id, lambda m: "Kaffeepause" in m.body, sender=bot.user_id, timeout=15
        )


async def test_lonely_offer_expires_kindly(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot(config={"kitchen": quick_kitchen()})
    await bot.start_and_wait()
    erin = await make_user("erin")
    erin_dm = await dm_with_bot(erin, bot)
    await ask(erin, bot, erin_dm, "!kaffeepause 5", "Notiert")
    told = await erin.wait_for_message(
        erin_dm, sender=bot.user_id, predicate=lambda m: "niemand" in m.body, timeout=30
    )
    assert "5 Minuten" in told.body
    await asyncio.sleep(2)
    assert len([m for m in erin.messages_from(bot.user_id, erin_dm) if "niemand" in m.body]) == 1
    # Cancelling when nothing is open says so.
    await ask(erin, bot, erin_dm, "!kaffeepause abbrechen", "kein offenes Angebot")


async def test_open_offers_survive_a_restart_and_still_expire(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"kitchen": quick_kitchen()})
    await bot.start_and_wait()
    frank = await make_user("frank")
    gina = await make_user("gina")
    frank_dm = await dm_with_bot(frank, bot)
    gina_dm = await dm_with_bot(gina, bot)

    await ask(frank, bot, frank_dm, "!kaffeepause 120", "Notiert")
    bot.kill()
    await bot.start_and_wait()
    await ask(gina, bot, gina_dm, "!kaffeepause 10", frank.user_id)
    assert await frank.wait_for_invite(timeout=30) == await gina.wait_for_invite(timeout=30)

    # An offer that runs out while the bot is down is reported after the restart.
    await ask(gina, bot, gina_dm, "!kaffeepause 5", "Notiert")  # Frank was her last partner
    bot.kill()
    await asyncio.sleep(6)
    await bot.start_and_wait()
    await gina.wait_for_message(
        gina_dm, sender=bot.user_id, predicate=lambda m: "niemand" in m.body, timeout=30
    )
