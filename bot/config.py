"""The configuration file: pydantic models, YAML loading, env overrides for secrets.

Every problem names the offending key and what is expected, so an operator can fix
the file without reading code.
"""

from __future__ import annotations

import copy
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
    "FLURFUNK_KEY_SECRET": ("homeserver", "key_encryption_secret"),
    "FLURFUNK_RECOVERY_KEY": ("homeserver", "cross_signing_recovery_key"),
}

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
    verify_tls: bool = True
    # Encrypts the bot's cross-signing keys in the store. Without it the bot's device is not
    # cross-signed, and Element stops exchanging encrypted messages with unsigned devices.
    key_encryption_secret: SecretStr | None = None
    # The recovery key logged once when the cross-signing keys were made: restores the same
    # identity after the store was lost.
    cross_signing_recovery_key: SecretStr | None = None
    # Replace a cross-signing identity on the server that is not ours (someone reset it).
    cross_signing_reset: bool = False

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
    # Half-finished dialogs (e.g. an onboarding left in the middle) are dropped after this.
    dialog_retention_days: int = Field(default=30, ge=1, le=365)
    # If more than this share of the checked accounts (and more than 5) look deactivated in
    # one run, nothing is deleted and the admin room is asked to check: a misrouted profile
    # endpoint looks exactly like that. 1.0 switches the safeguard off.
    deactivated_max_share: float = Field(default=0.2, gt=0, le=1)


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
    # Sectors a bridge contact may name (`!kontakt <Organisation> | <Bereich>`).
    sectors: list[str] = Field(
        default_factory=lambda: [
            "Soziale Träger",
            "Migrantenorganisationen",
            "Wohnungslosenhilfe",
            "Logistik",
            "Veranstaltungswirtschaft",
            "Gesundheitswesen",
            "Wissenschaft",
            "Wirtschaft",
            "Religionsgemeinschaften",
            "Nachbarkommune",
        ],
        min_length=1,
    )
    # Routing: tier 1 asks the best `tier1_size`, tier 2 the next `tier2_size`, then everybody
    # who fits; each tier waits its timeout for a yes (`urgent_factor` shortens it).
    tier1_size: int = Field(default=3, ge=1, le=1000)
    tier2_size: int = Field(default=5, ge=1, le=1000)
    tier1_timeout_s: float = Field(default=600.0, gt=0)
    tier2_timeout_s: float = Field(default=1200.0, gt=0)
    urgent_factor: float = Field(default=0.5, gt=0, le=1)
    request_expire_s: float = Field(default=86_400.0, gt=0)
    # Requests a bridge person gets per 7 days before others are preferred; null = no cap.
    cap_per_week: int | None = Field(default=3, ge=1)
    # Window assumed for bridges who never set one with `!erreichbar`.
    default_availability: str = "Mo-Fr 8-17"
    # A contact is to be reconfirmed after this many days and expires after that many.
    contact_reconfirm_days: int = Field(default=180, ge=1)
    contact_expire_days: int = Field(default=365, ge=2)
    contact_check_time: time = time(9, 30)
    # How often open requests are checked for due escalation steps.
    tick_seconds: float = Field(default=15.0, ge=0.2, le=600)
    # Closed and expired requests (with their timeline) are deleted after this many days.
    request_retention_days: int = Field(default=365, ge=1, le=3650)
    # The drill report counts a first answer within this time as "in time".
    response_target_s: float = Field(default=900.0, gt=0)

    @field_validator("default_availability")
    @classmethod
    def _readable_availability(cls, value: str) -> str:
        from bot.domain.availability import AvailabilityError, parse_availability

        try:
            parse_availability(value)
        except AvailabilityError as exc:
            raise ValueError(f"cannot read the window {value!r} ({exc.code.value})") from exc
        return value

    @model_validator(mode="after")
    def _consistent_periods(self) -> CrisisConfig:
        if self.contact_expire_days <= self.contact_reconfirm_days:
            raise ValueError("contact_expire_days must be larger than contact_reconfirm_days")
        return self


class HospitationConfig(Section):
    # Rooms (the bot must be a member) where new offers are announced; the post is edited
    # when places fill up or free up and when the offer is withdrawn.
    announcement_rooms: list[MatrixRoomId] = []
    # Reminder to host and participants: this many days before the first day, at this
    # local time (0 = on the day itself). Late sign-ups are reminded at the next check.
    reminder_days_before: int = Field(default=1, ge=0, le=14)
    reminder_time: time = time(9, 0)
    # "Did it take place?" to host and participants: this many days after the last day,
    # at this local time (0 = on the last day itself).
    feedback_days_after: int = Field(default=1, ge=0, le=30)
    feedback_time: time = time(10, 0)
    # How often due reminders, feedback questions and standing wishes are checked.
    check_interval_s: float = Field(default=300.0, ge=0.2, le=86_400)
    # A standing wish fits an offer when this share of it appears in the offer (0..1).
    wish_threshold: float = Field(default=0.5, gt=0, le=1)
    wishes_max: int = Field(default=5, ge=1, le=50)
    # A guided `!hospitation anbieten` dialog left alone this long is dropped.
    dialog_timeout_h: float = Field(default=24.0, gt=0, le=24 * 14)


