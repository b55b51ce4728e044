# ruff: noqa: ASYNC109
"""The network report against a real Synapse: `!admin bericht` in the (encrypted) admin room
answers with the summary as an HTML table and two PNG charts as `m.image`; a colleague who is
no admin is refused. Neither the text nor the pictures name anybody."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import UTC, datetime, timedelta

from nio import DownloadResponse, RoomMessage
from nio.crypto.attachments import decrypt_attachment

from bot.report.charts import PNG_SIGNATURE, png_size
from bot.store.coffee_breaks import CoffeeBreakStore, Placement
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.bot_process import BotProcess
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import encrypted_room
from tests.support.matrix_user import MatrixUser

SEED_SERVER = "seed.example"
# Colleagues known only from the store (they need no account for the statistics).
SEEDED = {
    "anna": ("Bauamt", "Musterstadt"),
    "arne": ("Bauamt", "Musterstadt"),
    "bernd": ("Kämmerei", "Musterstadt"),
    "berit": ("Kämmerei", "Musterstadt"),
    "cem": ("Ordnungsamt", "Beispieldorf"),
    "cora": ("Ordnungsamt", "Beispieldorf"),
    # One person each: below k = 2, both shown only as "Sonstige".
    "dora": ("Jugendamt", "Beispieldorf"),
    "hans": ("Bauhof", "Beispieldorf"),
}
TIES = [("anna", "bernd"), ("arne", "cem"), ("berit", "cora"), ("cem", "dora"), ("anna", "arne")]


def seeded_id(name: str) -> str:
    return f"@{name}:{SEED_SERVER}"


def seeded_name(name: str) -> str:
    return f"{name.capitalize()} Beispielperson"


async def seed_store(bot: BotProcess) -> None:
    """Profiles and confirmed coffee breaks of the last complete month (the default period:
    whole months only, S-07), written before the bot starts."""
    db = Database(bot.database)
    await db.open()
    try:
        profiles = ProfileRepository(db)
        for name, (department, municipality) in SEEDED.items():
            await profiles.create(seeded_id(name), confirmed=True)
            await profiles.update(
                seeded_id(name),
                display_name=seeded_name(name),
                department=department,
                municipality=municipality,
                tasks=f"Geheime Aufgaben von {seeded_name(name)}",
                coffee=True,
            )
        breaks = CoffeeBreakStore(db)
        first = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
        when = (first - timedelta(days=16)).replace(day=15).timestamp()
        for a, b in TIES:
            break_id = await breaks.add_break(seeded_id(a), seeded_id(b), 15, when, when + 600)
            item = await breaks.get_break(break_id)
            assert item is not None
            await breaks.record_tie(item, Placement(*SEEDED[a]), Placement(*SEEDED[b]), when + 900)
    finally:
        await db.close()


async def wait_joined(user: MatrixUser, room_id: str, member: str, timeout: float = 30) -> None:
    """Until `user` has seen `member` join (so what we send is encrypted for them too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        room = user.client.rooms.get(room_id)
        if room is not None and member in room.users and member not in room.invited_users:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{member} did not join {room_id} within {timeout} s")


def is_image(message: RoomMessage) -> bool:
    return message.source.get("content", {}).get("msgtype") == "m.image"


async def attachment(user: MatrixUser, message: RoomMessage) -> bytes:
    """Download and decrypt an encrypted file or picture, as a client does to show it."""
    content = message.source["content"]
    file = content["file"]
    response = await user.client.download(mxc=file["url"])
    assert isinstance(response, DownloadResponse), response
    return bytes(
        decrypt_attachment(response.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
    )


def assert_names_nobody(text: str) -> None:
    assert "@" not in text and SEED_SERVER not in text
    for name in SEEDED:
        assert seeded_name(name) not in text and seeded_id(name) not in text
    assert "Geheime Aufgaben" not in text
    assert "Jugendamt" not in text and "Bauhof" not in text  # units of one are never named


async def test_admin_report_with_table_and_pictures_and_refusal(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    admin = await make_user("admin")
    colleague = await make_user("kollegin")
    bot = make_bot(
        config={
            "bot": {"admins": [admin.user_id]},
            "report": {"k_anonymity": 2, "monthly": False, "check_interval_s": 30},
        }
    )
    room_id = await encrypted_room(
        admin, "Flurfunk-Administration", [bot.user_id, colleague.user_id]
    )
    bot.config["bot"]["admin_room"] = room_id
    bot.write_config()
    await seed_store(bot)
    await bot.start_and_wait()
    await wait_joined(admin, room_id, bot.user_id)
    await wait_joined(admin, room_id, colleague.user_id)

    await admin.send_text(room_id, "!admin bericht")
    summary = await admin.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "Netzwerkbericht" in m.body, timeout=60
    )
    content = summary.source["content"]
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {}
    html = content["formatted_body"]
    assert "<table>" in html and "<td>Bauamt</td>" in html and "<td>Sonstige</td>" in html
    assert "| Bauamt | 2 |" in summary.body  # the plain body has the same table
    assert_names_nobody(summary.body)
    assert_names_nobody(html)

    images = [
        await admin.wait_for_message(room_id, is_image, sender=bot.user_id, timeout=30)
        for _ in range(2)
    ]
    assert sorted(m.body for m in images) == ["heatmap.png", "ties.png"]
    for image in images:
        info = image.source["content"]["info"]
        assert info["mimetype"] == "image/png"
        data = await attachment(admin, image)
        assert data.startswith(PNG_SIGNATURE)
        assert png_size(data) == (info["w"], info["h"])
        assert info["w"] >= 500 and info["h"] >= 400 and len(data) > 10_000

    # An unreadable period gets an answer that shows how to write it.
    await admin.send_text(room_id, "!admin bericht gestern")
    await admin.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "»gestern«" in m.body, timeout=30
    )
    # The tables as a ZIP of CSV files.
    await admin.send_text(room_id, "!admin bericht csv")
    archive = await admin.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: m.body.endswith(".zip"), timeout=30
    )
    assert archive.source["content"]["msgtype"] == "m.file"
    with zipfile.ZipFile(io.BytesIO(await attachment(admin, archive))) as files:
        assert "departments.csv" in files.namelist()
        for name in files.namelist():
            assert_names_nobody(files.read(name).decode("utf-8-sig"))

    # A colleague who is no admin is refused, and nothing else is posted.
    await colleague.send_text(room_id, "!admin bericht")
    refusal = await colleague.wait_for_message(
        room_id,
        sender=bot.user_id,
        predicate=lambda m: "Administration vorbehalten" in m.body,
        timeout=30,
    )
    assert "Netzwerkbericht" not in refusal.body
    await asyncio.sleep(1.0)
    assert len([m for m in admin.messages_from(bot.user_id, room_id) if is_image(m)]) == 2
