"""The pytest fixtures of every suite, registered once through `pytest_plugins` in
tests/conftest.py.

pytest-asyncio runs in auto mode with one event loop for the whole session (see
``[tool.pytest.ini_options]`` in pyproject.toml), so async tests and async fixtures of
any scope share that loop; nothing here needs its own loop.

The homeserver fixtures start Synapse lazily: only a session that has a test requesting
them pays the few seconds of start-up; the same holds for PostgreSQL (`postgres`). A suite
adjusts a fixture by overriding a smaller one, as `tests/fault/conftest.py` does with
`bot_config_overrides`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.devpostgres import LocalPostgres
from bot.devserver import LocalSynapse, free_port
from bot.store.db import Database
from tests.support.bot_process import BotProcess, MakeBot
from tests.support.config import deep_merge
from tests.support.homeserver import Homeserver
from tests.support.matrix_user import MatrixUser, unique_localpart
from tests.support.postgres import PostgresDatabases, database_bytes, throwaway_cluster

MakeUser = Callable[..., Awaitable[MatrixUser]]
StoredBytes = Callable[[], Awaitable[bytes]]


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend `db` runs on: "sqlite", unless the suite runs on both
    (`pytest_generate_tests` in tests/conftest.py parametrises this name)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL for the session, started by the first test that needs it."""
    yield from throwaway_cluster()


@pytest.fixture(scope="session")
def postgres_databases(postgres: LocalPostgres) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres)
    yield databases
    databases.close()


@pytest.fixture
async def db(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """A migrated, empty store: a temporary SQLite file, or a fresh database on the
    session's PostgreSQL. A module that needs it filled overrides it:
    `async def db(db: Database) -> Database`, seed, return."""
    async with contextlib.AsyncExitStack() as stack:
        target: Path | str = tmp_path / "flurfunk.db"
        if backend == "postgresql":
            # Looked up only here, so that an SQLite-only session never starts the server.
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            target = await stack.enter_async_context(databases.fresh())
        database = Database(target)
        await database.open()
        stack.push_async_callback(database.close)
        yield database


@pytest.fixture
def stored_bytes(db: Database, backend: str, request: pytest.FixtureRequest) -> StoredBytes:
    """`await stored_bytes()`: what `db` holds on disk now, byte for byte, where erasure
    checks look for a forgotten person: on SQLite the file and its WAL, on PostgreSQL the
    database's files in the cluster (`database_bytes`, which says what that leaves out)."""
    server: LocalPostgres | None = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres")

    async def read() -> bytes:
        if server is not None:
            return await database_bytes(db, server)
        assert isinstance(db.path, Path)
        wal = db.path.with_name(db.path.name + "-wal")
        return db.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    return read


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
    synapse: LocalSynapse,
    tmp_path: Path,
    bot_config_overrides: dict[str, Any],
    backend: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[MakeBot]:
    """``make_bot(config={...}, env={...}, faults=Faults(...), server=other_synapse)``: a
    bot process (not yet started) with a fresh account and data directory; stopped when
    the test ends. A test parametrised with `both_backends` (tests/support/postgres.py)
    also runs with each bot's store in an empty database of its own on the session's
    PostgreSQL, as an operator sets one up for a first start."""
    bots: list[BotProcess] = []
    stores: list[str] = []
    postgres: LocalPostgres | None = None
    if backend == "postgresql":
        postgres = request.getfixturevalue("postgres")

    def make(**kwargs: Any) -> BotProcess:
        server = kwargs.pop("server", synapse)
        base: dict[str, Any] = {}
        if postgres is not None:
            stores.append(unique_localpart("bot").replace("-", "_"))
            base = {"storage": {"database": postgres.create_database(stores[-1])}}
        kwargs["config"] = deep_merge(
            deep_merge(base, bot_config_overrides), kwargs.get("config") or {}
        )
        bot = BotProcess(server, tmp_path / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()
    for name in stores:
        assert postgres is not None
        postgres.drop_database(name)
