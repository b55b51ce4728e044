"""Synapse with its default rate limits: a crisis broadcast and a coffee round complete,
paced by the homeserver's `retry_after_ms`, and nothing is dropped.

Scaled to fit CI. Synapse's defaults allow a burst of 10 messages and then 0.2 per second
(`rc_message`), and a burst of 10 rooms and then one per ~62 s (`rc_room_creation`);
invites are 10 and then 0.3 per second per sender. Here:

- broadcast: 10 bridges (tiers of 2 and 2, then everybody else), i.e. 30 DM events (the
  request and its 👍/👎 buttons each) plus the status, its edits and the broadcast note:
  about 2 minutes at 0.2/s. The bridges' DMs exist already (as after `!kontakt`).
- round: 11 pairs, i.e. 11 rooms (one beyond the burst: one ~62 s wait) with 22 invites
  and 11 introductions: about 1–1.5 minutes.

The full sizes (a 200-bridge broadcast, a 100-pair round: 50 min and ~95 min under these
limits) run in `bench/rate_limited.py`; figures in docs/BENCHMARKS.md. The two scenarios
run concurrently, each with its own bot (limits are per user).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from integration.bot_process import BotProcess

from bot.devserver import LocalSynapse
from bot.store.bot_state import BotState
from bot.store.db import Database

from .conftest import MakeBot
from .homeserver import Homeserver, until
from .seed import query, seed_contacts, seed_dm_rooms, seed_profiles

BRIDGES = 10
PAIRS = 11


@pytest.fixture
async def limited(synapse_default_limits: LocalSynapse) -> AsyncIterator[Homeserver]:
    server = await Homeserver.create(synapse_default_limits, "limits")
    yield server
    await server.close()


async def prelogin(server: Homeserver, bot: BotProcess) -> None:
    """Log the bot in with 429s waited out (login is limited to 3 per address and then one
    per 6 s) and leave token and device in its store, as after an earlier start."""
    localpart = bot.user_id[1:].split(":", 1)[0]
    password = bot.config["homeserver"]["password"]
    data = await server.call_paced(
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
            "initial_device_display_name": "Flurfunk",
        },
        token="",
    )
    db = Database(bot.database)
    await db.open()
    try:
        await BotState(db).set("access_token", data["access_token"])
        await BotState(db).set("device_id", data["device_id"])
    finally:
        await db.close()


def pending(bot: BotProcess) -> int:
    return int(query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0])


def rate_limited(bot: BotProcess) -> float:
    return sum(v for k, v in bot.metrics().items() if k.startswith("flurfunk_rate_limited_total"))


async def broadcast(server: Homeserver, make_bot: MakeBot) -> dict[str, Any]:
    bridges = await asyncio.to_thread(server.register_many, "bruecke", BRIDGES)
    chief = server.admin
    bot = make_bot(
        server=server.synapse,
        config={
            "crisis": {
                "staff": [chief.user_id],
                "tier1_size": 2,
                "tier2_size": 2,
                "tier1_timeout_s": 2,
                "tier2_timeout_s": 2,
                "tick_seconds": 0.5,
                "default_availability": "immer",
                "cap_per_week": None,
            }
        },
    )
    # The bridges' DMs with the bot exist already (public rooms the bot is put into by the
    # admin API, so that setting up the test does not spend the bot's invite budget).
    dms: dict[str, str] = {}
    for bridge in bridges:
        account = await server.puppet(bridge)
        room = await server.call_paced(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"preset": "public_chat", "is_direct": True},
            token=account.token,
        )
        await server.force_join(bot.user_id, room["room_id"])
        dms[bridge] = room["room_id"]
    await seed_contacts(
        bot.database, [(b, f"Tafel {i}", "Soziale Träger") for i, b in enumerate(bridges)]
    )
    await seed_dm_rooms(bot.database, dms)
    await prelogin(server, bot)
    await bot.start_and_wait()
    dm = await server.open_dm(chief, bot.user_id)
    await server.wait_for_body(chief, dm, bot.user_id, lambda b: "Flurfunk" in b, timeout=120)

    began = time.monotonic()
    await server.send_text(chief, dm, "!werkennt Wer kennt jemanden bei einer Tafel?")

    def all_asked() -> bool:
        rows = query(bot.database, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'")
        return rows[0][0] == BRIDGES and pending(bot) == 0

    await until(all_asked, 400, "the broadcast to be delivered", interval=1)
    took = time.monotonic() - began
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    for bridge, room_id in dms.items():
        sent = await server.sent_by(room_id, bot.user_id)
        kinds = Counter(e["type"] for e in sent)
        assert kinds == Counter({"m.room.message": 1, "m.reaction": 2}), (bridge, kinds)
        assert "Wer kennt wen?" in next(
            e["content"]["body"] for e in sent if e["type"] == "m.room.message"
        )
    return {"took": took, "rate_limited": rate_limited(bot)}


async def round_(server: Homeserver, make_bot: MakeBot) -> dict[str, Any]:
    people = await asyncio.to_thread(server.register_many, "runde", 2 * PAIRS)
    admin = server.admin
    bot = make_bot(
        server=server.synapse,
        config={"bot": {"admins": [admin.user_id]}, "coffee": {"check_interval_s": 1}},
    )
    await seed_profiles(bot.database, people)
    await prelogin(server, bot)
    await bot.start_and_wait()
    dm = await server.open_dm(admin, bot.user_id)
    await server.wait_for_body(admin, dm, bot.user_id, lambda b: "Flurfunk" in b, timeout=120)

    began = time.monotonic()
    await server.send_text(admin, dm, "!admin runde")

    def introduced() -> bool:
        rows = query(
            bot.database,
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'coffee:%/%:intro' AND status = 'sent'",
        )
        return rows[0][0] == PAIRS and pending(bot) == 0

    await until(introduced, 400, "every introduction", interval=1)
    took = time.monotonic() - began
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    rooms = await server.rooms_created_by(bot.user_id)
    assert len(rooms) == PAIRS
    invited: Counter[str] = Counter()
    for room_id in rooms:
        assert len(await server.sent_by(room_id, bot.user_id)) == 1  # the introduction
        invited.update(
            e["state_key"]
            for e in await server.state(room_id)
            if e["type"] == "m.room.member" and e["content"].get("membership") == "invite"
        )
    assert invited == Counter(people)
    report = await server.wait_for_body(admin, dm, bot.user_id, lambda b: "läuft" in b)
    assert len(report) == 1
    return {"took": took, "rate_limited": rate_limited(bot)}


async def test_broadcast_and_round_complete_under_default_limits(
    limited: Homeserver, make_bot: MakeBot
) -> None:
    fanout, matches = await asyncio.gather(broadcast(limited, make_bot), round_(limited, make_bot))
    # Paced, not hammered: the bot waits out each 429 instead of retrying at once.
    for result, events in ((fanout, 3 * BRIDGES + 4), (matches, 3 * PAIRS)):
        assert 1 <= result["rate_limited"] <= events, result
