"""SIGKILL at seeded random moments of a crisis escalation (tier 1 → timeout → tier 2 →
timeout → everybody else), sometimes staying down past a deadline: afterwards every bridge
person got exactly one request DM, every escalation timer fired, and the requester's status
message exists once.

Twenty bridges are registered and declared in the bot's store before it starts; nobody
answers, so the request runs through all three tiers. The homeserver's stored events are
counted (the DMs are encrypted); `FLURFUNK_FAULT_SEED` picks other kill moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time

from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.live import escalating_crisis
from tests.support.seed import query, seed_contacts

SEED = int(os.environ.get("FLURFUNK_FAULT_SEED", "20261125"))
BRIDGES = 20
TIER1, TIER2 = 3, 5
TIMEOUT_S = 6.0
KILLS = 3
TOWNS = ("Dresden", "Pirna", "Meißen", "Riesa", "Freital", "Radebeul", "Coswig", "Görlitz")


async def test_escalation_survives_sigkills(make_bot: MakeBot, homeserver: Homeserver) -> None:
    rng = random.Random(SEED)
    bridges = await asyncio.to_thread(homeserver.register_many, "bruecke", BRIDGES)
    chief = homeserver.admin
    bot = make_bot(config={"crisis": escalating_crisis(chief.user_id, (TIER1, TIER2), TIMEOUT_S)})
    await seed_contacts(
        bot.database,
        [
            (b, f"Tafel {TOWNS[i % len(TOWNS)]} {i}", "Soziale Träger")
            for i, b in enumerate(bridges)
        ],
    )
    await bot.start_and_wait()
    dm = await homeserver.open_dm(chief, bot.user_id)
    await homeserver.wait_for_body(chief, dm, bot.user_id, lambda b: "Flurfunk" in b)

    await homeserver.send_text(chief, dm, "!werkennt Wer kennt jemanden bei einer Tafel? Brot")
    await until(
        lambda: bool(query(bot.database, "SELECT COUNT(*) FROM crisis_requests")[0][0]),
        30,
        "the request to be stored",
        interval=0.02,
    )
    started = time.monotonic()
    # The whole escalation takes about 2 × TIMEOUT_S; kill within it, and sometimes stay
    # down long enough for a deadline to pass meanwhile.
    moments = sorted(rng.uniform(0.2, 2.5 * TIMEOUT_S) for _ in range(KILLS))
    kills: list[str] = []
    for moment in moments:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        bot.kill()
        down = rng.choice((0.0, 0.5, TIMEOUT_S))
        asked = query(bot.database, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'")
        kills.append(f"at {moment:.1f} s, {asked[0][0]} asked, down {down} s")
        await asyncio.sleep(down)
        bot.start()
        await bot.wait_healthy(timeout=60)

    def asked_count() -> int:
        rows = query(bot.database, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'")
        return int(rows[0][0])

    await until(lambda: asked_count() == BRIDGES, 90, f"all bridges asked ({kills})")
    # Each ask is a DM plus its two reaction buttons.
    await until(
        lambda: (
            query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == [(0,)]
        ),
        90,
        "the outbox to be empty",
    )
    await asyncio.sleep(3)  # anything sent twice would have arrived by now

    (request_id,) = query(bot.database, "SELECT id FROM crisis_requests")[0]
    tiers = query(
        bot.database,
        "SELECT tier, COUNT(*) FROM crisis_timeline WHERE kind = 'asked' GROUP BY tier",
    )
    assert tiers == [(1, TIER1), (2, TIER2), (3, BRIDGES - TIER1 - TIER2)], kills
    timers = query(
        bot.database,
        "SELECT kind, tier FROM crisis_timeline WHERE kind IN ('tier', 'broadcast') ORDER BY id",
    )
    assert timers == [("tier", 1), ("tier", 2), ("tier", 3), ("broadcast", None)], kills
    statuses = query(bot.database, "SELECT status, COUNT(*) FROM outbox GROUP BY 1")
    assert [status for status, _ in statuses] == ["sent"], statuses

    # The homeserver's view: the rooms the bot created are the bridges' DMs.
    rooms_of = await homeserver.rooms_with_members(bot.user_id)
    assert set(rooms_of) == set(bridges)
    for bridge in bridges:
        sent = [e for room in rooms_of[bridge] for e in await homeserver.sent_by(room, bot.user_id)]
        # The request and its 👍/👎 buttons, once.
        assert len(sent) == 3, (bridge, len(rooms_of[bridge]), kills)
        assert len(rooms_of[bridge]) == 1, (bridge, "DM room created twice", kills)

    # The requester's DM (not encrypted): one status message (then edited), one note.
    events = await homeserver.messages(chief, dm)
    bot_messages = [
        e for e in events if e["sender"] == bot.user_id and e["type"] == "m.room.message"
    ]
    originals = [
        e["content"]["body"]
        for e in bot_messages
        if e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"
    ]
    status = [b for b in originals if re.search(rf"Anfrage {request_id}\b", b) and "»" in b]
    assert len(status) == 1, originals
    assert sum("alle weiteren" in b for b in originals) == 1, originals
