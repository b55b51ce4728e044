"""Profiles, onboarding and privacy against a real Synapse: onboarding by DM in German
(with a wrong answer at every step and a SIGKILL in the middle) and in English; `!meinedaten`
as an encrypted file; `!vergessen` leaves no trace in the database file; nobody can read or
change another person's profile; how Synapse shows a deactivated account to an ordinary user;
the daily retention job end to end."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from nio import RoomCreateResponse, RoomEncryptedFile, RoomMessage
from nio.crypto import decrypt_attachment
from nio.responses import DownloadError

from bot.chat.accounts import MatrixAccounts
from bot.chat.session import raw_request
from bot.devserver import LocalSynapse
from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.matrix_user import MatrixUser, unique_localpart

DIRECTORY = {
    "departments": ["Gesundheitsamt", "Ordnungsamt", "Jugendamt", "Sozialamt"],
    "municipalities": ["Musterstadt", "Beispieldorf"],
    "free_municipalities": False,
}


async def next_reply(user: MatrixUser, bot: BotProcess, room_id: str) -> RoomMessage:
    return await user.wait_for_message(room_id, sender=bot.user_id, timeout=20)


async def ask(user: MatrixUser, bot: BotProcess, room_id: str, text: str, *expect: str) -> str:
    """Send `text`; the bot's next message must contain every `expect`."""
    await user.send_text(room_id, text)
    body = (await next_reply(user, bot, room_id)).body
    for part in expect:
        assert part in body, f"{part!r} not in the answer to {text!r}:\n{body}"
    return body


def profile_row(bot: BotProcess, user_id: str) -> sqlite3.Row | None:
    with sqlite3.connect(f"file:{bot.database}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM profiles WHERE user_id = ?", (user_id,)
        ).fetchone()
        return row


async def test_onboarding_in_german_with_errors_and_a_restart(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"directory": DIRECTORY})
    await bot.start_and_wait()
    anna = await make_user("anna")
    room = await dm_with_bot(anna, bot)
    await ask(anna, bot, room, "!start", "Bevor es losgeht", "freiwillig", "Frage 1 von 7")
    # 1 department: too long, then a typo with a suggestion taken by "ja".
    await ask(anna, bot, room, "A" * 81, "höchstens 80 Zeichen", "Frage 1 von 7")
    await ask(anna, bot, room, "Gesundhetsamt", "Meinten Sie »Gesundheitsamt«?", "Antworten Sie ja")
    await ask(anna, bot, room, "ja", "Frage 2 von 7", "Musterstadt, Beispieldorf")
    # 2 municipality (closed list): not listed; back; skip; then right.
    await ask(anna, bot, room, "Atlantis", "nicht in der Liste", "Frage 2 von 7")
    await ask(anna, bot, room, "zurück", "Frage 1 von 7", "Bisher: Gesundheitsamt")
    await ask(anna, bot, room, "überspringen", "Frage 2 von 7")
    await ask(anna, bot, room, "musterstadt", "Frage 3 von 7")
    # 3 tasks: too long. Then the bot dies; the answer arrives while it is down.
    await ask(anna, bot, room, "x" * 1001, "höchstens 1000 Zeichen", "Frage 3 von 7")
    bot.kill()
    await anna.send_text(room, "Ich koordiniere Impfaktionen und den Infektionsschutz.")
    bot.start()
    await bot.wait_healthy()
    body = (await next_reply(anna, bot, room)).body
    assert "Frage 4 von 7" in body, body
    # 4 topics, 5 languages, 6 availability, 7 coffee: each wrong once.
    await ask(anna, bot, room, "Impfen, x", "»x« ist zu kurz", "Frage 4 von 7")
    await ask(anna, bot, room, "Impfen, Infektionsschutz", "Frage 5 von 7")
    await ask(anna, bot, room, "Klingonisch", "»Klingonisch« kenne ich nicht", "Frage 5 von 7")
    await ask(anna, bot, room, "Deutsch, Englsich", "Meinten Sie »Englisch«", "Frage 5 von 7")
    await ask(anna, bot, room, "Deutsch, Englisch", "Frage 6 von 7")
    await ask(anna, bot, room, "y" * 201, "höchstens 200 Zeichen", "Frage 6 von 7")
    await ask(anna, bot, room, "Di und Do vormittags", "Frage 7 von 7", "Kaffeerunde")
    await ask(anna, bot, room, "vielleicht", "ja oder nein", "Frage 7 von 7")
    done = await ask(anna, bot, room, "ja", "Fertig", "Gesundheitsamt", "Musterstadt")
    assert "Sprachen: Deutsch, Englisch" in done and "Kaffeerunde: dabei" in done
    row = profile_row(bot, anna.user_id)
    assert row is not None
    assert row["tasks"] == "Ich koordiniere Impfaktionen und den Infektionsschutz."
    assert json.loads(row["topics"]) == ["Impfen", "Infektionsschutz"]
    assert json.loads(row["languages"]) == ["de", "en"]
    assert (row["coffee"], row["confirmed"], row["source"]) == (1, 1, "chat")
    assert row["display_name"]  # as seen in the DM
    # Afterwards, plain text is no dialog answer any more.
    await ask(anna, bot, room, "ja", "Befehle beginnen mit")


