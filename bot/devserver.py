"""Run a throwaway local Synapse from the installed ``matrix-synapse`` package.

Used by the integration tests (one instance per test session) and by ``make run``.
Synapse's generated config stays untouched; everything we need is written to a second
YAML file passed as an extra ``-c``, whose top-level keys override the generated ones.
"""

from __future__ import annotations

import contextlib
import datetime
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

SHM = Path("/dev/shm")

# Every limiter Synapse 1.163 reads in synapse/config/ratelimiting.py. A value of 0 would
# mean "deny everything", so "unlimited" is a very large rate and burst instead.
_UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}
_RC_FLAT = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_admin_redaction",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)
_RC_NESTED = {
    "rc_login": ("address", "account", "failed_attempts"),
    "rc_joins": ("local", "remote"),
    "rc_invites": ("per_room", "per_user", "per_issuer"),
    "rc_presence": ("per_user",),
}


_GENERATE_CONFIG = (
    "import sys; from synapse.config.homeserver import HomeServerConfig; "
    "HomeServerConfig.load_or_generate_config('Synapse Homeserver', sys.argv[1:])"
)


def lifted_rate_limits() -> dict[str, Any]:
    """Config keys that switch off every Synapse rate limiter."""
    limits: dict[str, Any] = {key: dict(_UNLIMITED) for key in _RC_FLAT}
    for key, parts in _RC_NESTED.items():
        limits[key] = {part: dict(_UNLIMITED) for part in parts}
    limits["rc_federation"] = {
        "window_size": 1000,
        "sleep_limit": 1_000_000,
        "sleep_delay": 1,
        "reject_limit": 1_000_000,
        "concurrent": 1_000_000,
    }
    limits["federation_rr_transactions_per_room_per_second"] = 1_000_000
    limits["remote_media_download_per_second"] = "1G"
    limits["remote_media_download_burst_count"] = "100G"
    return limits


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SynapseError(RuntimeError):
    """Synapse did not start, or an admin request failed."""


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

    def _generate_config(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            return
        args = [
            "--server-name",
            self.server_name,
            "--config-path",
            str(self.config_path),
            "--data-directory",
            str(self.base_dir),
            "--generate-config",
            "--report-stats=no",
        ]
        # `python -m synapse.app.homeserver --generate-config` imports all of Synapse
        # (~2.4 s); the config module it calls alone needs ~1 s. Same function, same output.
        fast = [sys.executable, "-c", _GENERATE_CONFIG, *args]
        official = [sys.executable, "-m", "synapse.app.homeserver", *args]
        for cmd in (fast, official):
            result = subprocess.run(cmd, cwd=self.base_dir, capture_output=True, text=True)
            if result.returncode == 0 and self.config_path.exists():
                return
        raise SynapseError(f"synapse --generate-config failed:\n{result.stderr}")

    def _load_shared_secret(self) -> str:
        # Kept across rewrites of the overrides: the port may change, the secret must not.
        if not self._shared_secret and self.overrides_path.exists():
            old = yaml.safe_load(self.overrides_path.read_text()) or {}
            self._shared_secret = str(old.get("registration_shared_secret", ""))
        return self._shared_secret

    def _write_overrides(self) -> None:
        if not self._load_shared_secret():
            self._shared_secret = secrets.token_urlsafe(32)

        log_config = self.base_dir / "log.yaml"
        log_config.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {
                        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "plain",
                            "filename": str(self.log_path),
                            "encoding": "utf8",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )

        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        listeners: list[dict[str, Any]] = [
            {
                "port": self.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ]
        overrides: dict[str, Any] = {
            # Synapse refuses to start if this differs from the name in its database.
            "server_name": self.server_name,
            "listeners": listeners,
            "database": {"name": "sqlite3", "args": {"database": str(self.database_path)}},
            "registration_shared_secret": self._shared_secret,
            "enable_registration": False,
            "bcrypt_rounds": 4,
            "presence": {"enabled": False},
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "url_preview_enabled": False,
            "enable_metrics": False,
            "media_store_path": str(self.base_dir / "media_store"),
            "max_upload_size": "50M",
            "log_config": str(log_config),
            "pid_file": str(self.base_dir / "homeserver.pid"),
        }
        if self.federation_port is not None:
            cert, key = self._ensure_tls_cert()
            listeners.append(
                {
                    "port": self.federation_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "x_forwarded": False,
                    "resources": [{"names": ["federation"], "compress": False}],
                }
            )
            overrides |= {
                "tls_certificate_path": str(cert),
                "tls_private_key_path": str(key),
                # Peers are other local test servers with self-signed certificates.
                "federation_verify_certificates": False,
                "ip_range_blacklist": [],
                "ip_range_whitelist": ["127.0.0.0/8"],
            }
        if not self.default_rate_limits:
            overrides |= lifted_rate_limits()
        self.overrides_path.write_text(yaml.safe_dump(overrides, sort_keys=False))

    def _ensure_tls_cert(self) -> tuple[Path, Path]:
        cert_path = self.base_dir / "tls.crt"
        key_path = self.base_dir / "tls.key"
        if cert_path.exists() and key_path.exists():
            return cert_path, key_path
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start Synapse and block until ``/health`` answers 200."""
        if self.running:
            return
        began = time.monotonic()
        self._generate_config()
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
