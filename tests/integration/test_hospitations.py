"""Hospitations against a real Synapse: the bot as a real process, an announcement room whose
post is edited on every change, encrypted DMs with the calendar file, the guided offer
dialog, reminders and feedback that survive a SIGKILL without being sent twice."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from nio import MemoryDownloadResponse, RoomCreateResponse, RoomEncryptedFile
from nio.crypto.attachments import decrypt_attachment

from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import ask, from_bot
from tests.support.matrix_user import MatrixUser

OFFER_ID = re.compile(r"\bH-[0-9A-Z]{4}\b")
TIMEOUT = 30.0
BERLIN = ZoneInfo("Europe/Berlin")


def today() -> date:
    return datetime.now(BERLIN).date()


def count(user: MatrixUser, bot: BotProcess, room_id: str, text: str) -> int:
    return sum(1 for m in user.messages_from(bot.user_id, room_id) if text in m.body)


async def calendar_file(user: MatrixUser, bot: BotProcess, room_id: str) -> Calendar:
    event = await user.wait_for_message(
        room_id,
        sender=bot.user_id,
        predicate=lambda m: isinstance(m, RoomEncryptedFile),
        timeout=TIMEOUT,
    )
    assert isinstance(event, RoomEncryptedFile)
    assert event.body.startswith("hospitation-H-") and event.body.endswith(".ics")
    download = await user.client.download(mxc=event.url)
    assert isinstance(download, MemoryDownloadResponse), download
    data = decrypt_attachment(download.body, event.key["k"], event.hashes["sha256"], event.iv)
    return Calendar.from_ical(data)


async def announcement_room(host: MatrixUser) -> str:
    """A plain (unencrypted) room where the administration announces hospitations."""
    response = await host.client.room_create(name="Hospitationen")
    assert isinstance(response, RoomCreateResponse), response
    await host.wait_for_room(response.room_id)
    return str(response.room_id)


async def announcement_edits(
    user: MatrixUser, bot: BotProcess, room_id: str, expected: int
) -> list[str]:
    """The `m.new_content` bodies of the bot's edits in the room, oldest first."""
    bodies: list[str] = []
    for _ in range(150):
        bodies = [
            e["content"]["m.new_content"]["body"]
            for e in await user.raw_room_events(room_id)
            if e["type"] == "m.room.message"
            and e["sender"] == bot.user_id
            and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        ]
        if len(bodies) >= expected:
            return bodies
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {len(bodies)} of {expected} edits: {bodies}")


