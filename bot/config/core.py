"""Config sections of the bot itself: homeserver, storage, sync, outbox, operations, privacy."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

MatrixUserId = Annotated[str, Field(pattern=r"^@[^:\s]+:[^\s]+$")]
# Room versions up to 11 have "!opaque:server"; version 12 (MSC4291) drops the server part.
MatrixRoomId = Annotated[str, Field(pattern=r"^![^:\s]+(:[^\s]+)?$")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HomeserverConfig(Section):
    url: str = Field(pattern=r"^https?://")
    user_id: MatrixUserId
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "Flurfunk"
    allowed_homeservers: list[str] = Field(min_length=1)
    # Accounts on an allowed homeserver that are treated like people from other homeservers
    # (no answer, no trace, invites refused): regular expressions searched in the localpart
    # (between `@` and `:`), e.g. bridge puppets "^whatsapp_" or guests (review finding S-22).
    denied_localparts: list[str] = Field(default_factory=list)
    verify_tls: bool = True
    # Encrypts the bot's cross-signing keys in the store. Without it the bot's device is not
    # cross-signed, and Element stops exchanging encrypted messages with unsigned devices.
    key_encryption_secret: SecretStr | None = None
    # The recovery key written once to a 0600 file when the keys were made: restores the same
    # identity after the store was lost.
    cross_signing_recovery_key: SecretStr | None = None
    # Replace a cross-signing identity on the server that is not ours (someone reset it).
    cross_signing_reset: bool = False

    @field_validator("denied_localparts")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is no regular expression: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _strong_key_secret(self) -> HomeserverConfig:
        # Checked here, not as a field constraint: a field error would echo the secret.
        secret = self.key_encryption_secret
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ValueError("key_encryption_secret must have at least 16 characters")
        return self

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
    probe_interval_s: float = Field(
        1.0,
        ge=1.0,
        le=60.0,
        description="While the homeserver is unreachable, probe it (GET /_matrix/client/versions) "
        "no more often than this; syncing resumes after the first answer",
    )
    probe_jitter_s: float = Field(
        0.5,
        ge=0.0,
        le=30.0,
        description="Random extra wait (0 to this) before each probe, so that bots do not probe "
        "a returning homeserver in step",
    )


class OutboxConfig(Section):
    max_attempts: int = Field(10, ge=1, le=100)
    max_retry_after_s: float = Field(120.0, gt=0)
    concurrency: int = Field(4, ge=1, le=64)
    keep_sent_days: int = Field(14, ge=1, le=365)
    # The age limit of every item, whatever it waits for (its room, an earlier item, a rate
    # limit, the homeserver): then it is given up and the admin room hears of it. A 100-pair
    # round under Synapse's default room-creation limit needs about 95 minutes.
    give_up_after_s: float = Field(86_400.0, gt=0)


class CommandLimits(Section):
    """Per-person token buckets for commands (review finding S-11): a burst, then so many
    per minute. Sized so that a person typing never meets them and a script does."""

    enabled: bool = True
    # Commands that change something (sign up, offer, answer, set a field) and dialog answers.
    changes_burst: int = Field(30, ge=1, le=10_000)
    changes_per_minute: float = Field(20.0, gt=0, le=60_000)
    # Commands that only show something (help, lists, one's own data) and unknown commands.
    reads_burst: int = Field(60, ge=1, le=10_000)
    reads_per_minute: float = Field(60.0, gt=0, le=60_000)


class BotConfig(Section):
    command_prefix: str = Field("!", min_length=1, max_length=3)
    default_language: Literal["de", "en"] = "de"
    display_name: str = "Flurfunk"
    admins: list[MatrixUserId] = []
    admin_room: MatrixRoomId | None = None
    decrypt_wait_s: float = Field(30.0, ge=0, le=600)
    # DMs are switched to encryption before the bot writes anything personal into them.
    # false only for clients that cannot encrypt: personal data then travels in clear.
    encrypted_direct_chats: bool = True
    # A purpose room (coffee match, circle, coffee break, introduction, crisis connection)
    # is left once its work is done; an unanswered follow-up counts as done this many days
    # after it was asked (docs/coffee.md, "When Flurfunk leaves a room").
    purpose_room_answer_days: float = Field(7.0, gt=0, le=365)
    # How often done purpose rooms are looked for and left.
    purpose_room_check_s: float = Field(60.0, ge=0.2, le=3600)
    # Crisis staff and admins are never limited in the commands of their role.
    limits: CommandLimits = CommandLimits()


class OperationsConfig(Section):
    http_host: str = "127.0.0.1"
    http_port: int = Field(9108, ge=0, le=65535)
    healthy_sync_age_s: float = Field(120.0, gt=0)
    backlog_warning_age_s: float = Field(
        300.0,
        gt=0,
        description="/healthz warns when the oldest undelivered outbox item is older than this",
    )
    stop_grace_s: float = Field(
        2.0,
        ge=0.0,
        le=3.0,
        description="On SIGTERM, how long sends already under way may take before they are "
        "cancelled (they stay queued and go out after the restart)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SemanticsConfig(Section):
    # Compare meaning with the bundled multilingual-e5-small model (docs/semantics.md);
    # false compares words only.
    enabled: bool = True
    # CPU threads of the embedding engine; its thread runs at a lower priority than the bot.
    threads: int = Field(2, ge=1, le=64)
    # How often texts are checked for new or changed ones (changes in chat wake it at once).
    refresh_seconds: float = Field(60.0, ge=1, le=3600)


class PrivacyConfig(Section):
    notice_de: str = (
        "Flurfunk speichert, was Sie selbst angeben: Abteilung, Kommune, Aufgaben, Themen, "
        "Sprachen und Erreichbarkeit. Damit schlägt er Ihnen Kolleg:innen mit ähnlichen "
        "Aufgaben vor. Sichtbar ist davon nur, was in einer Vorstellung steht. Mit !suche "
        "finden andere Sie nur, wenn Sie mit !profil auffindbar ja zustimmen, und kennenlernen "
        "nur, wenn Sie einer Vorstellung zustimmen; Trefferlisten werden nach 24 Stunden "
        "gelöscht. Die Teilnahme ist freiwillig; mit !meinedaten sehen Sie alles, mit "
        "!vergessen löschen Sie alles."
    )
    notice_en: str = (
        "Flurfunk stores what you tell it: department, municipality, tasks, topics, languages "
        "and availability, to suggest colleagues with similar tasks. Others only see what an "
        "introduction shows. Others find you with !search only if you agree with !profile "
        "findable yes, and meet you only if you agree to an introduction; result lists are "
        "deleted after 24 hours. Participation is voluntary; !mydata shows everything, !forget "
        "deletes everything."
    )
    retention_inactive_days: int = Field(365, ge=30, le=3650)
    retention_check_time: time = time(3, 30)
    # Half-finished dialogs (e.g. an onboarding left in the middle) are dropped after this.
    dialog_retention_days: int = Field(default=30, ge=1, le=365)
    # If more than this share of the checked accounts (and more than 5) look deactivated in
    # one run, nothing is deleted and the admin room is asked to check: a misrouted profile
    # endpoint looks exactly like that. 1.0 switches the safeguard off.
    deactivated_max_share: float = Field(default=0.2, gt=0, le=1)
    # The bot account is a server admin: Synapse's admin API says whether an account on the
    # bot's homeserver is deactivated (also without erasure). Off: only a profile 404 counts.
    admin_api: bool = False


class DirectoryConfig(Section):
    departments: list[str] = []
    municipalities: list[str] = []
    free_departments: bool = True
    free_municipalities: bool = True
    topics_max: int = Field(10, ge=1, le=50)
