"""Colleague search against a real Synapse: one person agrees to be findable, another
finds her by the meaning of a task written in other words, asks for an introduction, she
says 👍, and both meet in a new room with the introduction."""

from __future__ import annotations

import time

from tests.support.bot_process import dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import ask, bot_db_row

KITA_TASKS = "Betreuungsplätze in Kindertagesstätten vermitteln"


async def test_search_introduce_accept_and_meet(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    kim = await make_user("kim")
    sam = await make_user("sam")
    kim_dm = await dm_with_bot(kim, bot)
    sam_dm = await dm_with_bot(sam, bot)

    # Kim fills in her tasks and agrees to be found (nobody is findable by default).
    await ask(kim, bot, kim_dm, "!profil name Kim Kita", "Gespeichert")
    await ask(kim, bot, kim_dm, "!profil abteilung Jugendamt", "Gespeichert")
    await ask(kim, bot, kim_dm, f"!profil aufgaben {KITA_TASKS}", "Gespeichert")
    await ask(kim, bot, kim_dm, "!profil auffindbar ja", "Kolleg:innen können Sie jetzt")
    profile = await ask(kim, bot, kim_dm, "!profil", "Ihr Profil")
    assert "Auffindbar für !suche: ja" in profile.body
    # Her task is encoded by the vector job, woken by the change.
    await bot_db_row(
        bot, "SELECT 1 FROM text_vectors WHERE kind = 'profile' AND user_id = ?", (kim.user_id,)
    )

    # Sam searches in other words; the answer comes fast, the results right after.
    await ask(sam, bot, sam_dm, "!profil name Sam Suche", "Gespeichert")
    started = time.monotonic()
    await ask(sam, bot, sam_dm, "!suche Kita-Plätze vergeben", "Einen Moment")
    results = await sam.wait_for_message(
        sam_dm, lambda m: "Kolleg:innen mit Aufgaben wie" in m.body, sender=bot.user_id, timeout=30
    )
    assert time.monotonic() - started < 15
    assert "1. Kim Kita – Jugendamt" in results.body and KITA_TASKS in results.body
    assert kim.user_id not in results.body  # no Matrix ID: contact needs her consent

    # The introduction request reaches Kim; nobody is invited anywhere yet.
    await ask(sam, bot, sam_dm, "!vorstellen 1", "Ich habe Kim Kita (Nr. 1) gefragt")
    request = await kim.wait_for_message(
        kim_dm, lambda m: "möchte Sie gern kennenlernen" in m.body, sender=bot.user_id, timeout=30
    )
    assert "Sam Suche" in request.body and "Kita-Plätze vergeben" in request.body
    assert not kim.invites and not sam.invites

    # 👍: both are invited into one new room with the introduction.
    await kim.react(kim_dm, request.event_id, "👍")
    await kim.wait_for_message(
        kim_dm, lambda m: "gemeinsamen Raum" in m.body, sender=bot.user_id, timeout=30
    )
    room_id = await sam.wait_for_invite(timeout=30)
    assert await kim.wait_for_invite(timeout=30) == room_id
    assert room_id not in (kim_dm, sam_dm)
    for user in (kim, sam):
        intro = await user.wait_for_message(
            room_id, lambda m: "Darf ich vorstellen" in m.body, sender=bot.user_id, timeout=30
        )
        assert "Kim Kita" in intro.body and "Sam Suche" in intro.body
        assert "Kita-Plätze vergeben" in intro.body
    await sam.wait_for_message(
        sam_dm, lambda m: "möchte Sie auch kennenlernen" in m.body, sender=bot.user_id, timeout=30
    )
