"""What the suites against the real Synapse (tests/integration, tests/fault, bench/) share
besides `MatrixUser` and `BotProcess`: an encrypted room as Element creates one, the bot's
greeting in a new DM, asking the bot and waiting for its answer, waiting for a row in the
bot's store, and the config sections that make the bot's crisis and coffee jobs quick
enough for a test.

    room_id = await encrypted_room(chief, "Krisenstab")
    bot = make_bot(config={"crisis": quick_crisis(room=room_id, staff=[chief.user_id])})
    answer = await ask(chief, bot, dm, "!werkennt Notstrom", "Anfrage")
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

from nio import RoomCreateResponse, RoomMessage

from bot.i18n.render import render
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MEGOLM, MatrixUser

ANSWER_TIMEOUT_S = 30.0

# What the bot says first in a new DM with somebody it has no stored profile of, taken from
# the catalogue so that a reworded greeting does not break the tests that look for it.
GREETING = render("welcome.greeting", "de", prefix="!").plain

# The state event that makes a new room encrypted, as Element sends it.
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}


async def encrypted_room(
    owner: MatrixUser, name: str, invite: list[str] | None = None, **create: Any
) -> str:
    """An encrypted room of `owner`, as Element creates one, once `owner` has synced it;
    `create` goes on to `room_create` (e.g. `power_level_override`)."""
    response = await owner.client.room_create(
        name=name,
        invite=invite or [],
        initial_state=[ENCRYPTION],
        **create,
    )
    assert isinstance(response, RoomCreateResponse), response
    await owner.wait_for_room(response.room_id, encrypted=True)
    return str(response.room_id)


async def from_bot(user: MatrixUser, bot: BotProcess, room_id: str, expect: str) -> RoomMessage:
    """The bot's next message in the room that contains `expect`."""
    return await user.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: expect in m.body, timeout=ANSWER_TIMEOUT_S
    )


async def ask(
    user: MatrixUser, bot: BotProcess, room_id: str, text: str, expect: str
) -> RoomMessage:
    """Send `text`; the bot's message that contains `expect`."""
    await user.send_text(room_id, text)
    return await from_bot(user, bot, room_id, expect)


def said_by(user: MatrixUser, sender: str, room_id: str) -> list[str]:
    """The bodies of `sender`'s messages in the room as `user` decrypted them, in order."""
    return [
        e.body
        for e in user.messages_from(sender, room_id)
        if isinstance(e, RoomMessage) and hasattr(e, "body")
    ]


def read_only(bot: BotProcess) -> sqlite3.Connection:
    """A read-only connection to the running bot's store (it keeps writing, WAL)."""
    return sqlite3.connect(f"file:{bot.database}?mode=ro", uri=True, timeout=30)


async def bot_db_row(
    bot: BotProcess, sql: str, params: tuple[Any, ...] = (), within_s: float = ANSWER_TIMEOUT_S
) -> tuple[Any, ...]:
    """The first row of a query on the bot's store, once there is one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        with closing(read_only(bot)) as db:
            row = db.execute(sql, params).fetchone()
        if row is not None:
            return tuple(row)
        assert loop.time() < deadline, f"no row for {sql} {params} within {within_s} s"
        await asyncio.sleep(0.2)


def quick_crisis(**crisis: Any) -> dict[str, Any]:
    """The `crisis` section of a test bot: its job ticks twice a second, everybody is
    available at any time and may be asked any number of times; `crisis` on top."""
    return {"tick_seconds": 0.5, "default_availability": "immer", "cap_per_week": None, **crisis}


def escalating_crisis(staff: str, tiers: tuple[int, int], timeout_s: float) -> dict[str, Any]:
    """`quick_crisis` for a request nobody answers: `staff` asks, tier 1 and tier 2 (their
    sizes) each time out after `timeout_s`, then everybody else is asked; it expires after
    an hour, long after the test."""
    return quick_crisis(
        staff=[staff],
        tier1_size=tiers[0],
        tier2_size=tiers[1],
        tier1_timeout_s=timeout_s,
        tier2_timeout_s=timeout_s,
        request_expire_s=3600,
    )


def manual_coffee(followup_s: float) -> dict[str, Any]:
    """The `coffee` section of a test bot: no scheduled round (`!admin runde` starts one,
    the job picks it up within a second), the follow-up `followup_s` after the intro."""
    return {"enabled": False, "check_interval_s": 1, "followup_after_days": followup_s / 86400}


def quick_kitchen(**kitchen: Any) -> dict[str, Any]:
    """The `kitchen` section of a test bot: a "minute" of a coffee break offer lasts a
    second, the job looks twice a second; `kitchen` on top."""
    return {"seconds_per_minute": 1, "check_interval_s": 0.5, **kitchen}
