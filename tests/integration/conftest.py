"""Fixtures for tests against the real Synapse of the test session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.devserver import LocalSynapse

from .matrix_user import MatrixUser, unique_localpart

MakeUser = Callable[..., Awaitable[MatrixUser]]


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