async def test_onboarding_in_english_and_coffee_commands(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"directory": DIRECTORY})
    await bot.start_and_wait()
    ben = await make_user("ben")
    room = await dm_with_bot(ben, bot)
    await ask(ben, bot, room, "!language en", "English")
    await ask(ben, bot, room, "!start", "Before we start", "voluntary", "Question 1 of 7")
    await ask(ben, bot, room, "Public Health Office", "Question 2 of 7")
    await ask(ben, bot, room, "skip", "Question 3 of 7")
    await ask(ben, bot, room, "I process housing benefit applications", "Question 4 of 7")
    await ask(ben, bot, room, "back", "Question 3 of 7", "So far: I process housing")
    await ask(ben, bot, room, "skip", "Question 4 of 7")
    await ask(ben, bot, room, "housing benefit, digitalisation", "Question 5 of 7")
    await ask(ben, bot, room, "German, Turkish", "Question 6 of 7")
    await ask(ben, bot, room, "skip", "Question 7 of 7", "Coffee matches")
    await ask(ben, bot, room, "maybe", "yes or no")
    done = await ask(ben, bot, room, "no", "Done", "Public Health Office")
    assert "Languages: German, Turkish" in done and "Coffee matches: not taking part" in done
    await ask(ben, bot, room, "!coffee", "don't take part")
    await ask(ben, bot, room, "!coffee on", "you take part")
    paused = await ask(ben, bot, room, "!coffee pause 2", "paused until")
    until = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(weeks=2)).date().isoformat()
    assert until in paused
    await ask(ben, bot, room, "!coffee pause 99", "from 1 to 26")
    await ask(ben, bot, room, "!coffee", "paused until")
    row = profile_row(bot, ben.user_id)
    assert row is not None and row["coffee"] == 1 and row["coffee_paused_until"] is not None
    # A cancelled second run changes nothing.
    await ask(ben, bot, room, "!start", "You have a profile already", "So far: Public Health")
    await ask(ben, bot, room, "-", "Question 2 of 7")
    await ask(ben, bot, room, "cancel", "Cancelled")
    await ask(ben, bot, room, "!profile", "Department: Public Health Office")


async def download_json(user: MatrixUser, event: RoomEncryptedFile) -> dict[str, Any]:
    response = await user.client.download(mxc=event.url)
    assert not isinstance(response, DownloadError), response
    plain = decrypt_attachment(response.body, event.key["k"], event.hashes["sha256"], event.iv)
    data: dict[str, Any] = json.loads(plain)
    return data


def traces_left(bot: BotProcess, needles: list[str]) -> list[str]:
    raw = bot.database.read_bytes()
    wal = Path(f"{bot.database}-wal")
    if wal.exists():
        raw += wal.read_bytes()
    return [n for n in needles if n.encode() in raw]


