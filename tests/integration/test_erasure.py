# ruff: noqa: ASYNC109
"""»Nothing leaks, nothing lingers«: one person uses every feature against the real Synapse
— profile, findability, a bridge contact, availability, a weekly coffee round, a spontaneous
coffee break, a hospitation as host and one as participant, a standing hospitation wish, a
crisis request she is asked about and answers with a hint, a kitchen prompt suggestion, her
own search with a pending introduction request, and being found by someone else's search —
then `!vergessen` + `ja`. After a clean stop the raw bytes of the store (`flurfunk.db`,
`-wal`, `-shm`; before and after a WAL checkpoint) hold neither her Matrix ID, nor her name,
nor any of her free text, in UTF-8 or UTF-16-LE; nobody else can read those files; the bot's
`m.direct` no longer lists her; and a restart (jobs catching up, the coffee follow-up due
after her deletion) brings nothing back."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import (
    ask,
    bot_db_row,
    encrypted_room,
    from_bot,
    manual_coffee,
    quick_crisis,
    quick_kitchen,
    read_only,
)
from tests.support.matrix_user import MatrixUser

TIMEOUT = 30.0
REQUEST_ID = re.compile(r"\bA-[0-9A-Z]{4}\b")
OFFER_ID = re.compile(r"\bH-[0-9A-Z]{4}\b")
SUGGESTION_ID = re.compile(r"\bF\d+\b")

# Erika's words: each one distinctive, so finding it in the store can only mean her data.
NAME = "Erika Quendelmoos"
SURNAME = "Quendelmoos"
TASKS = "Ich pflege das Zisternenkataster und plane Löschwasserentnahmestellen"
TASK_WORD = "Zisternenkataster"
ORGANISATION = "Spedition Quappenhof"
ORG_WORD = "Quappenhof"
HINT_WORD = "Kreuzmoorweg"
OFFER_TITLE = "Einblick in die Quellfassung"
OFFER_PLACE = "Pumpenhaus Wiesengrundel"
SUGGESTION = "Welche Beerensorte wächst im Holunderwinkelgarten am besten?"
SUGGESTION_WORD = "Holunderwinkelgarten"
SEARCH_WORD = "Hydrantenwartungsplan"
WISH = "Quellwasserschutzgebiete"
FOLLOWUP_S = 25.0


def first_match(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match, text
    return match.group(0)


async def until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def store_files(bot: BotProcess) -> dict[str, bytes]:
    """The raw bytes of the SQLite store and its write-ahead log / shared memory."""
    files = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{bot.database}{suffix}")
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def readable_by_others(bot: BotProcess) -> list[str]:
    names = store_files(bot)
    return [n for n in names if bot.database.with_name(n).stat().st_mode & 0o077]


def checkpoint_left_wal(bot: BotProcess) -> bool:
    """If the stopped bot left a write-ahead log, fold it into the database file once."""
    wal = Path(f"{bot.database}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(bot.database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True


def leftovers(files: dict[str, bytes], needles: list[str]) -> list[str]:
    found = []
    for name, raw in files.items():
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le"):
                if needle.encode(encoding) in raw:
                    found.append(f"{needle!r} ({encoding}) in {name}")
    return found


async def bot_direct(user: MatrixUser, bot: BotProcess) -> dict[str, Any]:
    """The bot's `m.direct` account data, read with the bot's own access token."""
    with closing(read_only(bot)) as db:
        (token,) = db.execute("SELECT value FROM bot_state WHERE key = 'access_token'").fetchone()
    path = (
        f"/_matrix/client/v3/user/{quote(bot.user_id, safe='')}/account_data/"
        f"{quote('m.direct', safe='')}"
    )
    response = await user.client.send("GET", path, headers={"Authorization": f"Bearer {token}"})
    async with response:
        data: dict[str, Any] = await response.json(content_type=None)
        assert response.status == 200, data
    return data


async def test_forgotten_person_leaves_nothing_in_the_store_or_m_direct(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    erika = await make_user("erika", displayname=NAME)
    sam, tom, admin, chief = [await make_user(n) for n in ("sam", "tom", "admin", "chief")]
    crisis_room = await encrypted_room(chief, "Krisenstab", [])
    bot = make_bot(
        config={
            "bot": {"admins": [admin.user_id], "decrypt_wait_s": 5},
            "crisis": quick_crisis(
                room=crisis_room,
                staff=[chief.user_id],
                tier1_size=1,
                tier2_size=1,
                tier1_timeout_s=600,
                tier2_timeout_s=600,
            ),
            # No scheduled round; `!admin runde` runs one (the coffee job picks it up).
            # The round's follow-up falls due after she is forgotten (see the restart).
            "coffee": manual_coffee(FOLLOWUP_S),
            "kitchen": quick_kitchen(break_followup_delay_s=0),
        }
    )
    await chief.client.room_invite(crisis_room, bot.user_id)
    await bot.start_and_wait()

    def bot_in_crisis_room() -> bool | None:
        room = chief.client.rooms.get(crisis_room)
        return True if room is not None and bot.user_id in room.users else None

    await chief._wait_until(bot_in_crisis_room, TIMEOUT, "the bot in the crisis room")
    dm = dict(
        zip(
            ("erika", "sam", "tom", "admin", "chief"),
            await asyncio.gather(*(dm_with_bot(u, bot) for u in (erika, sam, tom, admin, chief))),
            strict=True,
        )
    )

    # -- Erika's profile and contact details ----------------------------------------------
    await ask(erika, bot, dm["erika"], f"!profil name {NAME}", "Gespeichert")
    await ask(erika, bot, dm["erika"], "!profil abteilung Feuerwehramt", "Gespeichert")
    await ask(erika, bot, dm["erika"], "!profil kommune Musterstadt", "Gespeichert")
    await ask(erika, bot, dm["erika"], f"!profil aufgaben {TASKS}", "Gespeichert")
    await ask(erika, bot, dm["erika"], "!profil themen Löschwasser, Zisternen", "Gespeichert")
    await ask(erika, bot, dm["erika"], "!profil auffindbar ja", "finden")
    await ask(erika, bot, dm["erika"], "!kaffee an", "dabei")
    await ask(erika, bot, dm["erika"], f"!kontakt {ORGANISATION} | Logistik", "Eingetragen")
    await ask(erika, bot, dm["erika"], "!erreichbar immer", "Gespeichert")
    # Sam: her counterpart in search, coffee round and hospitations.
    await ask(sam, bot, dm["sam"], "!profil name Sam Suchmann", "Gespeichert")
    await ask(sam, bot, dm["sam"], "!profil abteilung Bauamt", "Gespeichert")
    await ask(sam, bot, dm["sam"], "!profil aufgaben Hydranten prüfen, Löschwasser", "Gespeichert")
    await ask(sam, bot, dm["sam"], "!profil themen Löschwasser", "Gespeichert")
    await ask(sam, bot, dm["sam"], "!profil auffindbar ja", "finden")
    await ask(sam, bot, dm["sam"], "!kaffee an", "dabei")
    for user in (erika, sam):
        await bot_db_row(
            bot,
            "SELECT 1 FROM text_vectors WHERE kind = 'profile' AND user_id = ?",
            (user.user_id,),
        )

    # -- search: Sam finds her, she searches herself ---------------------------------------
    await ask(sam, bot, dm["sam"], "!suche Zisternen und Löschwasser", "Einen Moment")
    found = await from_bot(sam, bot, dm["sam"], "Kolleg:innen mit Aufgaben wie")
    assert NAME in found.body, found.body
    await ask(erika, bot, dm["erika"], f"!suche {SEARCH_WORD} Hydranten", "Einen Moment")
    mine = await from_bot(erika, bot, dm["erika"], "Kolleg:innen mit Aufgaben wie")
    assert "Sam Suchmann" in mine.body, mine.body
    # She asks for an introduction; Sam is asked (with her name and search text), and
    # has not answered yet when she is forgotten.
    await ask(erika, bot, dm["erika"], "!vorstellen 1", "gefragt")
    request = await from_bot(sam, bot, dm["sam"], "möchte Sie gern kennenlernen")
    assert NAME in request.body and SEARCH_WORD in request.body, request.body

    # -- weekly coffee round: Erika and Sam are introduced in a new room -------------------
    await ask(admin, bot, dm["admin"], "!admin runde", "läuft")
    coffee_room = await erika.wait_for_invite(timeout=TIMEOUT)
    assert await sam.wait_for_invite(timeout=TIMEOUT) == coffee_room
    await from_bot(erika, bot, coffee_room, "darf ich vorstellen")

    # -- spontaneous coffee break with Tom; both say 👍 afterwards --------------------------
    await ask(erika, bot, dm["erika"], "!kaffeepause 5", "Notiert")
    await ask(tom, bot, dm["tom"], "!kaffeepause", erika.user_id)
    break_room = await erika.wait_for_invite(timeout=TIMEOUT)
    assert await tom.wait_for_invite(timeout=TIMEOUT) == break_room
    (question,) = await bot_db_row(
        bot,
        "SELECT event_id FROM outbox WHERE key LIKE 'coffeebreak:%:followup' "
        "AND status = 'sent' AND room_id = ?",
        (break_room,),
    )
    await tom.wait_for_room(break_room, encrypted=True)
    await erika.react(break_room, question, "👍")
    await tom.react(break_room, question, "👍")
    await bot_db_row(bot, "SELECT 1 FROM coffee_break_ties WHERE user_a = ?", (erika.user_id,))

    # -- hospitations: Erika hosts one (Sam joins), joins Sam's ----------------------------
    day = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=10)
    offered = await ask(
        erika,
        bot,
        dm["erika"],
        f"!hospitation anbieten {OFFER_TITLE} | {day:%d.%m.%Y} 9-12 | 2 | Treffpunkt {OFFER_PLACE}",
        "ist angelegt",
    )
    her_offer = first_match(OFFER_ID, offered.body)
    await ask(erika, bot, dm["erika"], f"!hospitation wunsch {WISH}", "Notiert")
    await ask(sam, bot, dm["sam"], f"!hospitation teilnehmen {her_offer}", "angemeldet")
    await from_bot(erika, bot, dm["erika"], "Neue Anmeldung")
    offered = await ask(
        sam,
        bot,
        dm["sam"],
        f"!hospitation anbieten Einblick in die Hydrantenwartung | {day:%d.%m.%Y} 13-15 | 2",
        "ist angelegt",
    )
    sams_offer = first_match(OFFER_ID, offered.body)
    await ask(erika, bot, dm["erika"], f"!hospitation teilnehmen {sams_offer}", "angemeldet")
    told = await from_bot(sam, bot, dm["sam"], "Neue Anmeldung")
    assert NAME in told.body or erika.user_id in told.body, told.body

    # -- crisis: she is asked as a bridge and declines with a hint -------------------------
    await chief.send_text(crisis_room, "!werkennt Wer kennt eine Spedition? Kühltransporte")
    status = await from_bot(chief, bot, crisis_room, "Kühltransporte")
    request_id = first_match(REQUEST_ID, status.body)
    await from_bot(erika, bot, dm["erika"], request_id)
    await ask(
        erika,
        bot,
        dm["erika"],
        f"!nein {request_id} Fragen Sie im Depot am {HINT_WORD} nach",
        "weitergeleitet",
    )
    await from_bot(chief, bot, dm["chief"], HINT_WORD)

    # -- a kitchen prompt suggestion ---------------------------------------------------------
    suggested = await ask(erika, bot, dm["erika"], f"!frage vorschlagen {SUGGESTION}", "Vorschlag")
    first_match(SUGGESTION_ID, suggested.body)

    localpart = erika.user_id[1:].split(":")[0]
    needles = [
        erika.user_id,
        localpart,
        NAME,
        SURNAME,
        TASK_WORD,
        ORGANISATION,
        ORG_WORD,
        HINT_WORD,
        OFFER_TITLE,
        OFFER_PLACE,
        SUGGESTION_WORD,
        SEARCH_WORD,
        WISH,
    ]
    # The scan can see her: every needle is in the store before she is forgotten.
    before = " ".join(leftovers(store_files(bot), needles))
    assert [n for n in needles if repr(n) not in before] == []
    # Nobody else on the machine may read the store, its WAL included.
    assert readable_by_others(bot) == []
    direct = await bot_direct(erika, bot)
    assert dm["erika"] in direct.get(erika.user_id, []), direct

    # -- !vergessen ----------------------------------------------------------------------------
    await ask(erika, bot, dm["erika"], "!vergessen", "wirklich")
    await ask(erika, bot, dm["erika"], "ja", "Erledigt")
    # The others' history stays consistent: Sam hears that his guest cancelled, and that
    # her offer was withdrawn, without her name.
    withdrawn = await from_bot(sam, bot, dm["sam"], "zurückgezogen")
    assert her_offer in withdrawn.body
    assert NAME not in withdrawn.body and erika.user_id not in withdrawn.body

    async def off_m_direct() -> bool:
        return erika.user_id not in await bot_direct(sam, bot)

    await until(off_m_direct, "m.direct to drop her")
    # Let the post-deletion checkpoint run, then stop the bot cleanly.
    await asyncio.sleep(2)
    bot.stop()
    assert await bot.wait_exit() == 0, bot.log_tail()

    files = store_files(bot)
    assert leftovers(files, needles) == []
    if checkpoint_left_wal(bot):
        assert leftovers(store_files(bot), needles) == []
    # The others are still there: the scan would see them.
    assert leftovers(store_files(bot), [sam.user_id]) != []

    # Nothing comes back with a restart: the jobs catch up (the coffee round's follow-up,
    # vectors, breaks, hospitations), the bot rereads `m.direct`.
    await bot.start_and_wait()
    followup = await sam.wait_for_message(
        coffee_room,
        lambda m: "Haben Sie sich getroffen" in m.body,
        sender=bot.user_id,
        timeout=FOLLOWUP_S + TIMEOUT,
    )
    assert NAME not in followup.body and erika.user_id not in followup.body
    await ask(sam, bot, dm["sam"], "!profil", "Sam Suchmann")
    assert erika.user_id not in await bot_direct(sam, bot)
    bot.stop()
    assert await bot.wait_exit() == 0, bot.log_tail()
    assert leftovers(store_files(bot), needles) == []
