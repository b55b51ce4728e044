"""The configuration file: pydantic models, YAML loading, env overrides for secrets.

Every problem names the offending key and what is expected, so an operator can fix
the file without reading code.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from bot.config.core import (
    BotConfig,
    HomeserverConfig,
    MatrixRoomId,
    MatrixUserId,
    OperationsConfig,
    OutboxConfig,
    Section,
    SemanticsConfig,
    StorageConfig,
    SyncConfig,
)
from bot.config.features import CrisisConfig, HospitationConfig, KitchenConfig, ReportConfig
from bot.config.people import DirectoryConfig, PrivacyConfig
from bot.config.rounds import CirclesConfig, CoffeeConfig
from bot.config.schedule import parse_weekly_slot

__all__ = [
    "RENAMED",
    "BotConfig",
    "CirclesConfig",
    "CoffeeConfig",
    "Config",
    "ConfigError",
    "CrisisConfig",
    "DirectoryConfig",
    "HomeserverConfig",
    "HospitationConfig",
    "KitchenConfig",
    "MatrixRoomId",
    "MatrixUserId",
    "OperationsConfig",
    "OutboxConfig",
    "PrivacyConfig",
    "ReportConfig",
    "SemanticsConfig",
    "StorageConfig",
    "SyncConfig",
    "load_config",
    "parse_config",
    "parse_weekly_slot",
]

# Secrets an operator may keep out of the file. Env wins over the file.
SECRET_ENV = {
    "FLURFUNK_PASSWORD": ("homeserver", "password"),
    "FLURFUNK_ACCESS_TOKEN": ("homeserver", "access_token"),
    "FLURFUNK_HOMESERVER_URL": ("homeserver", "url"),
    "FLURFUNK_KEY_SECRET": ("homeserver", "key_encryption_secret"),
    "FLURFUNK_RECOVERY_KEY": ("homeserver", "cross_signing_recovery_key"),
}


class Config(Section):
    homeserver: HomeserverConfig = Field(
        description="How the bot reaches its homeserver and logs in (the only required section)."
    )
    storage: StorageConfig = StorageConfig()
    sync: SyncConfig = SyncConfig()
    outbox: OutboxConfig = Field(
        OutboxConfig(),
        description="Every outgoing message waits in the outbox until it is delivered, exactly "
        "once.",
    )
    bot: BotConfig = BotConfig()
    operations: OperationsConfig = OperationsConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    semantics: SemanticsConfig = SemanticsConfig()
    directory: DirectoryConfig = DirectoryConfig()
    crisis: CrisisConfig = Field(
        CrisisConfig(), description='"Wer kennt wen?": crisis requests routed to bridge contacts.'
    )
    kitchen: KitchenConfig = Field(
        KitchenConfig(),
        description="Kaffeeküche: conversation prompts in shared rooms and spontaneous coffee "
        "breaks (!kaffeepause).",
    )
    hospitation: HospitationConfig = Field(
        HospitationConfig(),
        description="Hospitations (job shadowing): colleagues offer time in their office to "
        "people from other departments and municipalities.",
    )
    coffee: CoffeeConfig = Field(CoffeeConfig(), description="Weekly coffee matches (Kaffeerunde).")
    circles: CirclesConfig = Field(
        CirclesConfig(),
        description="Topic circles (Themenrunden): small groups sharing a topic across "
        "municipalities.",
    )
    report: ReportConfig = Field(
        ReportConfig(),
        description="Network report (!admin bericht, monthly post, `flurfunk report`): totals "
        "only.",
    )
    timezone: str = Field("Europe/Berlin", description="Time zone for every schedule above.")

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


# Renamed keys, old dotted key -> new one, so that an old file is answered with the new
# name instead of "unknown key". The old key is not carried over by itself: the value may
# mean something else now, and the operator should see the new name once. No key has been
# renamed yet; add an entry with every rename.
RENAMED: dict[str, str] = {}


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
        if key in RENAMED:
            return f"{key}: this key is now {RENAMED[key]}; rename it in the file"
        return f"{key}: unknown key (check the spelling against config/flurfunk.example.yaml)"
    given = error.get("input")
    secret = any(str(part) in SECRET_KEYS for part in error["loc"])
    hidden = secret or isinstance(given, dict | list) or given is None
    shown = "" if hidden else f" (got {given!r})"
    return f"{key}: {error['msg']}{shown}"


SECRET_KEYS = frozenset(
    {"password", "access_token", "key_encryption_secret", "cross_signing_recovery_key"}
)


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
    raw = copy.deepcopy(raw)
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
