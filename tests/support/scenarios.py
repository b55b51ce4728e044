"""Scenarios under Synapse's default rate limits, shared by tests/fault/test_rate_limits.py
(small sizes) and bench/rate_limited.py (full sizes).

The bots log in through `prelogin` (Synapse allows 3 logins per address and then one per
6 s; a refused login stops the bot), and the bridges' DMs are set up through the admin API,
so that only what the scenario measures spends the bot's rate limits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from bot.store.bot_state import BotState
from bot.store.db import Database
from tests.support.bot_process import BotProcess, MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.seed import query, seed_contacts, seed_dm_rooms, seed_profiles


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


async def broadcast(
    server: Homeserver, make_bot: MakeBot, bridge_count: int, tiers: tuple[int, int] = (2, 2)
) -> dict[str, Any]:
    """A crisis request that nobody answers, so it goes to all `bridge_count` bridges (two
    tiers, then everybody else); checks every bridge got it exactly once."""
    bridges = await asyncio.to_thread(server.register_many, "bruecke", bridge_count)
    chief = server.admin
    bot = make_bot(
        server=server.synapse,
        config={
            "crisis": {
                "staff": [chief.user_id],
                "tier1_size": tiers[0],
                "tier2_size": tiers[1],
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

    # 3 events per bridge at 0.2/s after a burst of 10, with a generous margin.
    timeout = 120 + 3 * bridge_count / 0.2 * 1.5
    began = time.monotonic()
    await server.send_text(chief, dm, "!werkennt Wer kennt jemanden bei einer Tafel?")

    def all_asked() -> bool:
        rows = query(bot.database, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'")
        return rows[0][0] == bridge_count and pending(bot) == 0

    await until(all_asked, timeout, "the broadcast to be delivered", interval=1)
    took = time.monotonic() - began
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    for bridge, room_id in dms.items():
        sent = await server.sent_by(room_id, bot.user_id)
        kinds = Counter(e["type"] for e in sent)
        assert kinds == Counter({"m.room.message": 1, "m.reaction": 2}), (bridge, kinds)
        assert "Wer kennt wen?" in next(
            e["content"]["body"] for e in sent if e["type"] == "m.room.message"
        )
    return {"took": took, "rate_limited": rate_limited(bot), "events": events_sent(bot)}


async def coffee_round(server: Homeserver, make_bot: MakeBot, pairs: int) -> dict[str, Any]:
    """`!admin runde` for `2 * pairs` people; checks one room, one introduction and one
    invite each."""
    people = await asyncio.to_thread(server.register_many, "runde", 2 * pairs)
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

    # One room per ~62 s after a burst of 10, with a generous margin.
    timeout = 240 + max(0, pairs - 10) * 63 * 1.5
    began = time.monotonic()
    await server.send_text(admin, dm, "!admin runde")

    def introduced() -> bool:
        rows = query(
            bot.database,
            "SELECT COUNT(*) FROM outbox WHERE key LIKE 'coffee:%/%:intro' AND status = 'sent'",
        )
        return rows[0][0] == pairs and pending(bot) == 0

    await until(introduced, timeout, "every introduction", interval=1)
    took = time.monotonic() - began
    assert query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == [(0,)]
    rooms = await server.rooms_created_by(bot.user_id)
    assert len(rooms) == pairs
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
    return {"took": took, "rate_limited": rate_limited(bot), "events": events_sent(bot)}


def events_sent(bot: BotProcess) -> int:
    rows = query(bot.database, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
    return int(rows[0][0])
