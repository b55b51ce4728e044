"""Stopping the bot in the middle of a crisis broadcast to 200 bridge persons, the way
Docker stops it: SIGTERM, and SIGKILL 10 s later.

- A single SIGTERM: the bot exits by itself within 5 s (exit code 0) and logs what was
  left pending; after the restart the broadcast goes on.
- SIGTERM and, while the bot is still stopping, SIGINT: it exits at once (no clean-up, as
  if killed).
Afterwards every bridge has exactly one DM room with the bot and in it the request and its
two reaction buttons, once; nothing failed. The bot creates the 200 DM rooms itself (cold),
so room creation is among the sends a stop interrupts.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver, until
from tests.support.live import quick_crisis
from tests.support.seed import query, seed_contacts

BRIDGES = 200
# Docker's default stop timeout is 10 s; the bot promises half of it.
STOP_BAR_S = 5.0


def asks_sent(database: Path) -> int:
    rows = query(
        database,
        "SELECT COUNT(*) FROM outbox WHERE key LIKE 'crisis:%:ask:%' "
        "AND instr(key, ':react') = 0 AND status = 'sent'",
    )
    return int(rows[0][0])


def delivered(database: Path) -> int:
    """Everything of the broadcast handed to the homeserver: asks and reaction buttons."""
    return int(query(database, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")[0][0])


def pending(database: Path) -> int:
    rows = query(database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    return int(rows[0][0])


async def test_sigterm_during_a_200_bridge_broadcast(
    make_bot: MakeBot, homeserver: Homeserver
) -> None:
    bridges = await asyncio.to_thread(homeserver.register_many, "bruecke", BRIDGES)
    chief = homeserver.admin
    bot = make_bot(
        config={
            "crisis": quick_crisis(
                staff=[chief.user_id],
                # One tier reaches everybody at once: the broadcast a crisis sends.
                tier1_size=BRIDGES,
                tier1_timeout_s=3600,
                tier2_timeout_s=3600,
                request_expire_s=7200,
            )
        }
    )
    await seed_contacts(
        bot.database, [(b, f"Tafel {i}", "Soziale Träger") for i, b in enumerate(bridges)]
    )
    await bot.start_and_wait()
    dm = await homeserver.open_dm(chief, bot.user_id)
    await homeserver.wait_for_body(chief, dm, bot.user_id, lambda b: "Flurfunk" in b)
    await homeserver.send_text(chief, dm, "!werkennt Wer kennt jemanden bei einer Tafel?")
    assert bot.process is not None

    # 1. SIGTERM a quarter into the broadcast: a graceful stop within the bar.
    await until(lambda: asks_sent(bot.database) >= BRIDGES // 4, 180, "a quarter asked")
    signalled = time.monotonic()
    bot.process.send_signal(signal.SIGTERM)
    code = await bot.wait_exit(timeout=15)
    took = time.monotonic() - signalled
    assert code == 0, bot.log_tail()
    assert took <= STOP_BAR_S, f"stopping took {took:.1f} s\n{bot.log_tail()}"
    left = pending(bot.database)
    assert left > 0, "the broadcast was over before the stop: nothing was interrupted"
    last_lines = bot.log_tail(5)
    assert f"{left} outbox items left pending" in last_lines, last_lines
    print(f"graceful stop: {took:.2f} s from SIGTERM to exit, {left} items left pending")

    # 2. Restarted; once the broadcast goes on, a second signal while the bot stops again
    # exits at once. Going on is counted in everything sent: the asks go out first, and the
    # sends under way at the stop may well have taken nearly all of them, leaving the buttons.
    sent_before = delivered(bot.database)
    bot.start()
    await bot.wait_healthy(timeout=60)
    await until(lambda: delivered(bot.database) >= sent_before + BRIDGES // 10, 180, "more sent")
    assert pending(bot.database) > 0
    bot.process.send_signal(signal.SIGTERM)
    # The sends under way get up to 2 s: the second signal comes within them.
    await until(
        lambda: bot.log_path.read_text(errors="replace").count("send it again to exit") == 2,
        2,
        "the first signal",
        interval=0.05,
    )
    signalled = time.monotonic()
    bot.process.send_signal(signal.SIGINT)
    code = await bot.wait_exit(timeout=15)
    assert code == 128 + signal.SIGINT, bot.log_tail()
    assert time.monotonic() - signalled < 1.0

    # 3. Restarted: the broadcast completes, every bridge asked exactly once.
    bot.start()
    await bot.wait_healthy(timeout=60)
    await until(
        lambda: asks_sent(bot.database) == BRIDGES and pending(bot.database) == 0,
        300,
        "the whole broadcast",
        interval=1,
    )
    await asyncio.sleep(3)  # anything sent twice would have arrived by now
    statuses = query(bot.database, "SELECT status, COUNT(*) FROM outbox GROUP BY 1")
    assert [status for status, _ in statuses] == ["sent"], statuses

    rooms_of = await homeserver.rooms_with_members(bot.user_id)
    assert set(rooms_of) == set(bridges)
    for bridge in bridges:
        assert len(rooms_of[bridge]) == 1, (bridge, "DM room created twice")
        sent = await homeserver.sent_by(rooms_of[bridge][0], bot.user_id)
        kinds = sorted(
            "message" if e["type"] in ("m.room.message", "m.room.encrypted") else e["type"]
            for e in sent
        )
        # The request (encrypted or not: exactly-once is the point here) and its 👍/👎
        # buttons, once.
        assert kinds == ["m.reaction", "m.reaction", "message"], (bridge, kinds)
