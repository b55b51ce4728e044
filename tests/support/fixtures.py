"""The pytest fixtures of every suite, registered once through `pytest_plugins` in
tests/conftest.py.

pytest-asyncio runs in auto mode with one event loop for the whole session (see
``[tool.pytest.ini_options]`` in pyproject.toml), so async tests and async fixtures of
any scope share that loop; nothing here needs its own loop.

The homeserver fixtures start Synapse lazily: only a session that has a test requesting
them pays the few seconds of start-up. A suite adjusts a fixture by overriding a smaller
one, as `tests/fault/conftest.py` does with `bot_config_overrides`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database
from tests.support.bot_process import BotProcess, MakeBot
from tests.support.config import deep_merge
from tests.support.homeserver import Homeserver
from tests.support.matrix_user import MatrixUser, unique_localpart

MakeUser = Callable[..., Awaitable[MatrixUser]]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated store in a temporary SQLite file. A module that needs it filled
    overrides it: `async def db(db: Database) -> Database`, seed, return."""
    database = Database(tmp_path / "flurfunk.db")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


# -- homeservers -----------------------------------------------------------------------


def _run_synapse(base_dir: Path, *, default_rate_limits: bool) -> Iterator[LocalSynapse]:
    server = LocalSynapse(base_dir, free_port(), default_rate_limits=default_rate_limits)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.remove_database()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """One Synapse for the whole session, every rate limit lifted. Use fresh users and
    rooms per test (``unique_localpart``)."""
    yield from _run_synapse(tmp_path_factory.mktemp("synapse"), default_rate_limits=False)


@pytest.fixture(scope="session")
def synapse_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """A second Synapse with Synapse's default rate limits, to meet real 429s."""
    yield from _run_synapse(tmp_path_factory.mktemp("synapse-limited"), default_rate_limits=True)


@pytest.fixture(scope="session")
def synapse_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalSynapse, LocalSynapse]]:
    """Two federating Synapses, named ``127.0.0.1:<port>`` (TLS federation listeners with
    self-signed certificates), started in parallel."""
    base = tmp_path_factory.mktemp("synapse-pair")
    servers = [LocalSynapse(base / name, free_port(), federation_port=free_port()) for name in "ab"]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LocalSynapse.start, servers))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
            server.remove_database()


@pytest.fixture
async def homeserver(synapse: LocalSynapse) -> AsyncIterator[Homeserver]:
    """A Synapse admin on the session's homeserver: raw HTTP, what the server stored."""
    server = await Homeserver.create(synapse)
    yield server
    await server.close()


# -- people and the bot ----------------------------------------------------------------


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
def bot_config_overrides() -> dict[str, Any]:
    """Config every `make_bot` of a suite starts from (the test's `config=` goes over it)."""
    return {}


@pytest.fixture
async def make_bot(
    synapse: LocalSynapse, tmp_path: Path, bot_config_overrides: dict[str, Any]
) -> AsyncIterator[MakeBot]:
    """``make_bot(config={...}, env={...}, faults=Faults(...), server=other_synapse)``: a
    bot process (not yet started) with a fresh account and data directory; stopped when
    the test ends."""
    bots: list[BotProcess] = []

    def make(**kwargs: Any) -> BotProcess:
        server = kwargs.pop("server", synapse)
        kwargs["config"] = deep_merge(bot_config_overrides, kwargs.get("config") or {})
        bot = BotProcess(server, tmp_path / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()
