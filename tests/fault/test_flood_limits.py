"""Per-person limits on a real Synapse (review finding S-11): what a flooding person, a
host and a crisis requester actually see in their rooms.

- Someone over the command limit hears it once, and nothing of the flood is carried out.
- A host's offers are capped; sign-ups and cancellations reach the host as a few notices
  and one digest, and the announcement is edited once per digest, not once per toggle.
- A bridge repeating `!nein <ID> <Hinweis>` forwards one hint to the requester.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from typing import Any

from tests.support.fixtures import MakeBot
from tests.support.homeserver import Account, Homeserver, until
from tests.support.seed import query

FLOOD = 12
SETTLE_S = 3.0  # anything sent twice would have arrived by then


async def person(server: Homeserver, name: str) -> Account:
    [user_id] = await asyncio.to_thread(server.register_many, name, 1)
    return await server.puppet(user_id)


async def welcomed(server: Homeserver, who: Account, bot_id: str) -> str:
    dm = await server.open_dm(who, bot_id)
    await server.wait_for_body(who, dm, bot_id, lambda b: "Flurfunk" in b)
    return dm


async def quiet(server: Homeserver, who: Account, room: str, bot_id: str) -> list[str]:
    """Everything the bot said in the room once it has stopped talking."""
    await asyncio.sleep(SETTLE_S)
    return await server.bodies_from(who, room, bot_id)


async def test_a_command_flood_is_told_once_and_not_carried_out(
    make_bot: MakeBot, homeserver: Homeserver
) -> None:
    limits = {"changes_burst": 3, "changes_per_minute": 0.1, "reads_burst": 10}
    bot = make_bot(config={"bot": {"limits": limits}})
    await bot.start_and_wait()
    flooder = await person(homeserver, "flut")
    dm = await welcomed(homeserver, flooder, bot.user_id)
    for i in range(FLOOD):
        await homeserver.send_text(flooder, dm, f"!kontakt Tafel {i} | Soziale Träger")
    await homeserver.wait_for_body(flooder, dm, bot.user_id, lambda b: "Sekunden wieder" in b)
    bodies = await quiet(homeserver, flooder, dm, bot.user_id)
    assert sum("Sekunden wieder" in b for b in bodies) == 1, bodies
    stored = query(bot.database, "SELECT organisation FROM crisis_contacts ORDER BY rowid")
    assert stored == [("Tafel 0",), ("Tafel 1",), ("Tafel 2",)]
    # Reads have their own allowance: the person can still see what was stored.
    await homeserver.send_text(flooder, dm, "!kontakte")
    [listing] = await homeserver.wait_for_body(
        flooder, dm, bot.user_id, lambda b: "Tafel 2" in b and "Tafel 0" in b
    )
    assert "Tafel 3" not in listing
    # Somebody else is served as usual.
    other = await person(homeserver, "kollegin")
    other_dm = await welcomed(homeserver, other, bot.user_id)
    await homeserver.send_text(other, other_dm, "!kontakt Tafel Pirna | Soziale Träger")
    await homeserver.wait_for_body(other, other_dm, bot.user_id, lambda b: "K-" in b)


async def announcement_room(server: Homeserver) -> str:
    room = await server.call_paced(
        "POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"}, token=server.admin.token
    )
    return str(room["room_id"])


def edits_in(events: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["content"]["m.new_content"]["body"])
        for e in events
        if e["type"] == "m.room.message"
        and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
    ]


async def test_hospitation_caps_and_one_digest(make_bot: MakeBot, homeserver: Homeserver) -> None:
    room = await announcement_room(homeserver)
    # A token back after 20 s: long enough that the six changes below surely come within it.
    settings = {"announcement_rooms": [room], "open_offers_max": 2, "notify_window_s": 20}
    bot = make_bot(config={"hospitation": settings})
    await bot.start_and_wait()
    await homeserver.force_join(bot.user_id, room)
    host = await person(homeserver, "gastgeberin")
    host_dm = await welcomed(homeserver, host, bot.user_id)
    day = (date.today() + timedelta(days=10)).strftime("%d.%m.%Y")
    for i in range(4):
        await homeserver.send_text(host, host_dm, f"!hospitation anbieten Angebot {i} | {day} | 1")
    await homeserver.wait_for_body(
        host, host_dm, bot.user_id, lambda b: "2 offene Hospitationsangebote" in b, count=2
    )
    await until(
        lambda: len(query(bot.database, "SELECT 1 FROM outbox WHERE target = ?", (room,))) == 2,
        30,
        "two announcements queued",
    )
    await asyncio.sleep(SETTLE_S)
    posts = [e for e in await homeserver.sent_by(room, bot.user_id) if not edits_in([e])]
    assert len(posts) == 2, posts
    [(offer,)] = query(bot.database, "SELECT id FROM hospitation_offers WHERE title = 'Angebot 0'")

    guest = await person(homeserver, "gast")
    guest_dm = await welcomed(homeserver, guest, bot.user_id)
    for _ in range(5):  # sign-ups beyond the third are refused; cancelling always works
        await homeserver.send_text(guest, guest_dm, f"!hospitation teilnehmen {offer}")
        await homeserver.send_text(guest, guest_dm, f"!hospitation absagen {offer}")
    refused = await homeserver.wait_for_body(
        guest, guest_dm, bot.user_id, lambda b: "3-mal angemeldet" in b, count=2
    )
    assert len(refused) == 2
    # Six changes: four told at once, then one digest when a token is back.
    [digest] = await homeserver.wait_for_body(
        host, host_dm, bot.user_id, lambda b: "seit meiner letzten Nachricht" in b, timeout=60
    )
    assert "1 Anmeldung, 1 Absage" in digest and "0 von 1 Platz," in digest
    bodies = await quiet(homeserver, host, host_dm, bot.user_id)
    told = [b for b in bodies if b.startswith(("Neue Anmeldung", "Absage für"))]
    assert len(told) == 4, bodies
    edits = edits_in(await homeserver.events(room))
    assert len(edits) == 5, edits
    assert "Freie Plätze: 1 von 1" in edits[-1]


async def test_one_hint_per_bridge_and_request(make_bot: MakeBot, homeserver: Homeserver) -> None:
    chief = homeserver.admin
    bot = make_bot(
        config={
            "crisis": {
                "staff": [chief.user_id],
                "tier1_size": 1,
                "default_availability": "immer",
                "cap_per_week": None,
            }
        }
    )
    await bot.start_and_wait()
    bridge = await person(homeserver, "bruecke")
    bridge_dm = await welcomed(homeserver, bridge, bot.user_id)
    await homeserver.send_text(bridge, bridge_dm, "!kontakt Tafel Dresden | Soziale Träger")
    await homeserver.wait_for_body(bridge, bridge_dm, bot.user_id, lambda b: "K-" in b)
    chief_dm = await welcomed(homeserver, chief, bot.user_id)
    await homeserver.send_text(chief, chief_dm, "!werkennt Wer kennt jemanden bei der Tafel?")
    [ask] = await homeserver.wait_for_body(
        bridge, bridge_dm, bot.user_id, lambda b: "Wer kennt wen?" in b
    )
    match = re.search(r"\bA-[A-Z0-9]{4}\b", ask)
    assert match, ask
    request = match.group(0)
    for hint in ("Fragen Sie die Caritas.", "Oder die Diakonie!", "Caritas, wirklich."):
        await homeserver.send_text(bridge, bridge_dm, f"!nein {request} {hint}")
    await homeserver.wait_for_body(
        bridge, bridge_dm, bot.user_id, lambda b: "schon an den Krisenstab" in b, count=2
    )
    [hint] = await homeserver.wait_for_body(
        chief, chief_dm, bot.user_id, lambda b: "gibt aber einen Hinweis" in b
    )
    assert "Caritas." in hint and "Diakonie" not in hint
    chief_bodies = await quiet(homeserver, chief, chief_dm, bot.user_id)
    assert sum("gibt aber einen Hinweis" in b for b in chief_bodies) == 1, chief_bodies
    # The no counts once, with the first hint.
    [(state,)] = query(bot.database, "SELECT state FROM crisis_requests")
    answers = json.loads(state)["answers"]
    assert [(a[1], a[3]) for a in answers] == [(False, "Fragen Sie die Caritas.")]
