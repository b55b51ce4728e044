"""Shared fixtures for the whole test suite.

pytest-asyncio runs in auto mode with one event loop for the whole session (see
``[tool.pytest.ini_options]`` in pyproject.toml), so async tests and async fixtures of
any scope share that loop; nothing here needs its own loop.

The homeserver fixtures start Synapse lazily: only a session that has a test requesting
them pays the few seconds of start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated store in a temporary SQLite file (suites with their own `db` override it)."""
    database = Database(tmp_path / "flurfunk.db")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration talks to a real homeserver.
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
