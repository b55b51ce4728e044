"""The configuration file: pydantic models, YAML loading, env overrides for secrets.

Every problem names the offending key and what is expected, so an operator can fix
the file without reading code.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "FLURFUNK_"
# Secrets an operator may keep out of the file. Env wins over the file.
SECRET_ENV = {
    "FLURFUNK_PASSWORD": ("homeserver", "password"),
    "FLURFUNK_ACCESS_TOKEN": ("homeserver", "access_token"),
    "FLURFUNK_HOMESERVER_URL": ("homeserver", "url"),
}

MatrixUserId = Annotated[str, Field(pattern=r"^@[^:\s]+:[^\s]+$")]
MatrixRoomId = Annotated[str, Field(pattern=r"^![^:\s]+:[^\s]+$")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HomeserverConfig(Section):
    url: str = Field(pattern=r"^https?://")
    user_id: MatrixUserId
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "Flurfunk"
    allowed_homeservers: list[str] = Field(min_length=1)
    verify_tls: bool = True

    @model_validator(mode="after")
    def _has_credentials(self) -> HomeserverConfig:
        if self.password is None and self.access_token is None:
            raise ValueError(
                "password or access_token is required "
                "(or the env var FLURFUNK_PASSWORD / FLURFUNK_ACCESS_TOKEN)"
            )
        return self


class StorageConfig(Section):
    data_dir: Path = Path("data")

    @property
    def database(self) -> Path:
        return self.data_dir / "flurfunk.db"

    @property
    def crypto_dir(self) -> Path:
        return self.data_dir / "crypto"


class SyncConfig(Section):
    timeout_ms: int = Field(30_000, ge=0, le=120_000)
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    timeline_limit: int = Field(50, ge=1, le=500)
    backlog_limit: int = Field(500, ge=0, le=10_000)


class OutboxConfig(Section):
    max_attempts: int = Field(10, ge=1, le=100)
    max_retry_after_s: float = Field(120.0, gt=0)
    concurrency: int = Field(4, ge=1, le=64)
    keep_sent_days: int = Field(14, ge=1, le=365)


class BotConfig(Section):
    command_prefix: str = Field("!", min_length=1, max_length=3)
    default_language: Literal["de", "en"] = "de"
    display_name: str = "Flurfunk"
    admins: list[MatrixUserId] = []
    admin_room: MatrixRoomId | None = None
    decrypt_wait_s: float = Field(30.0, ge=0, le=600)


class OperationsConfig(Section):
    http_host: str = "127.0.0.1"
    http_port: int = Field(9108, ge=0, le=65535)
    healthy_sync_age_s: float = Field(120.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class PrivacyConfig(Section):
    notice_de: str = (
        "Flurfunk speichert, was Sie selbst angeben: Abteilung, Kommune, Aufgaben, Themen, "
        "Sprachen und Erreichbarkeit. Damit schlägt er Ihnen Kolleg:innen mit ähnlichen "
        "Aufgaben vor. Sichtbar ist davon nur, was in einer Vorstellung steht. Die Teilnahme "
        "ist freiwillig; mit !meinedaten sehen Sie alles, mit !vergessen löschen Sie alles."
    )
    notice_en: str = (
        "Flurfunk stores what you tell it: department, municipality, tasks, topics, languages "
        "and availability, to suggest colleagues with similar tasks. Others only see what an "
        "introduction shows. Participation is voluntary; !mydata shows everything, !forget "
        "deletes everything."
    )
    retention_inactive_days: int = Field(365, ge=30, le=3650)
    retention_check_time: time = time(3, 30)


class DirectoryConfig(Section):
    departments: list[str] = []
    municipalities: list[str] = []
    free_departments: bool = True
    free_municipalities: bool = True
    topics_max: int = Field(10, ge=1, le=50)


class CrisisConfig(Section):
    room: MatrixRoomId | None = None
    staff: list[MatrixUserId] = []
    fallback_de: str = "Im Zweifel gilt der formale Meldeweg über das Lagezentrum."
    fallback_en: str = "If in doubt, use the formal reporting path via the situation centre."


class Config(Section):
    homeserver: HomeserverConfig
    storage: StorageConfig = StorageConfig()
    sync: SyncConfig = SyncConfig()
    outbox: OutboxConfig = OutboxConfig()
    bot: BotConfig = BotConfig()
    operations: OperationsConfig = OperationsConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    directory: DirectoryConfig = DirectoryConfig()
    crisis: CrisisConfig = CrisisConfig()
    timezone: str = "Europe/Berlin"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. 'Europe/Berlin'") from exc
        return value

    @property
    def server_name(self) -> str:
        return self.homeserver.user_id.split(":", 1)[1]


class ConfigError(Exception):
    """All problems of one config file, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (check the spelling against config/flurfunk.example.yaml)"
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
    return f"{key}: {error['msg']}{shown}"


def _apply_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    for env_name, (section, key) in SECRET_ENV.items():
        if environ.get(env_name):
            sub = raw.setdefault(section, {})
            if isinstance(sub, dict):
                sub[key] = environ[env_name]


def parse_config(raw: object, source: str, environ: dict[str, str] | None = None) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, ["(top level): expected a mapping of sections"])
    _apply_env(raw, dict(os.environ) if environ is None else environ)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(e) for e in exc.errors()]) from None  # type: ignore[arg-type]
    return config


def load_config(path: Path, environ: dict[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_config(raw, str(path), environ)
