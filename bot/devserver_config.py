"""Configuration of the throwaway dev Synapse (see bot/devserver.py): the generated
homeserver.yaml, the overrides written over it, the log config and a TLS certificate.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


class SynapseError(RuntimeError):
    """Synapse did not start, or an admin request failed."""


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


def generate_config(base_dir: Path, config_path: Path, server_name: str) -> None:
    """Let Synapse write its own homeserver.yaml into ``base_dir`` (once)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    if config_path.exists():
        return
    args = [
        "--server-name",
        server_name,
        "--config-path",
        str(config_path),
        "--data-directory",
        str(base_dir),
        "--generate-config",
        "--report-stats=no",
    ]
    # `python -m synapse.app.homeserver --generate-config` imports all of Synapse
    # (~2.4 s); the config module it calls alone needs ~1 s. Same function, same output.
    fast = [sys.executable, "-c", _GENERATE_CONFIG, *args]
    official = [sys.executable, "-m", "synapse.app.homeserver", *args]
    for cmd in (fast, official):
        result = subprocess.run(cmd, cwd=base_dir, capture_output=True, text=True)
        if result.returncode == 0 and config_path.exists():
            return
    raise SynapseError(f"synapse --generate-config failed:\n{result.stderr}")


def write_log_config(base_dir: Path, log_path: Path) -> Path:
    """A logging config that sends Synapse's WARNING-level log to ``log_path``."""
    log_config = base_dir / "log.yaml"
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
                        "filename": str(log_path),
                        "encoding": "utf8",
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        )
    )
    return log_config


def synapse_overrides(
    *,
    base_dir: Path,
    port: int,
    server_name: str,
    database_path: Path,
    shared_secret: str,
    log_config: Path,
    federation_port: int | None,
    default_rate_limits: bool,
) -> dict[str, Any]:
    """The top-level keys written over Synapse's generated config."""
    listeners: list[dict[str, Any]] = [
        {
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation"], "compress": False}],
        }
    ]
    overrides: dict[str, Any] = {
        # Synapse refuses to start if this differs from the name in its database.
        "server_name": server_name,
        "listeners": listeners,
        "database": {"name": "sqlite3", "args": {"database": str(database_path)}},
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "bcrypt_rounds": 4,
        "presence": {"enabled": False},
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "url_preview_enabled": False,
        "enable_metrics": False,
        "media_store_path": str(base_dir / "media_store"),
        "max_upload_size": "50M",
        "log_config": str(log_config),
        "pid_file": str(base_dir / "homeserver.pid"),
    }
    if federation_port is not None:
        cert, key = ensure_tls_cert(base_dir)
        listeners.append(
            {
                "port": federation_port,
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
            # After one failed request Synapse leaves a peer alone for 10 minutes by
            # default; a local peer that was only slow (a loaded test machine) would then
            # stay unreachable for the rest of the session.
            "federation": {
                "destination_min_retry_interval": "1s",
                "destination_max_retry_interval": "5s",
            },
        }
    if not default_rate_limits:
        overrides |= lifted_rate_limits()
    return overrides


def ensure_tls_cert(base_dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for the federation listener (made once)."""
    cert_path = base_dir / "tls.crt"
    key_path = base_dir / "tls.key"
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
