"""Coffee matches against a real Synapse: six onboarded colleagues from three departments,
`!admin runde` opens one encrypted room per pair with an introduction that names what they
share; a SIGKILL in the middle of sending the round neither loses nor repeats anything;
the follow-up's 👍 (and `!getroffen nein`) are recorded, a withdrawn 👍 is taken back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import RoomMessage

from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.faults import Faults
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.homeserver import until
from tests.support.live import ask, manual_coffee
from tests.support.matrix_user import MatrixUser
from tests.support.postgres import both_backends
from tests.support.seed import COLLEAGUES, query, seed_colleagues

# COLLEAGUES are seeded; Frida onboards through the chat instead.
FRIDA = ("Ordnungsamt", "Beispieldorf", "Friedhofsverwaltung, Grabnutzungsrechte", "Friedhofswesen")
FOLLOWUP_S = 8.0


def is_intro(message: RoomMessage) -> bool:
    return "Kaffeerunde" in message.body and "darf ich vorstellen" in message.body


def bot_messages(
    user: MatrixUser, bot: BotProcess, predicate: Callable[[RoomMessage], bool]
) -> list[RoomMessage]:
    return [
        m
        for room_id in user.events
        for m in user.messages_from(bot.user_id, room_id)
        if predicate(m)
    ]


@both_backends
async def test_admin_round_introduces_everyone_once_across_a_crash(
    make_bot: MakeBot, make_user: MakeUser, tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"
    users = {name: await make_user(name) for name in [*COLLEAGUES, "frida"]}
    admin = await make_user("admin")
    bot = make_bot(
        config={
            "bot": {"admins": [admin.user_id]},
            # No scheduled round may interfere; `!admin runde` works regardless.
            "coffee": manual_coffee(FOLLOWUP_S),
            "circles": {"enabled": False},
            # One send at a time: the crash lands after the rooms exist, before any intro.
            "outbox": {"concurrency": 1},
        },
        faults=Faults(kill_before_send=marker),
    )
    await seed_colleagues(bot.store, {n: users[n].user_id for n in COLLEAGUES})
    marker.touch()  # no crash while greeting and onboarding
    await bot.start_and_wait()

    # Frida takes the real path: profile fields and opting in through the chat.
    frida = users["frida"]
    dm = await dm_with_bot(frida, bot)
    department, municipality, tasks, topic = FRIDA
    await ask(frida, bot, dm, "!profil name Frida", "Frida")
    await ask(frida, bot, dm, f"!profil abteilung {department}", department)
    await ask(frida, bot, dm, f"!profil kommune {municipality}", municipality)
    await ask(frida, bot, dm, f"!profil aufgaben {tasks}", "Grabnutzungsrechte")
    await ask(frida, bot, dm, f"!profil themen {topic}", topic)
    await frida.send_text(dm, "!kaffee an")
    await frida.wait_for_message(dm, sender=bot.user_id, timeout=30)
    opted_in = query(
        bot.store, "SELECT coffee, confirmed FROM profiles WHERE user_id = ?", (frida.user_id,)
    )
    assert opted_in == [(1, 1)]

    admin_dm = await dm_with_bot(admin, bot)
    await ask(admin, bot, admin_dm, "!admin runde probe", "Probelauf")
    assert query(bot.store, "SELECT COUNT(*) FROM coffee_rounds") == [(0,)]

    marker.unlink()
    await admin.send_text(admin_dm, "!admin runde")
    assert await bot.wait_exit(timeout=60) == -9 and marker.exists()
    # The whole round was stored before the crash; the rooms exist, no intro went out yet.
    # Deliveries are recorded in batches: a room may be made but still read `pending`;
    # after the restart it is found again, not made twice (one invite each, below).
    assert query(bot.store, "SELECT key, groups, people FROM coffee_rounds")[0][1:] == (3, 6)
    states: dict[str, list[str]] = {}
    for action, key, status in query(
        bot.store, "SELECT action, key, status FROM outbox WHERE key LIKE 'coffee:2%'"
    ):
        states.setdefault(f"{action}:{int(key.endswith(':intro'))}", []).append(status)
    assert states["message:1"] == ["pending"] * 3, states
    created = states["create_room:0"]
    assert len(created) == 3 and set(created) <= {"sent", "pending"}, states

    await bot.start_and_wait()
    await admin.wait_for_message(
        admin_dm, sender=bot.user_id, predicate=lambda m: "läuft" in m.body, timeout=60
    )
    rooms: dict[str, str] = {}
    intros: dict[str, RoomMessage] = {}
    for name, user in users.items():
        rooms[name] = await user.wait_for_invite(timeout=60)
        intros[name] = await user.wait_for_message(
            rooms[name], is_intro, sender=bot.user_id, timeout=60
        )
        assert intros[name].source["content"]["m.mentions"]["user_ids"]
    await asyncio.sleep(3)  # anything sent twice would have arrived by now

    profiles = {**COLLEAGUES, "frida": FRIDA}
    for name, user in users.items():
        assert len(bot_messages(user, bot, is_intro)) == 1, name
        assert len(user.invites) == 1, name
        body = intros[name].body
        partners = [other for other in users if other.capitalize() in body]
        assert name in partners and len(partners) == 2, body
        departments = {profiles[p][0] for p in partners}
        assert len(departments) == 2  # across departments
        # The reason names their own closest phrases (»…« ↔ »…«), one they both name, or
        # (without vectors) the words they share: each must come from their profiles.
        texts = [" ".join(profiles[p][2:]).casefold() for p in partners]
        quoted = re.findall(r"»([^«]+)«", body.split("Zum Einstieg")[0])
        if quoted:
            assert all(any(q.casefold() in t for t in texts) for q in quoted), quoted
            if len(quoted) == 1:  # "Sie nennen beide »…«"
                assert all(quoted[0].casefold() in t for t in texts), quoted
        else:
            shared = re.search(r"Sie arbeiten beide an: (.+)\.", body)
            assert shared, body
            named = [item.strip() for item in shared.group(1).split(",")]
            assert any(all(item.casefold()[:6] in t for t in texts) for item in named), named
    admin_replies = [m for m in admin.messages_from(bot.user_id, admin_dm) if "läuft" in m.body]
    assert len(admin_replies) == 1

    # The follow-up comes in each room; Anna answers 👍, Cem writes `!getroffen nein`.
    anna, cem = users["anna"], users["cem"]

    def is_followup(message: RoomMessage) -> bool:
        return "Haben Sie sich getroffen" in message.body

    question = await anna.wait_for_message(
        rooms["anna"], is_followup, sender=bot.user_id, timeout=60
    )
    reaction = await anna.react(rooms["anna"], question.event_id, "👍")

    def met(user: MatrixUser) -> list[tuple[Any, ...]]:
        return query(bot.store, "SELECT met FROM coffee_members WHERE person = ?", (user.user_id,))

    await until(lambda: met(anna) == [(1,)], 30, "Anna's 👍 to be recorded")
    await cem.wait_for_message(rooms["cem"], is_followup, sender=bot.user_id, timeout=60)
    await ask(cem, bot, rooms["cem"], "!getroffen nein", "Danke für die Rückmeldung")
    assert met(cem) == [(0,)]
    # Taking the reaction back takes the answer back.
    await anna.redact(rooms["anna"], reaction)
    await until(lambda: met(anna) == [(None,)], 30, "Anna's withdrawn 👍 to be cleared")
    for name, user in users.items():
        followups = bot_messages(user, bot, is_followup)
        assert len(followups) == 1, name
