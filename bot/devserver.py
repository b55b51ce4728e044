"""Run a throwaway local Synapse from the installed ``matrix-synapse`` package.

Used by the integration tests (one instance per test session) and by ``make run``.
Synapse's generated config stays untouched; everything we need is written to a second
YAML file passed as an extra ``-c``, whose top-level keys override the generated ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from bot.devserver_config import (
    SynapseError,
    generate_config,
    synapse_overrides,
    write_log_config,
)

SHM = Path("/dev/shm")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalSynapse:
    """One Synapse process with its config, keys, media and database under ``base_dir``.

    ``start()`` after ``stop()`` reuses the same directory and database, so users and rooms
    survive a restart. With ``federation_port`` the server also listens for federation over
    TLS (self-signed) there and is named ``127.0.0.1:<federation_port>``, which lets two
    instances on this machine federate without DNS.

    The SQLite database lives under /dev/shm unless ``ram_database=False``: fast, but gone
    after a reboot of the machine.
    """

    def __init__(
        self,
        base_dir: Path,
        port: int,
        *,
        server_name: str | None = None,
        default_rate_limits: bool = False,
        federation_port: int | None = None,
        ram_database: bool = True,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        self.federation_port = federation_port
        if server_name is None:
            server_name = f"127.0.0.1:{federation_port}" if federation_port else "localhost"
        self.server_name = server_name
        self.default_rate_limits = default_rate_limits
        self.ram_database = ram_database and SHM.is_dir()
        self._process: subprocess.Popen[bytes] | None = None
        self._shared_secret = ""
        self.last_start_seconds = 0.0

    # -- paths ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.base_dir / "homeserver.yaml"

    @property
    def overrides_path(self) -> Path:
        return self.base_dir / "overrides.yaml"

    @property
    def log_path(self) -> Path:
        """Synapse's own (WARNING-level) log."""
        return self.base_dir / "homeserver.log"

    @property
    def process_log_path(self) -> Path:
        """stdout/stderr of the process: start-up crashes land here."""
        return self.base_dir / "process.log"

    @property
    def database_path(self) -> Path:
        # fsync dominates event persistence, so the database lives in RAM where possible.
        # The name is derived from base_dir so that a new LocalSynapse on the same directory
        # (e.g. the next `make run`) finds the same database again.
        if self.ram_database:
            digest = hashlib.sha256(str(self.base_dir).encode()).hexdigest()[:16]
            return SHM / f"flurfunk-synapse-{digest}" / "homeserver.db"
        return self.base_dir / "homeserver.db"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- configuration -------------------------------------------------------------------

    def _load_shared_secret(self) -> str:
        # Kept across rewrites of the overrides: the port may change, the secret must not.
        if not self._shared_secret and self.overrides_path.exists():
            old = yaml.safe_load(self.overrides_path.read_text()) or {}
            self._shared_secret = str(old.get("registration_shared_secret", ""))
        return self._shared_secret

    def _write_overrides(self) -> None:
        if not self._load_shared_secret():
            self._shared_secret = secrets.token_urlsafe(32)
        log_config = write_log_config(self.base_dir, self.log_path)
        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        overrides = synapse_overrides(
            base_dir=self.base_dir,
            port=self.port,
            server_name=self.server_name,
            database_path=self.database_path,
            shared_secret=self._shared_secret,
            log_config=log_config,
            federation_port=self.federation_port,
            default_rate_limits=self.default_rate_limits,
        )
        self.overrides_path.write_text(yaml.safe_dump(overrides, sort_keys=False))

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start Synapse and block until ``/health`` answers 200."""
        if self.running:
            return
        began = time.monotonic()
        generate_config(self.base_dir, self.config_path, self.server_name)
        self._write_overrides()
        cmd = [
            sys.executable,
            "-m",
            "synapse.app.homeserver",
            "-c",
            str(self.config_path),
            "-c",
            str(self.overrides_path),
        ]
        with self.process_log_path.open("ab") as out:
            self._process = subprocess.Popen(
                cmd, cwd=self.base_dir, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = began + timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise SynapseError(f"Synapse exited with {code} during start\n{self.log_tail()}")
            if self._healthy():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise SynapseError(
                    f"Synapse did not answer /health within {timeout} s\n{self.log_tail()}"
                )
            time.sleep(0.05)
        self.last_start_seconds = time.monotonic() - began

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if Synapse has not exited after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: gone at once, as when its machine fails (a graceful stop serves
        requests for a second or more)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def remove_database(self) -> None:
        """Delete the database (it may live outside base_dir, under /dev/shm)."""
        if self.running:
            raise SynapseError("stop Synapse before removing its database")
        if self.database_path.parent == self.base_dir:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.database_path}{suffix}").unlink(missing_ok=True)
        else:
            shutil.rmtree(self.database_path.parent, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.process_log_path, self.log_path):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def __enter__(self) -> LocalSynapse:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- admin API -----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def register_user(
        self,
        localpart: str,
        password: str,
        *,
        admin: bool = False,
        displayname: str | None = None,
    ) -> str:
        """Create a user via the shared-secret admin API; an existing user is fine.

        Returns the full user ID.
        """
        if not self._load_shared_secret():
            raise SynapseError(f"no registration secret yet in {self.overrides_path}")
        path = "/_synapse/admin/v1/register"
        nonce = self._request("GET", path)["nonce"]
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        user_id = f"@{localpart}:{self.server_name}"
        try:
            return str(self._request("POST", path, body)["user_id"])
        except urllib.error.HTTPError as error:
            answer = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                if json.loads(answer).get("errcode") == "M_USER_IN_USE":
                    return user_id
            raise SynapseError(f"registering {user_id} failed: {error.code} {answer}") from None


def main() -> None:
    """``python -m bot.devserver [DIR] [PORT]``: run a dev homeserver until Ctrl-C."""
    base_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".dev/synapse")
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8008
    server = LocalSynapse(base_dir, port)
    server.start()
    print(f"Synapse {server.server_name} at {server.url} ({server.last_start_seconds:.1f} s)")
    try:
        while server.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
