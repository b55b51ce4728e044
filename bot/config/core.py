"""Config sections of the bot itself: homeserver, storage, sync, outbox, bot, operations,
semantics.

Each key's `description` is what an operator reads: `config/flurfunk.example.yaml` is
generated from it (`flurfunk example-config`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

MatrixUserId = Annotated[str, Field(pattern=r"^@[^:\s]+:[^\s]+$")]
# Room versions up to 11 have "!opaque:server"; version 12 (MSC4291) drops the server part.
MatrixRoomId = Annotated[str, Field(pattern=r"^![^:\s]+(:[^\s]+)?$")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HomeserverConfig(Section):
    url: str = Field(
        pattern=r"^https?://",
        description="Client-server API base URL of your homeserver.",
        examples=["https://matrix.rathaus.example"],
    )
    user_id: MatrixUserId = Field(
        description="The bot's own Matrix account (create it on your homeserver first).",
        examples=["@flurfunk:rathaus.example"],
    )
    password: SecretStr | None = Field(
        None,
        description="Used once to log in; afterwards the stored access token and device are "
        "reused. Better: leave it out here and set the env var FLURFUNK_PASSWORD.",
        examples=["change-me-or-use-FLURFUNK_PASSWORD"],
    )
    access_token: SecretStr | None = Field(
        None,
        description="Alternative to the password: an existing access token (env "
        "FLURFUNK_ACCESS_TOKEN).",
    )
    device_name: str = Field(
        "Flurfunk", description="Name of the bot's device as shown in clients."
    )
    allowed_homeservers: list[str] = Field(
        min_length=1,
        description="Invites are accepted only from users of these homeservers (server names).",
        examples=[["rathaus.example"]],
    )
    denied_localparts: list[str] = Field(
        default_factory=list,
        description="Accounts on those homeservers that count as strangers all the same (no "
        "answer, no trace, invites refused): regular expressions searched in the localpart "
        "(the part between @ and :), e.g. bridge puppets and guests: "
        '["^whatsapp_", "^signal_", "^guest-"].',
    )
    verify_tls: bool = Field(
        True, description="Verify the homeserver's TLS certificate (keep true outside a lab)."
    )
    key_encryption_secret: SecretStr | None = Field(
        None,
        description="At least 16 characters; encrypts the bot's cross-signing keys in the "
        "store (env FLURFUNK_KEY_SECRET). Without it the bot's device is not cross-signed, "
        "and Element stops exchanging encrypted messages with unsigned devices.",
    )
    cross_signing_recovery_key: SecretStr | None = Field(
        None,
        description="The recovery key the bot writes once into "
        "<data_dir>/cross-signing-recovery-key.txt (mode 0600; never logged) when it creates "
        "its cross-signing identity; set it (env FLURFUNK_RECOVERY_KEY) to restore the same "
        "identity after the store was lost.",
    )
    cross_signing_reset: bool = Field(
        False,
        description="Replace a cross-signing identity on the server that is not the bot's "
        "(someone reset it).",
    )

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
    data_dir: Path = Field(
        Path("data"),
        description="The encryption keys (crypto/) and, unless storage.database says "
        "otherwise, the store (flurfunk.db) live here. Back it up, keep it private.",
    )

    database: str | None = Field(
        None,
        pattern=r"^(sqlite:|postgres(ql)?://)",
        description='Where the store lives. Left out (or "sqlite:"): the SQLite file '
        '<data_dir>/flurfunk.db, nothing to set up; "sqlite:///var/lib/flurfunk/store.db": '
        'another SQLite file. "postgresql://flurfunk@db.rathaus.example:5432/flurfunk" '
        '(a local socket: "postgresql://flurfunk@/flurfunk?host=/run/postgresql"): '
        "PostgreSQL 13 or newer, in an empty database the bot's role owns; the password "
        "goes into the env var FLURFUNK_DATABASE_PASSWORD rather than here. The encryption "
        "keys (crypto/) stay in data_dir in either case: back up both. `flurfunk "
        "check-config` tests the connection; `flurfunk migrate-store` copies an existing "
        "SQLite store into PostgreSQL.",
    )

    @property
    def database_target(self) -> Path | str:
        """What `Database` opens: the SQLite file's path, or the PostgreSQL URL."""
        if self.database is None or not self.database.startswith("sqlite:"):
            return self.database or self.data_dir / "flurfunk.db"
        path = self.database.removeprefix("sqlite:").removeprefix("//")
        return Path(path) if path else self.data_dir / "flurfunk.db"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite store file, or None when the store is on PostgreSQL."""
        target = self.database_target
        return target if isinstance(target, Path) else None

    @property
    def crypto_dir(self) -> Path:
        return self.data_dir / "crypto"


class SyncConfig(Section):
    timeout_ms: int = Field(
        30_000,
        ge=0,
        le=120_000,
        description="Long-poll timeout of a sync request, in milliseconds.",
    )
    backoff_initial_s: float = Field(
        1.0,
        gt=0,
        description='Backoff after a failed sync ("slow down" answers, errors) starts here '
        "(never below) and doubles up to backoff_max_s, in seconds.",
    )
    backoff_max_s: float = Field(60.0, gt=0, description="Longest backoff, in seconds.")
    probe_interval_s: float = Field(
        1.0,
        ge=1.0,
        le=60.0,
        description="While the homeserver is unreachable the bot only probes GET "
        "/_matrix/client/versions, this often at most (1.0 is the minimum); syncing resumes "
        "after the first answer (docs/operations.md).",
    )
    probe_jitter_s: float = Field(
        0.5,
        ge=0.0,
        le=30.0,
        description="Random extra wait (0 to this) before each probe, so that bots do not "
        "probe a returning homeserver in step.",
    )
    timeline_limit: int = Field(
        50,
        ge=1,
        le=500,
        description="Events per room in one sync; more arrive by paging back after downtime.",
    )
    backlog_limit: int = Field(
        500,
        ge=0,
        le=10_000,
        description="At most this many missed events per room are fetched after downtime.",
    )


class OutboxConfig(Section):
    max_attempts: int = Field(
        10,
        ge=1,
        le=100,
        description="Attempts per outgoing message before it is given up (429 answers do not "
        "count).",
    )
    max_retry_after_s: float = Field(
        120.0, gt=0, description="Upper bound for a homeserver's retry_after_ms, in seconds."
    )
    concurrency: int = Field(
        4, ge=1, le=64, description="Messages sent in parallel (to different rooms)."
    )
    keep_sent_days: int = Field(
        14,
        ge=1,
        le=365,
        description="Delivered messages are kept this many days (for edits and reactions), "
        "then deleted.",
    )
    give_up_after_s: float = Field(
        86_400.0,
        gt=0,
        description="Age limit of every outgoing message, whatever it waits for (its room, an "
        "earlier message, a rate limit, the homeserver), in seconds; then it is given up and "
        "the admin room is told (at most hourly). A 100-pair round under Synapse's default "
        "room-creation limit needs about 95 minutes.",
    )


class CommandLimits(Section):
    enabled: bool = Field(True, description="false switches the limits off.")
    changes_burst: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Burst of commands that change something (!hospitation teilnehmen, "
        "!kontakt, !nein, ...) and answers in a dialog.",
    )
    changes_per_minute: float = Field(
        20.0, gt=0, le=60_000, description="Such changes per minute after the burst."
    )
    reads_burst: int = Field(
        60,
        ge=1,
        le=10_000,
        description="Burst of commands that only show something (!hilfe, !hospitationen, "
        "!meinedaten, ...) and unknown commands.",
    )
    reads_per_minute: float = Field(
        60.0, gt=0, le=60_000, description="Such reads per minute after the burst."
    )


class BotConfig(Section):
    command_prefix: str = Field("!", min_length=1, max_length=3, description="Command prefix.")
    default_language: Literal["de", "en"] = Field(
        "de", description="Language for people who did not choose one (!sprache): de or en."
    )
    display_name: str = Field("Flurfunk", description="Display name of the bot.")
    admins: list[MatrixUserId] = Field(
        default_factory=list, description="Matrix IDs allowed to use !admin commands."
    )
    admin_room: MatrixRoomId | None = Field(
        None,
        description="Room for operator notices (retention, reports, store problems); the bot "
        "must be in it.",
    )
    decrypt_wait_s: float = Field(
        30.0,
        ge=0,
        le=600,
        description="How long to wait for the keys of an encrypted message before telling the "
        "sender, in seconds.",
    )
    encrypted_direct_chats: bool = Field(
        True,
        description="Switch a direct chat to encryption before writing anything personal into "
        "it (Element encrypts DMs anyway). false only for clients that cannot encrypt: "
        "personal data such as exports and crisis requests then travel in clear.",
    )
    purpose_room_answer_days: float = Field(
        7.0,
        gt=0,
        le=365,
        description="Rooms made for a purpose (coffee match, circle, coffee break, "
        "introduction, crisis connection) are left once their work is done; the people keep "
        "them. A follow-up nobody answered counts as done this many days after it was asked "
        '(docs/coffee.md, "When Flurfunk leaves a room").',
    )
    purpose_room_check_s: float = Field(
        60.0,
        ge=0.2,
        le=3600,
        description="How often done purpose rooms are looked for and left, in seconds.",
    )
    limits: CommandLimits = Field(
        CommandLimits(),
        description="Per-person limits on commands: a burst, then so many per minute, sized so "
        "that a person typing never meets them and a script does. Someone over the limit is "
        "told once when to try again, and nothing of what they sent is carried out. Crisis "
        "staff and admins are never limited in the commands of their role (!werkennt, !admin).",
    )


class OperationsConfig(Section):
    http_host: str = Field(
        "127.0.0.1",
        description="/healthz and /metrics listen here. Use 0.0.0.0 inside a container.",
    )
    http_port: int = Field(9108, ge=0, le=65535, description="Port of /healthz and /metrics.")
    healthy_sync_age_s: float = Field(
        120.0,
        gt=0,
        description="/healthz (JSON, docs/operations.md) answers 200 only if the last "
        "successful sync is at most this old and the homeserver is reachable, 503 otherwise.",
    )
    backlog_warning_age_s: float = Field(
        300.0,
        gt=0,
        description='/healthz warns ("degraded") when an undelivered message is older than '
        "this, in seconds.",
    )
    stop_grace_s: float = Field(
        2.0,
        ge=0.0,
        le=3.0,
        description="On SIGTERM, sends under way may finish for this long (at most 3 s) before "
        "they are cancelled; what is left stays queued and goes out after the restart.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="DEBUG, INFO, WARNING or ERROR. Logs never contain tokens or message contents.",
    )


class SemanticsConfig(Section):
    enabled: bool = Field(
        True,
        description="Compare meaning with the bundled multilingual-e5-small model (runs on "
        "this machine, nothing leaves it; docs/semantics.md). false: compare words only.",
    )
    threads: int = Field(
        2,
        ge=1,
        le=64,
        description="CPU threads of the embedding engine (it runs at a lower priority than "
        "the bot).",
    )
    refresh_seconds: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Seconds between checks for new or changed texts; changes in chat are "
        "encoded at once.",
    )
