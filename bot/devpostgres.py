"""Run a throwaway local PostgreSQL for the tests and for ``make run DATABASE=postgres``.

The server binaries come from ``PATH`` (``initdb`` and ``pg_ctl``) if a system PostgreSQL is
installed, otherwise from the ``pgserver`` package of the dev extra, which ships them inside
its wheel: a fresh machine needs nothing but Python. The cluster listens on a Unix socket
only and trusts every local connection (no password, nothing reachable over the network);
its superuser is the role ``flurfunk``.

Cluster administration (creating and dropping whole databases) is dev tooling, not the
bot's data, so it lives here rather than in ``bot/store``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg
from psycopg import sql

ROLE = "flurfunk"
# The socket's path, `<dir>/.s.PGSQL.<port>`, must fit into sun_path (108 bytes).
MAX_SOCKET_DIR = 80
# Only the name of the socket file: the server opens no TCP port, and the socket directory
# belongs to this cluster alone, so the number cannot clash with another server.
DEFAULT_PORT = 5432
# initdb refuses to run as root; the first of these that exists runs the server instead.
UNPRIVILEGED_USERS = ("postgres", "nobody")


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be set up, started or stopped."""


def binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: the system's, else ``pgserver``'s."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl", path=str(Path(initdb).parent)):
        return Path(initdb).parent
    # Only located, not imported: importing pgserver sets up machinery we do not use.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bundled / "initdb").exists():
            return bundled
    raise PostgresError(
        "no PostgreSQL found: install it (initdb and pg_ctl on PATH) or "
        "`pip install -e '.[dev]'`, which brings the pgserver package"
    )


def _server_account() -> pwd.struct_passwd | None:
    """Who runs initdb and the server: us, unless we are root (then an unprivileged user)."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError(f"running as root and none of the users {UNPRIVILEGED_USERS} exists")


def _run(command: list[str], account: pwd.struct_passwd | None, what: str) -> None:
    # Output goes to a file, not a pipe: the server started by pg_ctl could inherit a pipe
    # and keep it open, and reading it would then never end.
    with tempfile.TemporaryFile("w+") as output:
        done = subprocess.run(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd="/",
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            check=False,
        )
        if done.returncode != 0:
            output.seek(0)
            raise PostgresError(f"{what} failed ({done.returncode}):\n{output.read()}")


class LocalPostgres:
    """One PostgreSQL cluster under ``base_dir``: ``data/`` (initialised on the first
    start), ``postgres.log`` and the socket directory.

    ``start()`` after ``stop()`` reuses the data, so the databases of ``make run`` survive
    a restart. ``durable=False`` turns off fsync and synchronous commit: for tests only, a
    crash of the machine may then lose or corrupt the cluster. A started cluster is stopped
    at interpreter exit at the latest.
    """

    def __init__(self, base_dir: Path, *, port: int = DEFAULT_PORT, durable: bool = True) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        self.durable = durable
        self._account = _server_account()
        self._started = False
        self.last_start_seconds = 0.0

    # -- paths ---------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        own = self.base_dir / "socket"
        if len(str(own)) <= MAX_SOCKET_DIR:
            return own
        # Too deep for a socket path: a short directory named after base_dir, so that the
        # next start on the same base_dir finds the same URL.
        digest = hashlib.sha256(str(self.base_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"flurfunk-pg-{digest}"

    def url(self, database: str = "postgres") -> str:
        """The connection URL of ``database`` (trust authentication: no password)."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{ROLE}@/{quote(database, safe='')}?host={host}&port={self.port}"

    @property
    def running(self) -> bool:
        return self._started

    # -- lifecycle -----------------------------------------------------------------------

    def _pg_ctl(self, *args: str, what: str) -> None:
        pg_ctl = str(binaries() / "pg_ctl")
        _run([pg_ctl, "-D", str(self.data_dir), *args], self._account, what)

    def _prepare(self) -> None:
        for directory in (self.base_dir, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            if self._account is not None:
                os.chown(directory, self._account.pw_uid, self._account.pw_gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        command = [str(binaries() / "initdb"), "-D", str(self.data_dir), "-U", ROLE]
        # The C locale sorts by bytes, as SQLite does, and exists on every machine.
        command += ["-A", "trust", "-E", "UTF8", "--locale=C"]
        if not self.durable:
            command.append("--no-sync")
        user = f" as {self._account.pw_name}" if self._account else ""
        # As root, the server's user must be able to reach base_dir (no 0700 parent).
        _run(command, self._account, f"initdb{user} in {self.data_dir}")

    def start(self, timeout: float = 30.0) -> None:
        """Initialise the cluster if needed, start it and block until it accepts
        connections."""
        if self._started:
            return
        began = time.monotonic()
        self._prepare()
        # A server left behind by a killed run on this directory would hold the data
        # directory's lock; it is stopped first so that this start gets our settings.
        with contextlib.suppress(PostgresError):
            self._pg_ctl("stop", "-m", "fast", "-w", what="stopping a leftover server")
        options = ["-k", str(self.socket_dir), "-p", str(self.port), "-c", "listen_addresses="]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            options += ["-c", "full_page_writes=off"]
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            str(int(timeout)),
            "-l",
            str(self.log_path),
            "-o",
            shlex.join(options),
            what=f"starting PostgreSQL (log: {self.log_path})",
        )
        self._started = True
        atexit.register(self.stop)
        self.last_start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Fast shutdown: open connections are ended, committed data stays."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        self._pg_ctl("stop", "-m", "fast", "-w", what="stopping PostgreSQL")

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------

    def _administer(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (a copy of ``template`` if given) and return its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._administer(statement)
        return self.url(name)

    def ensure_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its URL."""
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            self.create_database(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, ending any connection still open to it."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._administer(statement.format(sql.Identifier(name)))


def main() -> None:
    """``python -m bot.devpostgres [DIR]``: run a local PostgreSQL until Ctrl-C."""
    server = LocalPostgres(Path(sys.argv[1] if len(sys.argv) > 1 else ".dev/postgres"))
    server.start()
    print(f"PostgreSQL at {server.url()} ({server.last_start_seconds:.1f} s)", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
