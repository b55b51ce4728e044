# ruff: noqa: ASYNC109
"""The bot as a real process (`python -m bot run -c FILE`), as an operator runs it.

Tests start, SIGKILL and restart it; its data directory survives restarts. With `faults`
it is started through `tests.support.faults`, which patches the fault seams first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.devserver import LocalSynapse, free_port
from tests.support.config import deep_merge
from tests.support.faults import Faults
from tests.support.matrix_user import MatrixUser, unique_localpart

# The repository root: `python -m tests.support.faults` must find the `tests` package.
ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    def __init__(
        self,
        synapse: LocalSynapse,
        base_dir: Path,
        *,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.synapse = synapse
        self.base_dir = base_dir
        self.base_dir.mkdir(parents=True, exist_ok=True)
        localpart = unique_localpart("flurfunk")
        password = f"pw-{localpart}"
        self.user_id = synapse.register_user(localpart, password, displayname="Flurfunk")
        self.health_port = free_port()
        base = {
            "homeserver": {
                "url": synapse.url,
                "user_id": self.user_id,
                "password": password,
                "allowed_homeservers": [synapse.server_name],
            },
            "storage": {"data_dir": str(base_dir / "data")},
            "sync": {"timeout_ms": 5000, "backoff_initial_s": 1.0, "backoff_max_s": 4.0},
            "bot": {"decrypt_wait_s": 5},
            "operations": {"http_port": self.health_port, "log_level": "DEBUG"},
            # Scheduled rounds would invite test users at unpredictable times; tests that
            # need them switch them on.
            "coffee": {"enabled": False},
            "circles": {"enabled": False},
        }
        self.config = deep_merge(base, config or {})
        self.config_path = base_dir / "flurfunk.yaml"
        self.write_config()
        self.env = env or {}
        self.faults = faults
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = base_dir / "bot.log"
        self.starts = 0

    @property
    def database(self) -> Path:
        """The SQLite store file (the default; absent when `store` is a PostgreSQL URL)."""
        return Path(self.config["storage"]["data_dir"]) / "flurfunk.db"

    @property
    def store(self) -> Path | str:
        """What the bot's store is, as `Database` opens it: the SQLite file or the URL
        in `storage.database` (`make_bot` on the PostgreSQL backend)."""
        return self.config["storage"].get("database") or self.database

    def access_token(self) -> str:
        """The token the bot logged in with (benchmarks act as the bot with it)."""
        with sqlite3.connect(self.database) as db:
            row = db.execute("SELECT value FROM bot_state WHERE key = 'access_token'").fetchone()
        assert row, "the bot has not logged in yet"
        return str(row[0])

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        bot_args = ["run", "-c", str(self.config_path)]
        command = (
            [sys.executable, "-m", "bot", *bot_args]
            if self.faults is None
            else self.faults.command(bot_args)
        )
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"bot exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if await asyncio.to_thread(self._healthy):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"bot not healthy after {timeout}s:\n{self.log_tail()}")

    async def start_and_wait(self) -> None:
        self.start()
        await self.wait_healthy()

    def _healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.health_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def metrics(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.health_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    async def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# `make_bot(config=..., faults=..., server=...)` (the fixture in tests/support/fixtures.py).
MakeBot = Callable[..., BotProcess]


async def dm_with_bot(user: MatrixUser, bot: BotProcess, timeout: float = 30) -> str:
    """Open an Element-like DM with the bot and wait for its greeting, so later counts
    start from a known state."""
    room_id = await user.open_dm(bot.user_id)
    await user.wait_for_message(room_id, sender=bot.user_id, timeout=timeout)
    return room_id