async def test_offer_places_waiting_list_and_withdrawal(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    anna, ben, cem, dora = [await make_user(n) for n in ("anna", "ben", "cem", "dora")]
    room_id = await announcement_room(anna)
    await anna.client.room_invite(room_id, cem.user_id)
    assert await cem.wait_for_invite(timeout=TIMEOUT) == room_id
    bot = make_bot(config={"hospitation": {"announcement_rooms": [room_id]}})
    await anna.client.room_invite(room_id, bot.user_id)
    await bot.start_and_wait()
    dms = {u.user_id: await dm_with_bot(u, bot) for u in (anna, ben, dora)}
    day = today() + timedelta(days=10)

    reply = await ask(
        anna,
        bot,
        dms[anna.user_id],
        f"!hospitation anbieten Einblick in die Bauaufsicht | {day:%d.%m.%Y} 9-12 | 2"
        " | Treffpunkt Foyer",
        "ist angelegt",
    )
    match = OFFER_ID.search(reply.body)
    assert match, reply.body
    offer_id = match.group(0)
    post = await from_bot(anna, bot, room_id, offer_id)
    assert "Einblick in die Bauaufsicht" in post.body and "Freie Plätze: 2 von 2" in post.body
    assert f"!hospitation teilnehmen {offer_id}" in post.body

    # First sign-up, in the DM: confirmation and the calendar file.
    await ask(ben, bot, dms[ben.user_id], f"!hospitation teilnehmen {offer_id}", "angemeldet")
    event = (await calendar_file(ben, bot, dms[ben.user_id])).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime.combine(day, datetime.min.time(), BERLIN).replace(
        hour=9
    )
    assert str(event["summary"]) == "Einblick in die Bauaufsicht"
    await from_bot(anna, bot, dms[anna.user_id], "Neue Anmeldung")

    # Second sign-up from the announcement room itself: the bot opens a DM for the file.
    await ask(cem, bot, room_id, f"!hospitation join {offer_id}", "Signed up")
    cem_dm = await cem.wait_for_invite(timeout=TIMEOUT)
    await cem.wait_for_room(cem_dm, encrypted=True, timeout=TIMEOUT)
    # DMs speak the person's language (German by default), whatever the room command was.
    await from_bot(cem, bot, cem_dm, "Kalenderdatei")
    await calendar_file(cem, bot, cem_dm)

    # Third: fully booked, waiting list.
    await ask(dora, bot, dms[dora.user_id], f"!hospitation teilnehmen {offer_id}", "Platz 1")
    await from_bot(anna, bot, dms[anna.user_id], "Warteliste (Platz 1)")

    # Ben cancels: Dora moves up and gets her calendar file; the host hears both.
    await ask(ben, bot, dms[ben.user_id], f"!hospitation absagen {offer_id}", "abgemeldet")
    await from_bot(dora, bot, dms[dora.user_id], "Gute Nachricht")
    await calendar_file(dora, bot, dms[dora.user_id])
    note = await from_bot(anna, bot, dms[anna.user_id], "Absage")
    assert ben.user_id in note.body and dora.user_id in note.body

    bodies = await announcement_edits(anna, bot, room_id, 4)
    assert "Freie Plätze: 1 von 2" in bodies[0]
    assert "Ausgebucht" in bodies[1] and "Warteliste: 0" in bodies[1]
    assert "Ausgebucht" in bodies[2] and "Warteliste: 1" in bodies[2]
    assert "Ausgebucht" in bodies[3] and "Warteliste: 0" in bodies[3]

    # The host cannot join; others cannot withdraw; the host withdraws and all are told.
    await ask(anna, bot, dms[anna.user_id], f"!hospitation teilnehmen {offer_id}", "eigenes")
    await ask(
        dora, bot, dms[dora.user_id], f"!hospitation zurückziehen {offer_id}", "Zurückziehen kann"
    )
    done = await ask(
        anna, bot, dms[anna.user_id], f"!hospitation zurückziehen {offer_id}", "ist abgesagt"
    )
    assert "Benachrichtigt: 2" in done.body
    await from_bot(dora, bot, dms[dora.user_id], "findet leider nicht statt")
    await from_bot(cem, bot, cem_dm, "findet leider nicht statt")
    bodies = await announcement_edits(anna, bot, room_id, 5)
    assert bodies[4].startswith(f"Abgesagt: Hospitation {offer_id}")
    await ask(ben, bot, dms[ben.user_id], "!hospitationen", "keine offenen")
    assert count(dora, bot, dms[dora.user_id], "Gute Nachricht") == 1


async def test_guided_offer_reminders_and_feedback_survive_a_kill(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    # Reminders and the feedback question are due on the day itself from midnight on, so
    # they are due at once; the first run checks only hourly, so nothing fires too early.
    settings = {
        "reminder_days_before": 0,
        "reminder_time": "00:00",
        "feedback_days_after": 0,
        "feedback_time": "00:00",
        "check_interval_s": 3600,
    }
    bot = make_bot(config={"hospitation": settings})
    await bot.start_and_wait()
    anna, ben, cem = [await make_user(n) for n in ("anna", "ben", "cem")]
    dms = {u.user_id: await dm_with_bot(u, bot) for u in (anna, ben, cem)}
    dm = dms[anna.user_id]

    await ask(anna, bot, dm, "!hospitation anbieten", "Schritt 1 von 4")
    await ask(anna, bot, dm, "Einblick in die Stadtkasse", "Schritt 2 von 4")
    refused = await ask(anna, bot, dm, "01.01.2020", "Vergangenheit")
    assert "Schritt 2 von 4" in refused.body  # asks again, with the right form
    await ask(anna, bot, dm, f"{today():%d.%m.%Y}", "Schritt 3 von 4")
    await ask(anna, bot, dm, "null", "Zahl")
    await ask(anna, bot, dm, "2", "Schritt 4 von 4")
    reply = await ask(anna, bot, dm, "-", "ist angelegt")
    match = OFFER_ID.search(reply.body)
    assert match, reply.body
    offer_id = match.group(0)
    for person in (ben, cem):
        await ask(
            person, bot, dms[person.user_id], f"!hospitation teilnehmen {offer_id}", "angemeldet"
        )

    bot.kill()
    bot.config["hospitation"]["check_interval_s"] = 0.5
    bot.write_config()
    await bot.start_and_wait()
    host_reminder = await from_bot(anna, bot, dm, "Erinnerung")
    assert ben.user_id in host_reminder.body and cem.user_id in host_reminder.body
    for person in (ben, cem):
        await from_bot(person, bot, dms[person.user_id], "Erinnerung")
    question = await from_bot(ben, bot, dms[ben.user_id], "Waren Sie bei der Hospitation")
    await from_bot(anna, bot, dm, "stattgefunden?")

    # The answer by reaction becomes a tie for the statistics.
    await ben.react(dms[ben.user_id], question.event_id, "👍")
    await from_bot(ben, bot, dms[ben.user_id], "Vermerkt")

    bot.kill()
    await bot.start_and_wait()
    await asyncio.sleep(3)  # several runs of the job
    for person in (anna, ben, cem):
        assert count(person, bot, dms[person.user_id], "Erinnerung") == 1
        assert (
            count(person, bot, dms[person.user_id], "stattgefunden?")
            + count(person, bot, dms[person.user_id], "Waren Sie bei")
            == 1
        )
    with sqlite3.connect(bot.database) as db:
        ties = db.execute("SELECT offer_id, host, participant FROM hospitation_ties").fetchall()
    assert ties == [(offer_id, anna.user_id, ben.user_id)]


async def test_find_details_wishes_and_help(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot(config={"hospitation": {"check_interval_s": 0.5}})
    await bot.start_and_wait()
    anna, ben = [await make_user(n) for n in ("anna", "ben")]
    dms = {u.user_id: await dm_with_bot(u, bot) for u in (anna, ben)}
    a, b = dms[anna.user_id], dms[ben.user_id]

    await ask(ben, bot, b, "!hospitation wunsch Bauaufsicht", "Notiert")
    await ask(ben, bot, b, "!hospitation wunsch", "1. Bauaufsicht")
    refused = await ask(
        anna, bot, a, "!hospitation anbieten Einblick | 01.01.2020 | 2", "Vergangenheit"
    )
    assert "So geht es: !hospitation anbieten <Titel> | <Datum> | <Plätze>" in refused.body
    await ask(anna, bot, a, "!hospitation anbieten Einblick in die Kasse", "Titel, Datum")
    day = today() + timedelta(days=10)
    reply = await ask(
        anna,
        bot,
        a,
        f"!hospitation anbieten Einblick in die Bauaufsicht | {day.isoformat()} | 2",
        "ist angelegt",
    )
    match = OFFER_ID.search(reply.body)
    assert match, reply.body
    offer_id = match.group(0)
    await from_bot(ben, bot, b, "Passend zu Ihrem Wunsch »Bauaufsicht«")

    found = await ask(ben, bot, b, "!hospitationen bauaufsicht", "Offene Hospitationen")
    assert offer_id in found.body and "2 von 2 Plätzen frei" in found.body
    await ask(ben, bot, b, "!hospitationen Standesamt", "finde ich keine")
    details = await ask(ben, bot, b, f"!hospitation {offer_id.lower()}", "Freie Plätze")
    assert offer_id in details.body
    await ask(ben, bot, b, f"!hospitation teilnehmen {offer_id}", "angemeldet")
    await ask(ben, bot, b, "!hospitation", "Ihre Anmeldungen")
    mine = await ask(anna, bot, a, "!hospitation", "Ihre Angebote")
    assert "belegt 1 von 2" in mine.body
    host_view = await ask(anna, bot, a, f"!hospitation {offer_id}", "Angemeldet:")
    assert ben.user_id in host_view.body
    await ask(ben, bot, b, f"!hospitation feedback {offer_id} ja", "nicht um eine")
    await ask(ben, bot, b, "!hospitation quatsch", "kenne ich bei")
    await ask(ben, bot, b, "!hilfe hospitation", "!hospitation zurückziehen <ID>")
    english = await ask(ben, bot, b, "!hospitations", "Open hospitations")
    assert offer_id in english.body
