"""Config sections of the features: crisis, hospitations, kitchen, coffee, circles, report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any, Literal

from pydantic import Field, GetCoreSchemaHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError, core_schema

from bot.config.core import MatrixRoomId, MatrixUserId, Section
from bot.config.schedule import known_state, parse_weekly_slot


class Sector(str):
    """A sector a bridge contact may name. It is its name everywhere (compares, hashes and
    prints as the name); `description` says in one line what a crisis staff may need from
    it, and routing by meaning compares requests with the organisation and with each item of it.

    In the config a sector is a plain name or `{name: ..., description: ...}`.
    """

    description: str

    def __new__(cls, name: str, description: str = "") -> Sector:
        sector = super().__new__(cls, " ".join(name.split()))
        sector.description = " ".join(description.split())
        return sector

    @classmethod
    def parse(cls, value: object) -> Sector:
        if isinstance(value, Sector):
            return value
        if isinstance(value, str):
            entry: Mapping[str, object] = {"name": value}
        elif isinstance(value, Mapping):
            entry = value
        else:
            raise PydanticCustomError(
                "sector", "a sector is a name or a mapping with name and description"
            )
        unknown = sorted(str(k) for k in entry if k not in ("name", "description"))
        if unknown:
            raise PydanticCustomError(
                "sector",
                "unknown key {key} in a sector (it has name and description)",
                {"key": unknown[0]},
            )
        name, description = entry.get("name"), entry.get("description", "")
        if not isinstance(name, str) or not name.strip():
            raise PydanticCustomError("sector", "a sector needs a name")
        if not isinstance(description, str) or len(description) > SECTOR_DESCRIPTION_MAX:
            raise PydanticCustomError(
                "sector",
                "a sector's description is one line of text (at most {max} characters)",
                {"max": SECTOR_DESCRIPTION_MAX},
            )
        return cls(name, description)

    def dump(self) -> str | dict[str, str]:
        if not self.description:
            return str(self)
        return {"name": str(self), "description": self.description}

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(cls.dump),
        )


SECTOR_DESCRIPTION_MAX = 400

# The default sectors, each with what a German crisis staff typically needs from it. Routing
# compares a request with "organisation | sector: description" (docs/crisis.md, "Sector
# descriptions").
DEFAULT_SECTORS: tuple[tuple[str, str], ...] = (
    (
        "Soziale Träger",
        "Wohlfahrtsverbände und soziale Dienste: Tafeln, Lebensmittelausgabe, Kleiderkammern, "
        "Ehrenamtliche, Betreuung von Senioren und Pflegebedürftigen",
    ),
    (
        "Migrantenorganisationen",
        "Vereine und Communities von Zugewanderten: Dolmetschen, Übersetzungen, mehrsprachige "
        "Informationen, Zugang zu Geflüchteten",
    ),
    (
        "Wohnungslosenhilfe",
        "Obdachlose und Wohnungslose: Notunterkünfte, Schlafplätze, Wärmestuben, Kältehilfe, "
        "Streetwork, Bahnhofsmission",
    ),
    (
        "Logistik",
        "Transport, Fahrzeuge, Kühlfahrzeuge, LKW, Lagerhallen, Verteilung, Busse, Speditionen",
    ),
    (
        "Veranstaltungswirtschaft",
        "Messen, Hallen, Zelte, Veranstaltungstechnik, Stromaggregate, Absperrgitter, Catering,"
        " Sicherheitsdienste",
    ),
    (
        "Gesundheitswesen",
        "Krankenhäuser, Arztpraxen, Pflegeheime, Apotheken, Rettungsdienst, Impfungen, "
        "medizinisches Personal, Schutzausrüstung",
    ),
    (
        "Wissenschaft",
        "Hochschulen und Forschungsinstitute: Fachleute, Gutachten, Laboranalysen, Daten und "
        "Modellrechnungen",
    ),
    (
        "Wirtschaft",
        "Unternehmen, Handel, Handwerk, Kammern: Material, Baustoffe, Lieferketten, Baufirmen, "
        "Energie- und Wasserversorger",
    ),
    (
        "Religionsgemeinschaften",
        "Kirchen-, Moschee- und jüdische Gemeinden: Räume, Gemeindehäuser, Notfallseelsorge, "
        "Ehrenamtliche",
    ),
    (
        "Nachbarkommune",
        "Benachbarte Städte, Gemeinden und Landkreise: Amtshilfe, Personal, Bauhof, Feuerwehr, "
        "Unterbringung",
    ),
)


class CrisisConfig(Section):
    room: MatrixRoomId | None = None
    staff: list[MatrixUserId] = Field(default_factory=list)
    fallback_de: str = "Im Zweifel gilt der formale Meldeweg über das Lagezentrum."
    fallback_en: str = "If in doubt, use the formal reporting path via the situation centre."
    # Sectors a bridge contact may name (`!kontakt <Organisation> | <Bereich>`): a name, or
    # {name, description} with one line on what a crisis staff may need from the sector.
    sectors: list[Sector] = Field(
        default_factory=lambda: [Sector(name, text) for name, text in DEFAULT_SECTORS],
        min_length=1,
    )
    # Routing: tier 1 asks the best-fitting `tier1_size`, tier 2 the next `tier2_size`, then
    # every available bridge; each tier waits its timeout for a yes (`urgent_factor` shortens
    # it).
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

    @field_validator("sectors")
    @classmethod
    def _distinct_sectors(cls, value: list[Sector]) -> list[Sector]:
        seen: set[str] = set()
        for sector in value:
            if sector.casefold() in seen:
                raise ValueError(f"the sector {str(sector)!r} is listed twice")
            seen.add(sector.casefold())
        return value

    @model_validator(mode="after")
    def _consistent_periods(self) -> CrisisConfig:
        if self.contact_expire_days <= self.contact_reconfirm_days:
            raise ValueError("contact_expire_days must be larger than contact_reconfirm_days")
        return self


class HospitationConfig(Section):
    # Rooms (the bot must be a member) where new offers are announced; the post is edited
    # when places fill up or free up and when the offer is withdrawn.
    announcement_rooms: list[MatrixRoomId] = Field(default_factory=list)
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
    # Limits against floods (review finding S-11): open offers per host at a time, and
    # sign-ups per person and offer (signing up again after cancelling counts; cancelling
    # is always possible).
    open_offers_max: int = Field(default=5, ge=1, le=100)
    joins_per_offer_max: int = Field(default=3, ge=1, le=100)
    # The host hears of each sign-up and cancellation at once, up to `notify_burst` in a
    # row; beyond that, the changes come as one digest (and one edit of the announcements)
    # every `notify_window_s` seconds.
    notify_burst: int = Field(default=4, ge=1, le=1000)
    notify_window_s: float = Field(default=60.0, gt=0, le=86_400)


class KitchenConfig(Section):
    """Kaffeeküche: conversation prompts in shared rooms and spontaneous coffee breaks."""

    # Rooms the bot posts conversation prompts into (the bot must be invited there).
    rooms: list[MatrixRoomId] = Field(default_factory=list)
    # When prompts are posted: weekday and time, German or English day names
    # ("Di 10:00", "thu 10:00"), in the configured time zone.
    schedule: list[str] = Field(default_factory=lambda: ["Di 10:00", "Do 10:00"], min_length=1)
    # For tests and demos only: post every N seconds instead of following `schedule`.
    prompt_interval_s: float | None = Field(default=None, gt=0)
    # False: use only `extra_prompts_*` and accepted suggestions, not the shipped catalogue.
    use_builtin_prompts: bool = True
    # Your own prompts; `extra_prompts_en` is empty or has one translation per German prompt.
    extra_prompts_de: list[str] = Field(default_factory=list)
    extra_prompts_en: list[str] = Field(default_factory=list)
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
        return known_state(value)

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
    topics: list[str] = Field(default_factory=list)
    # A circle whose members were together in one of the last N circle rounds is not formed again.
    repeat_ban_rounds: int = Field(default=6, ge=0, le=120)
    followup_after_days: float = Field(default=7.0, gt=0, le=60)
    holiday_state: str | None = None
    grace_hours: float = Field(default=24.0, ge=0, le=144)

    @field_validator("holiday_state")
    @classmethod
    def _known_holiday_state(cls, value: str | None) -> str | None:
        return known_state(value)

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

    # A department or municipality with fewer participants is shown as "Sonstige"; counts
    # from 1 to k - 1 are shown as "< k".
    k_anonymity: int = Field(default=5, ge=2, le=100)
    # Monthly report on the previous month to `bot.admin_room`: day of month and local time.
    monthly: bool = True
    monthly_day: int = Field(default=1, ge=1, le=28)
    monthly_time: time = time(9, 0)
    # A monthly report missed while the bot was down is still posted within this time.
    monthly_grace_hours: float = Field(default=72.0, ge=0, le=24 * 27)
    # Ignored: reports cover whole months that have ended, `!admin bericht` without a period
    # the last one (review finding S-07). Still accepted so that older config files load.
    default_days: int = Field(default=30, ge=1, le=3660)
    # Months shown in the chart of ties per month (at least the months of the period).
    chart_months: int = Field(default=12, ge=1, le=60)
    # Rows per table in the chat message (the CSV files always hold every row).
    max_table_rows: int = Field(default=25, ge=5, le=200)
    # How often pending report requests and the monthly report are looked for.
    check_interval_s: float = Field(default=60.0, ge=0.2, le=3600)
