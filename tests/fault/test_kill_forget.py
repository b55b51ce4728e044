"""`!vergessen` (SIGKILLed around its "ja"), then a crisis escalation and a coffee round
while another command keeps failing (its handler raises after writing), with SIGKILLs at
seeded random moments: every job write is atomic. Afterwards the forgotten person was asked
nothing and invited nowhere, every other bridge got exactly one request, every group exactly
one room, introduction and follow-up, nobody was invited twice, each failed command changed
nothing and got exactly one apology, the deletion was confirmed once — and the forgotten
person's Matrix ID is nowhere in the store files.

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

from bot.devserver import LocalSynapse
from tests.support.bot_process import BotProcess, dm_with_bot
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.live import ask, escalating_crisis, manual_coffee
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.seed import query, seed_contacts, seed_profiles

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
import bot.commands.language  # noqa: F401  (registers `!sprache`)
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


def localpart(user_id: str) -> str:
    return user_id[1:].split(":")[0]


def count(bot: BotProcess, sql: str, params: tuple[object, ...] = ()) -> int:
    return int(query(bot.database, sql, params)[0][0])


def store_bytes(bot: BotProcess) -> bytes:
    return b"".join(
        Path(f"{bot.database}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{bot.database}{suffix}").exists()
    )


async def test_forget_then_crisis_and_coffee_survive_sigkills_and_a_failing_command(
    make_bot: MakeBot, homeserver: Homeserver, synapse: LocalSynapse, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    people = await asyncio.to_thread(homeserver.register_many, "kollegin", PEOPLE)
    # Those who talk to the bot run real (E2EE) clients: the bot encrypts every DM (S-16).
    chief = await MatrixUser.create(synapse, unique_localpart("chief"), tmp_path)
    clients = [chief]
    try:
        await scenario(make_bot, homeserver, synapse, tmp_path, people, clients, rng)
    finally:
        for client in clients:
            await client.close()


async def scenario(
    make_bot: MakeBot,
    homeserver: Homeserver,
    synapse: LocalSynapse,
    tmp_path: Path,
    people: list[str],
    clients: list[MatrixUser],
    rng: random.Random,
) -> None:
    chief = clients[0]
    vera, talker = people[0], people[-1]  # vera is forgotten; talker's command fails
    bot = make_bot(
        config={
            "bot": {"admins": [chief.user_id]},
            "crisis": escalating_crisis(chief.user_id, (TIER1, TIER2), TIMEOUT_S),
            "coffee": manual_coffee(FOLLOWUP_S),
        },
        env=failing_handler_env(tmp_path),
    )
    await seed_profiles(bot.database, people)
    await seed_contacts(
        bot.database,
        [(p, f"Tafel Ort {i}", "Soziale Träger") for i, p in enumerate(people[:BRIDGES])],
    )
    await bot.start_and_wait()
    vera_client = await MatrixUser.create(synapse, localpart(vera), tmp_path)
    talker_client = await MatrixUser.create(synapse, localpart(talker), tmp_path)
    clients += [vera_client, talker_client]
    assert (vera_client.user_id, talker_client.user_id) == (vera, talker)

    # Vera asks to be forgotten and confirms, before anything else happens.
    vera_dm = await dm_with_bot(vera_client, bot)
    await ask(vera_client, bot, vera_dm, "!vergessen", "wirklich")
    # Her "ja" is answered across a SIGKILL at a random moment: the deletion and its reply
    # commit together, or the event is handled again after the restart.
    await vera_client.send_text(vera_dm, "ja")
    await asyncio.sleep(rng.uniform(0.0, 0.5))
    bot.kill()
    await bot.start_and_wait()
    await vera_client.wait_for_message(
        vera_dm, lambda m: "Erledigt" in m.body, sender=bot.user_id, timeout=30
    )
    assert count(bot, "SELECT COUNT(*) FROM profiles WHERE user_id = ?", (vera,)) == 0
    talker_dm = await dm_with_bot(talker_client, bot)
    dm = await dm_with_bot(chief, bot)

    # The escalation, the round and the failing commands run together; kills in between.
    await chief.send_text(dm, "!werkennt Wer kennt jemanden bei einer Tafel? Brot")
    await chief.send_text(dm, "!admin runde")
    started = time.monotonic()
    failing_at = sorted(rng.uniform(0.0, 2.5 * TIMEOUT_S) for _ in range(FAILING_COMMANDS))
    kill_at = sorted(rng.uniform(0.3, 2.5 * TIMEOUT_S) for _ in range(KILLS))
    moments = sorted([(t, "fail") for t in failing_at] + [(t, "kill") for t in kill_at])
    log: list[str] = []
    for moment, what in moments:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        if what == "fail":
            await talker_client.send_text(talker_dm, "!sprache en")
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
    asked_per_person = query(
        bot.database, "SELECT person, COUNT(*) FROM crisis_timeline WHERE kind = 'asked' GROUP BY 1"
    )
    assert dict(asked_per_person) == dict.fromkeys(bridges, 1), log
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
    await asyncio.sleep(1)  # the talker's client has synced the last replies
    replies = [m.body for m in talker_client.messages_from(bot.user_id, talker_dm)]
    assert sum("nicht geklappt" in b for b in replies) == FAILING_COMMANDS, (replies, log)
    assert not any("English" in b for b in replies), replies

    done = [m for m in vera_client.messages_from(bot.user_id, vera_dm) if "Erledigt" in m.body]
    assert len(done) == 1, "the deletion was confirmed twice"

    bot.stop()
    assert await bot.wait_exit() == 0, bot.log_tail()
    assert vera.encode() not in store_bytes(bot), "the forgotten person is back in the store"
