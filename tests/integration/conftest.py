"""Fixtures for tests against the real Synapse of the test session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.devserver import LocalSynapse

from .bot_process import BotProcess
from .matrix_user import MatrixUser, unique_localpart

MakeUser = Callable[..., Awaitable[MatrixUser]]
MakeBot = Callable[..., BotProcess]


@pytest.fixture
async def make_user(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[MakeUser]:
    """``await make_user("alice", accept_invites=True)``: a fresh, logged-in, syncing user
    (the name gets a random suffix); closed when the test ends."""
    users: list[MatrixUser] = []

    async def make(prefix: str, **kwargs: Any) -> MatrixUser:
        user = await MatrixUser.create(synapse, unique_localpart(prefix), tmp_path, **kwargs)
        users.append(user)
        return user

    yield make
    for user in users:
        await user.close()


@pytest.fixture
async def make_bot(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """``make_bot(config={...}, env={...}, server=other_synapse)``: a bot process (not yet
    started) with a fresh account and data directory; stopped when the test ends."""
    bots: list[BotProcess] = []

    def make(**kwargs: Any) -> BotProcess:
        server = kwargs.pop("server", synapse)
        bot = BotProcess(server, tmp_path / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()


async def dm_with_bot(user: MatrixUser, bot: BotProcess) -> str:
    """Open an Element-like DM with the bot and wait for its greeting, so later counts
    start from a known state."""
    room_id = await user.open_dm(bot.user_id)
    await user.wait_for_message(room_id, sender=bot.user_id, timeout=30)
    return room_id
