"""`!vergessen`, then a crisis escalation and a coffee round while another command keeps
failing (its handler raises after writing), with SIGKILLs at seeded random moments: every
job write is atomic. Afterwards the forgotten person was asked nothing and invited nowhere,
every other bridge got exactly one request, every group exactly one room, introduction and
follow-up, nobody was invited twice, each failed command changed nothing and got exactly one
apology — and the forgotten person's Matrix ID is nowhere in the store files.

The failing command is `!sprache` in this bot process only: a `sitecustomize` module on the
bot's `PYTHONPATH` wraps its handler so that it stores the choice and then raises.
`FLURFUNK_FAULT_SEED` picks other kill moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

from integration.bot_process import BotProcess

from .conftest import MakeBot
from .homeserver import Homeserver, until
from .seed import query, seed_contacts, seed_profiles

SEED = int(os.environ.get("FLURFUNK_FAULT_SEED", "20261205"))
PEOPLE = 11  # coffee colleagues; the first BRIDGES of them are bridges too
BRIDGES = 7
TIER1, TIER2 = 2, 2
TIMEOUT_S = 4.0
FOLLOWUP_S = 8.0
KILLS = 3
FAILING_COMMANDS = 3
# Per coffee group: the room, the introduction, the follow-up and its two reaction buttons.
EFFECTS_PER_GROUP = 5

FAILING_HANDLER = '''
"""Fault injection for tests/fault/test_kill_forget.py: `!sprache` stores, then raises."""
import bot.commands  # noqa: F401  (registers every command)
from bot.commands.registry import REGISTRY

_command = REGISTRY.lookup("sprache")
_original = _command.handler


async def _failing(ctx, **args):
    await _original(ctx, **args)
    raise RuntimeError("fault injection: the handler fails after writing")


_command.handler = _failing
'''


def failing_handler_env(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "fault-site"
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(FAILING_HANDLER, encoding="utf-8")
    return {"PYTHONPATH": str(directory)}


def count(bot: BotProcess, sql: str, params: tuple[object, ...] = ()) -> int:
    return int(query(bot.database, sql, params)[0][0])


def store_bytes(bot: BotProcess) -> bytes:
    return b"".join(
        Path(f"{bot.database}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{bot.database}{suffix}").exists()
    )


async def test_forget_then_crisis_and_coffee_survive_sigkills_and_a_failing_command(
    make_bot: MakeBot, homeserver: Homeserver, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    people = await asyncio.to_thread(homeserver.register_many, "kollegin", PEOPLE)
    vera, talker = people[0], people[-1]  # vera is forgotten; talker's command fails
    chief = homeserver.admin
    bot = make_bot(
        config={
            "bot": {"admins": [chief.user_id]},
            "crisis": {
                "staff": [chief.user_id],
                "tier1_size": TIER1,
                "tier2_size": TIER2,
                "tier1_timeout_s": TIMEOUT_S,
                "tier2_timeout_s": TIMEOUT_S,
                "request_expire_s": 3600,
                "tick_seconds": 0.5,
                "default_availability": "immer",
                "cap_per_week": None,
            },
            "coffee": {
                "enabled": False,
                "check_interval_s": 1,
                "followup_after_days": FOLLOWUP_S / 86400,
            },
        },
        env=failing_handler_env(tmp_path),
    )
    await seed_profiles(bot.database, people)
    await seed_contacts(
        bot.database,
        [(p, f"Tafel Ort {i}", "Soziale Träger") for i, p in enumerate(people[:BRIDGES])],
    )
    await bot.start_and_wait()

    # Vera asks to be forgotten and confirms, before anything else happens.
    vera_account = await homeserver.puppet(vera)
    vera_dm = await homeserver.open_dm(vera_account, bot.user_id)
    await homeserver.wait_for_body(vera_account, vera_dm, bot.user_id, lambda b: "Flurfunk" in b)
    await homeserver.send_text(vera_account, vera_dm, "!vergessen")
    await homeserver.wait_for_body(vera_account, vera_dm, bot.user_id, lambda b: "wirklich" in b)
    await homeserver.send_text(vera_account, vera_dm, "ja")
    await homeserver.wait_for_body(vera_account, vera_dm, bot.user_id, lambda b: "Erledigt" in b)
    assert count(bot, "SELECT COUNT(*) FROM profiles WHERE user_id = ?", (vera,)) == 0

    talker_account = await homeserver.puppet(talker)
    talker_dm = await homeserver.open_dm(talker_account, bot.user_id)
    await homeserver.wait_for_body(
        talker_account, talker_dm, bot.user_id, lambda b: "Flurfunk" in b
    )
    dm = await homeserver.open_dm(chief, bot.user_id)
    await homeserver.wait_for_body(chief, dm, bot.user_id, lambda b: "Flurfunk" in b)

    # The escalation, the round and the failing commands run together; kills in between.
    await homeserver.send_text(chief, dm, "!werkennt Wer kennt jemanden bei einer Tafel? Brot")
    await homeserver.send_text(chief, dm, "!admin runde")
    started = time.monotonic()
    failing_at = sorted(rng.uniform(0.0, 2.5 * TIMEOUT_S) for _ in range(FAILING_COMMANDS))
    kill_at = sorted(rng.uniform(0.3, 2.5 * TIMEOUT_S) for _ in range(KILLS))
    moments = sorted([(t, "fail") for t in failing_at] + [(t, "kill") for t in kill_at])
    log: list[str] = []
    for moment, what in moments:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        if what == "fail":
            await homeserver.send_text(talker_account, talker_dm, "!sprache en")
            log.append(f"{moment:.1f} s: !sprache en")
            continue
        bot.kill()
        asked = count(bot, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'")
        sent = count(bot, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
        down = rng.choice((0.0, 0.5, TIMEOUT_S))
        log.append(f"{moment:.1f} s: killed ({asked} asked, {sent} sent), down {down} s")
        await asyncio.sleep(down)
        bot.start()
        await bot.wait_healthy(timeout=60)

    bridges = people[1:BRIDGES]  # everybody but vera
    await until(
        lambda: (
            count(bot, "SELECT COUNT(*) FROM crisis_timeline WHERE kind = 'asked'") == len(bridges)
        ),
        90,
        f"every remaining bridge asked ({log})",
    )
    groups = query(bot.database, "SELECT room_key FROM coffee_groups")
    assert groups, log
    await until(
        lambda: (
            count(bot, "SELECT COUNT(*) FROM coffee_groups WHERE followup_sent_at IS NULL") == 0
            and count(bot, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0
        ),
        90,
        f"every follow-up sent and the outbox empty ({log})",
    )
    await asyncio.sleep(3)  # anything sent twice would have arrived by now

    # Atomic job writes: exact counts, nothing twice, nothing lost, nothing about vera.
    assert query(bot.database, "SELECT status FROM outbox GROUP BY 1") == [("sent",)], log
    asked = query(
        bot.database, "SELECT person, COUNT(*) FROM crisis_timeline WHERE kind = 'asked' GROUP BY 1"
    )
    assert dict(asked) == dict.fromkeys(bridges, 1), log
    assert query(bot.database, "SELECT COUNT(*) FROM coffee_rounds") == [(1,)], log
    members = query(bot.database, "SELECT person FROM coffee_members")
    assert Counter(p for (p,) in members) == Counter(people[1:]), log
    sent_by_key = query(
        bot.database,
        "SELECT COUNT(*) FROM outbox WHERE key LIKE 'coffee:%/%' AND status = 'sent'",
    )
    assert sent_by_key == [(len(groups) * EFFECTS_PER_GROUP,)], log

    # The homeserver's view: one room per group; everybody but vera invited exactly once,
    # each bridge got one request DM (with its 👍/👎) and no DM was opened twice.
    invited: Counter[str] = Counter()
    purpose: list[str] = []
    dm_rooms: Counter[str] = Counter()
    for room_id in await homeserver.rooms_created_by(bot.user_id):
        state = await homeserver.state(room_id)
        keys = [e["content"]["key"] for e in state if e["type"] == "org.flurfunk.purpose"]
        members_of = [
            e["state_key"]
            for e in state
            if e["type"] == "m.room.member" and e["state_key"] != bot.user_id
        ]
        if keys:
            purpose += keys
            invited.update(members_of)
            assert len(await homeserver.sent_by(room_id, bot.user_id)) == 4, (keys, log)
        else:
            dm_rooms.update(members_of)
            assert len(await homeserver.sent_by(room_id, bot.user_id)) == 3, (members_of, log)
    assert sorted(purpose) == sorted(key for (key,) in groups), log
    assert invited == Counter(people[1:]), log
    assert dm_rooms == Counter(bridges), log

    # Each failing command: rolled back (no language stored) and exactly one apology.
    assert count(bot, "SELECT COUNT(*) FROM language_choice WHERE user_id = ?", (talker,)) == 0
    replies = await homeserver.bodies_from(talker_account, talker_dm, bot.user_id)
    assert sum("nicht geklappt" in b for b in replies) == FAILING_COMMANDS, (replies, log)
    assert not any("English" in b for b in replies), replies

    bot.stop()
    assert await bot.wait_exit() == 0, bot.log_tail()
    assert vera.encode() not in store_bytes(bot), "the forgotten person is back in the store"