async def test_mydata_file_then_forget_leaves_no_trace(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"directory": DIRECTORY})
    await bot.start_and_wait()
    paula = await make_user("paula")
    olga = await make_user("olga")
    room = await dm_with_bot(paula, bot)
    olga_room = await dm_with_bot(olga, bot)
    await ask(
        olga, bot, olga_room, "!profil aufgaben Olga bleibt: Friedhofsgebühren", "Gespeichert"
    )
    name, tasks, note = (
        "Paula Pseudonymova",
        "Ich betreue die Notunterkunft Hafenstraße",
        "mittwochs ab 14 Uhr",
    )
    await ask(paula, bot, room, f"!profil name {name}", "Gespeichert", name)
    await ask(paula, bot, room, f"!profil aufgaben {tasks}", "Gespeichert", tasks)
    await ask(paula, bot, room, f"!profil erreichbarkeit {note}", "Gespeichert")
    await ask(paula, bot, room, "!profil themen Wohnungslosenhilfe, Kältebus", "Gespeichert")
    await ask(paula, bot, room, "!kaffee an", "dabei")
    await ask(paula, bot, room, "!meinedaten", "JSON-Datei")
    file_event = await paula.wait_for_message(
        room, lambda m: isinstance(m, RoomEncryptedFile), sender=bot.user_id, timeout=20
    )
    assert isinstance(file_event, RoomEncryptedFile)
    assert file_event.body.startswith("flurfunk-meine-daten-") and file_event.body.endswith(".json")
    export = await download_json(paula, file_event)
    assert export["user_id"] == paula.user_id
    profile = export["sections"]["profile"]
    assert (profile["display_name"], profile["tasks"], profile["availability"]) == (
        name,
        tasks,
        note,
    )
    assert profile["topics"] == ["Wohnungslosenhilfe", "Kältebus"] and profile["coffee"] is True
    assert export["sections"]["chat"]["direct_chat_room"] == room
    assert "Olga" not in json.dumps(export) and olga.user_id not in json.dumps(export)
    # Forget: asks first, "nein" keeps everything, "ja" deletes.
    await ask(paula, bot, room, "!vergessen", "wirklich", "mit ja")
    await ask(paula, bot, room, "nein", "lösche nichts")
    assert profile_row(bot, paula.user_id) is not None
    await ask(paula, bot, room, "!vergessen", "wirklich")
    await ask(paula, bot, room, "ja", "Erledigt", "neuen Direktchat")
    localpart = paula.user_id[1:].split(":")[0]
    needles = [paula.user_id, localpart, name, tasks, note, "Kältebus"]
    for _ in range(50):  # the bot checkpoints its WAL a moment after the deletion
        left = traces_left(bot, needles)
        if not left:
            break
        await asyncio.sleep(0.2)
    assert not left, f"still in the database file: {left}"
    # Olga's data is untouched; after a clean stop nothing comes back either.
    assert traces_left(bot, [olga.user_id, "Olga bleibt"]) == [olga.user_id, "Olga bleibt"]
    bot.stop()
    await bot.wait_exit()
    assert traces_left(bot, needles) == []


