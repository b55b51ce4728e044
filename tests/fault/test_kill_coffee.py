"""SIGKILL at seeded random points of a coffee round with 50 pairs: after the restarts every
pair has exactly one room, every introduction and every follow-up (a timer) was sent
exactly once, nobody was invited twice, and the admin got exactly one report.

The 100 colleagues are registered on the homeserver and written into the bot's store
before it starts; none of them runs a client. What the homeserver stored is the truth:
rooms the bot created (with their purpose marker), invites in their state, and the
(encrypted, so counted) events the bot sent into each. `FLURFUNK_FAULT_SEED` picks other
kill points.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter

from tests.support.bot_process import BotProcess
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.live import manual_coffee
from tests.support.seed import query, seed_profiles

SEED = int(os.environ.get("FLURFUNK_FAULT_SEED", "20261125"))
PAIRS = 50
FOLLOWUP_S = 12.0
# Per group: create the room, the introduction, the follow-up and its two reaction buttons.
EFFECTS_PER_GROUP = 5
KILLS = 4


def progress(bot: BotProcess) -> int:
    """Effects of the round the bot has recorded as delivered."""
    rows = query(
        bot.database,
        "SELECT COUNT(*) FROM outbox WHERE key LIKE 'coffee:%/%' AND status = 'sent'",
    )
    return int(rows[0][0])


def requested(bot: BotProcess) -> bool:
    return bool(query(bot.database, "SELECT COUNT(*) FROM coffee_requests")[0][0])


async def kill_and_restart(bot: BotProcess, where: str, log: list[str]) -> None:
    bot.kill()
    log.append(f"{where} (progress {progress(bot)})")
    bot.start()
    await bot.wait_healthy(timeout=60)


async def test_round_of_50_pairs_survives_sigkills(
    make_bot: MakeBot, homeserver: Homeserver
) -> None:
    rng = random.Random(SEED)
    people = await asyncio.to_thread(homeserver.register_many, "kaffee", 2 * PAIRS)
    admin = homeserver.admin
    bot = make_bot(
        config={
            "bot": {"admins": [admin.user_id]},
            "coffee": manual_coffee(FOLLOWUP_S),
        }
    )
    await seed_profiles(bot.database, people)
    await bot.start_and_wait()
    dm = await homeserver.open_dm(admin, bot.user_id)
    await homeserver.wait_for_body(admin, dm, bot.user_id, lambda b: "Flurfunk" in b)

    total = PAIRS * EFFECTS_PER_GROUP
    # One kill right after the request is stored (planning, storing the round, or the
    # first rooms), the others at random points of sending rooms, intros and follow-ups.
    thresholds = sorted(rng.sample(range(1, total - 5), KILLS - 1))
    kills: list[str] = []
    await homeserver.send_text(admin, dm, "!admin runde")
    await until(lambda: requested(bot), 30, "the round request to be stored", interval=0.02)
    await kill_and_restart(bot, "after the request", kills)
    for threshold in thresholds:
        await until(lambda t=threshold: progress(bot) >= t, 120, f"progress {threshold}", 0.02)
        await kill_and_restart(bot, f"at {threshold}", kills)

    groups = query(bot.database, "SELECT room_key FROM coffee_groups")
    assert len(groups) == PAIRS, f"{len(groups)} groups for {2 * PAIRS} people"
    await until(
        lambda: progress(bot) >= len(groups) * EFFECTS_PER_GROUP, 180, "every effect delivered"
    )
    await asyncio.sleep(3)  # anything sent twice would have arrived by now
    assert query(bot.database, "SELECT status, COUNT(*) FROM outbox GROUP BY 1") == [
        ("sent", len(groups) * EFFECTS_PER_GROUP + 2)  # + greeting and the admin's report
    ], kills
    assert query(bot.database, "SELECT COUNT(*) FROM coffee_rounds") == [(1,)]
    assert query(
        bot.database, "SELECT COUNT(*) FROM coffee_groups WHERE followup_sent_at IS NULL"
    ) == [(0,)]

    # The homeserver's view: one room per group, found by the purpose marker.
    rooms = await homeserver.rooms_created_by(bot.user_id)
    purpose: dict[str, str] = {}
    invited: Counter[str] = Counter()
    for room_id in rooms:
        state = await homeserver.state(room_id)
        keys = [e["content"]["key"] for e in state if e["type"] == "org.flurfunk.purpose"]
        assert len(keys) == 1, room_id
        assert keys[0] not in purpose, f"two rooms for {keys[0]}"
        purpose[keys[0]] = room_id
        invited.update(
            e["state_key"]
            for e in state
            if e["type"] == "m.room.member" and e["content"].get("membership") == "invite"
        )
    assert set(purpose) == {key for (key,) in groups}
    assert invited == Counter(people), "somebody was invited twice or not at all"

    # Exactly the events the outbox recorded, four per room: intro, follow-up, 👍, 👎.
    for key, room_id in purpose.items():
        sent = await homeserver.sent_by(room_id, bot.user_id)
        assert len(sent) == 4, (key, [e["type"] for e in sent], kills)
        recorded = query(
            bot.database,
            "SELECT event_id FROM outbox WHERE key LIKE ? AND event_id IS NOT NULL",
            (f"{key}:%",),
        )
        assert {e["event_id"] for e in sent} == {r[0] for r in recorded}, key

    report = await homeserver.bodies_from(admin, dm, bot.user_id)
    assert sum("läuft" in body for body in report) == 1, report