class KitchenConfig(Section):
    """Kaffeeküche: conversation prompts in shared rooms and spontaneous coffee breaks."""

    # Rooms the bot posts conversation prompts into (the bot must be invited there).
    rooms: list[MatrixRoomId] = []
    # When prompts are posted: weekday and time, German or English day names
    # ("Di 10:00", "thu 10:00"), in the configured time zone.
    schedule: list[str] = Field(default_factory=lambda: ["Di 10:00", "Do 10:00"], min_length=1)
    # For tests and demos only: post every N seconds instead of following `schedule`.
    prompt_interval_s: float | None = Field(default=None, gt=0)
    # False: use only `extra_prompts_*` and accepted suggestions, not the shipped catalogue.
    use_builtin_prompts: bool = True
    # Your own prompts; `extra_prompts_en` is empty or has one translation per German prompt.
    extra_prompts_de: list[str] = []
    extra_prompts_en: list[str] = []
    # `!kaffeepause [minuten]`: default and allowed range of an offer's waiting time.
    break_default_minutes: int = Field(default=15, ge=5, le=120)
    # Two people are not paired spontaneously again within this many days.
    break_repeat_days: int = Field(default=28, ge=0, le=365)
    # After the break, ask "did you talk?" this many seconds after its planned end.
    break_followup_delay_s: float = Field(default=300.0, ge=0)
    # How often expired offers and due follow-ups are looked for.
    check_interval_s: float = Field(default=30.0, ge=0.2, le=600)
    # Spontaneous breaks and their ties are deleted after this many days.
    keep_history_days: int = Field(default=730, ge=30, le=3650)
    # For tests and demos only: how long a coffee-break "minute" lasts, in seconds.
    seconds_per_minute: float = Field(default=60.0, gt=0, le=60)

    @field_validator("schedule")
    @classmethod
    def _readable_schedule(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_weekly_slot(entry)
        return value

    @model_validator(mode="after")
    def _translations_match(self) -> KitchenConfig:
        if self.extra_prompts_en and len(self.extra_prompts_en) != len(self.extra_prompts_de):
            raise ValueError(
                "extra_prompts_en must be empty or have exactly one entry per extra_prompts_de"
            )
        return self

    def slots(self) -> list[tuple[int, time]]:
        """(weekday 0=Monday, time of day) of every scheduled prompt."""
        return [parse_weekly_slot(entry) for entry in self.schedule]


_WEEKDAYS = {
    **{name: i for i, name in enumerate(("mo", "di", "mi", "do", "fr", "sa", "so"))},
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: i
        for i, name in enumerate(
            ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag")
        )
    },
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


def parse_weekly_slot(entry: str) -> tuple[int, time]:
    """`"Di 10:00"` -> (1, 10:00). Raises ValueError naming what is expected."""
    day, _, clock = entry.strip().partition(" ")
    weekday = _WEEKDAYS.get(day.strip(".").casefold())
    try:
        hour, minute = (int(part) for part in clock.strip().split(":"))
        at = time(hour, minute)
    except ValueError:
        at = None
    if weekday is None or at is None:
        raise ValueError(f"cannot read {entry!r}; expected a weekday and a time, e.g. 'Di 10:00'")
    return weekday, at


_STATES = (
    "BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH",
)  # fmt: skip


def _known_state(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if code not in _STATES:
        raise ValueError(f"unknown German state {value!r}; expected one of {', '.join(_STATES)}")
    return code


class CoffeeConfig(Section):
    """Weekly coffee matches (Kaffeerunde)."""

    enabled: bool = True
    # When a round runs: weekday and time in the configured time zone ("Mo 09:00").
    schedule: str = "Mo 09:00"
    # A round every N weeks (weeks counted from Monday 2024-01-01).
    every_weeks: int = Field(default=1, ge=1, le=4)
    # Matched people must differ in this: "department" (Amt) or "municipality" (Kommune).
    separation: Literal["department", "municipality"] = "department"
    # A pair that met is not matched again for this many rounds (then only discouraged).
    repeat_ban_rounds: int = Field(default=26, ge=1, le=520)
    # Extra weight for a pair from two municipalities (similarity is 0..1).
    cross_municipality_bonus: float = Field(default=0.05, ge=0, le=1)
    # How many best candidates per person the matching considers (more: better, slower).
    candidates_per_person: int = Field(default=20, ge=2, le=200)
    # "Did you meet?" is asked in the match room this many days after the introduction
    # (fractions allowed: 0.5 = twelve hours).
    followup_after_days: float = Field(default=3.0, gt=0, le=28)
    # German state code ("NW", "BY", ...): a round due on a public holiday there moves to
    # the next working day of the same week (or is skipped if there is none).
    holiday_state: str | None = None
    # A round missed while the bot was down still runs at start within this many hours.
    grace_hours: float = Field(default=24.0, ge=0, le=144)
    # After this many unanswered introductions in a row the person is asked whether to pause.
    unanswered_before_question: int = Field(default=3, ge=1, le=20)
    # How often due rounds and follow-ups are looked for.
    check_interval_s: float = Field(default=60.0, ge=0.2, le=3600)
    # Past rounds (who met whom, answers) are deleted after this many days.
    keep_history_days: int = Field(default=730, ge=30, le=3650)

    @field_validator("holiday_state")
    @classmethod
    def _known_holiday_state(cls, value: str | None) -> str | None:
        return _known_state(value)

    @field_validator("schedule")
    @classmethod
    def _readable_schedule(cls, value: str) -> str:
        parse_weekly_slot(value)
        return value

    def slot(self) -> tuple[int, time]:
        return parse_weekly_slot(self.schedule)


class CirclesConfig(Section):
    """Topic circles (Themenrunden): small groups sharing a topic across municipalities."""

    enabled: bool = True
    # Weekday and time of a round ("Mi 10:00"); by default monthly on the
    # `week_of_month`-th such weekday, or every `every_weeks` weeks if that is set.
    schedule: str = "Mi 10:00"
    week_of_month: int = Field(default=1, ge=1, le=4)
    every_weeks: int | None = Field(default=None, ge=1, le=12)
    # Members per circle, and how many people must name a topic that is not configured.
    min_size: int = Field(default=3, ge=2, le=12)
    max_size: int = Field(default=6, ge=2, le=20)
    min_shared: int = Field(default=3, ge=2, le=100)
    # Topics the administration wants circles for, even when fewer people name them.
    topics: list[str] = []
    # A circle whose members were together in one of the last N circle rounds is not formed again.
    repeat_ban_rounds: int = Field(default=6, ge=0, le=120)
    followup_after_days: float = Field(default=7.0, gt=0, le=60)
    holiday_state: str | None = None
    grace_hours: float = Field(default=24.0, ge=0, le=144)

    @field_validator("holiday_state")
    @classmethod
    def _known_holiday_state(cls, value: str | None) -> str | None:
        return _known_state(value)

    @field_validator("schedule")
    @classmethod
    def _readable_schedule(cls, value: str) -> str:
        parse_weekly_slot(value)
        return value

    @model_validator(mode="after")
    def _sizes(self) -> CirclesConfig:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not be larger than max_size")
        return self

    def slot(self) -> tuple[int, time]:
        return parse_weekly_slot(self.schedule)


class ReportConfig(Section):
    """Network report (`!admin bericht`, monthly post, `flurfunk report`): aggregates only."""

    # A department or municipality with fewer participants is shown as "Sonstige".
    k_anonymity: int = Field(default=5, ge=2, le=100)
    # Monthly report on the previous month to `bot.admin_room`: day of month and local time.
    monthly: bool = True
    monthly_day: int = Field(default=1, ge=1, le=28)
    monthly_time: time = time(9, 0)
    # A monthly report missed while the bot was down is still posted within this time.
    monthly_grace_hours: float = Field(default=72.0, ge=0, le=24 * 27)
    # `!admin bericht` without a period covers this many days up to today.
    default_days: int = Field(default=30, ge=1, le=3660)
    # Months shown in the chart of ties per month (at least the months of the period).
    chart_months: int = Field(default=12, ge=1, le=60)
    # Rows per table in the chat message (the CSV files always hold every row).
    max_table_rows: int = Field(default=25, ge=5, le=200)
    # How often pending report requests and the monthly report are looked for.
    check_interval_s: float = Field(default=60.0, ge=0.2, le=3600)


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
    kitchen: KitchenConfig = KitchenConfig()
    hospitation: HospitationConfig = HospitationConfig()
    coffee: CoffeeConfig = CoffeeConfig()
    circles: CirclesConfig = CirclesConfig()
    report: ReportConfig = ReportConfig()
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