async def test_nobody_reads_or_changes_another_profile(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(config={"directory": DIRECTORY})
    await bot.start_and_wait()
    mallory = await make_user("mallory")
    victor = await make_user("victor")
    victor_room = await dm_with_bot(victor, bot)
    await ask(
        victor, bot, victor_room, "!profil aufgaben Geheime Aufgaben von Victor", "Gespeichert"
    )
    room = await dm_with_bot(mallory, bot)
    for attempt in (
        f"!profil {victor.user_id}",
        f"!profile {victor.user_id} tasks hacked",
        f"!profil {victor.user_id} aufgaben gehackt",
    ):
        expect = "your own profile" if attempt.startswith("!profile ") else "nur Ihr eigenes"
        body = await ask(mallory, bot, room, attempt, expect)
        assert "Geheime" not in body
    await ask(mallory, bot, room, "!meinedaten", "JSON-Datei")
    file_event = await mallory.wait_for_message(
        room, lambda m: isinstance(m, RoomEncryptedFile), sender=bot.user_id, timeout=20
    )
    assert isinstance(file_event, RoomEncryptedFile)
    export = await download_json(mallory, file_event)
    assert export["sections"]["profile"] is None and "Victor" not in json.dumps(export)
    await ask(mallory, bot, room, "!profil", "noch kein Profil")
    # Personal commands refuse to work in a shared room.
    created = await mallory.client.room_create(invite=[bot.user_id, victor.user_id])
    assert isinstance(created, RoomCreateResponse)
    shared = created.room_id
    await mallory.wait_for_room(shared)
    for _ in range(100):
        if bot.user_id in mallory.client.rooms[shared].users:
            break
        await asyncio.sleep(0.1)
    await ask(mallory, bot, shared, "!profil", "nur im Direktchat")
    row = profile_row(bot, victor.user_id)
    assert row is not None and row["tasks"] == "Geheime Aufgaben von Victor"
    assert profile_row(bot, mallory.user_id) is None


# -- deactivated accounts ------------------------------------------------------------------


async def make_admin(synapse: LocalSynapse, tmp_path: Path) -> MatrixUser:
    localpart = unique_localpart("admin")
    await asyncio.to_thread(synapse.register_user, localpart, f"pw-{localpart}", admin=True)
    return await MatrixUser.create(synapse, localpart, tmp_path)


async def deactivate(admin: MatrixUser, user_id: str, *, erase: bool) -> None:
    status, data = await raw_request(
        admin.client, "POST", f"/_synapse/admin/v1/deactivate/{quote(user_id)}", {"erase": erase}
    )
    assert status == 200, data


async def test_how_synapse_shows_deactivated_accounts(
    synapse: LocalSynapse, make_user: MakeUser, tmp_path: Path
) -> None:
    admin = await make_admin(synapse, tmp_path)
    observer = await make_user("observer")
    kept = await make_user("kept")  # deactivated without erasure: profile stays
    erased = await make_user("erased")
    dm = await observer.open_dm(kept.user_id)
    await kept.wait_for_room(dm)

    accounts = MatrixAccounts(observer.client)
    with_admin_api = MatrixAccounts(admin.client, admin_api=True)
    profile_path = "/_matrix/client/v3/profile/{}"
    assert await accounts.is_active(kept.user_id) is True
    assert await accounts.is_active(erased.user_id) is True
    assert await with_admin_api.is_active(kept.user_id) is True
    assert await accounts.is_active(f"@{unique_localpart('never')}:{synapse.server_name}") is False

    await deactivate(admin, erased.user_id, erase=True)
    status, data = await raw_request(
        observer.client, "GET", profile_path.format(quote(erased.user_id))
    )
    # Synapse deletes the profile row: "404 M_UNKNOWN No row found", as for an unknown user.
    assert status == 404, data
    assert await accounts.is_active(erased.user_id) is False
    assert await with_admin_api.is_active(erased.user_id) is False

    await deactivate(admin, kept.user_id, erase=False)
    # Synapse keeps the profile of an account deactivated without erasure: an ordinary user
    # cannot tell (no device and a left DM are no evidence, S-12); the admin API can.
    status, _ = await raw_request(observer.client, "GET", profile_path.format(quote(kept.user_id)))
    assert status == 200
    assert await accounts.is_active(kept.user_id) is True
    assert await with_admin_api.is_active(kept.user_id) is False


async def test_retention_job_deletes_deactivated_accounts(
    make_bot: MakeBot, make_user: MakeUser, synapse: LocalSynapse, tmp_path: Path
) -> None:
    admin = await make_admin(synapse, tmp_path)
    created = await admin.client.room_create(name="Flurfunk-Admins")
    assert isinstance(created, RoomCreateResponse)
    admin_room = created.room_id
    await admin.wait_for_room(admin_room)
    run_at = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(seconds=20)
    bot = make_bot(
        config={
            "directory": DIRECTORY,
            "bot": {"admin_room": admin_room, "decrypt_wait_s": 5},
            "privacy": {"retention_check_time": run_at.time().isoformat(timespec="seconds")},
        }
    )
    invited = await admin.client.room_invite(admin_room, bot.user_id)
    assert not hasattr(invited, "status_code"), invited
    await bot.start_and_wait()
    leaving = await make_user("leaving")
    staying = await make_user("staying")
    for user in (leaving, staying):
        room = await dm_with_bot(user, bot)
        await ask(user, bot, room, "!kaffee an", "dabei")
    await deactivate(admin, leaving.user_id, erase=True)
    assert datetime.now(ZoneInfo("Europe/Berlin")) < run_at, "setup took too long"
    report = await admin.wait_for_message(
        admin_room, lambda m: "Aufbewahrung" in m.body, sender=bot.user_id, timeout=30
    )
    assert "1 deaktivierten Konten" in report.body
    assert leaving.user_id not in report.body
    assert profile_row(bot, leaving.user_id) is None
    assert profile_row(bot, staying.user_id) is not None
    await admin.close()
