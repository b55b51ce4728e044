"""Config sections of the features: crisis, hospitations, kitchen, report.

Each key's `description` is what an operator reads: `config/flurfunk.example.yaml` is
generated from it (`flurfunk example-config`).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bot.config.core import MatrixRoomId, MatrixUserId, Section
from bot.config.schedule import WeeklySlot, parse_weekly_slot
from bot.config.sectors import DEFAULT_SECTORS, Sector


class CrisisConfig(Section):
    room: MatrixRoomId | None = Field(
        None, description='The crisis staff room; its members may start "Wer kennt wen?" requests.'
    )
    staff: list[MatrixUserId] = Field(
        default_factory=list, description="Further Matrix IDs with crisis-staff rights."
    )
    fallback_de: str = Field(
        "Im Zweifel gilt der formale Meldeweg über das Lagezentrum.",
        description="Formal fallback named in every request message and in the reply to "
        "!werkennt (German).",
    )
    fallback_en: str = Field(
        "If in doubt, use the formal reporting path via the situation centre.",
        description="The same in English.",
    )
    sectors: list[Sector] = Field(
        default_factory=lambda: [Sector(name, text) for name, text in DEFAULT_SECTORS],
        min_length=1,
        description="Sectors a bridge contact may name (!kontakt <Organisation> | <Bereich>). "
        "Each is a plain name or a name with a description: one line on what a crisis staff "
        "may need from the sector. Requests are routed by meaning against the organisation and "
        "each item of the description, so a good description lists the things and services "
        'people will ask for (docs/crisis.md, "Sector descriptions"); each comma-separated '
        'item is compared on its own. A plain name works too (e.g. "Hilfsorganisationen"); then '
        "only the name is compared with the requests. Left out, these ten apply.",
    )
    tier1_size: int = Field(
        3,
        ge=1,
        le=1000,
        description="Tier 1 asks the best-fitting this many bridges, tier 2 the next "
        "tier2_size, then every available bridge, however well it fits (a request never "
        "dead-ends).",
    )
    tier2_size: int = Field(5, ge=1, le=1000, description="Bridges asked in tier 2.")
    tier1_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Seconds tier 1 waits for a yes before tier 2 is asked (urgent requests: "
        "times urgent_factor).",
    )
    tier2_timeout_s: float = Field(
        1200.0,
        gt=0,
        description="Seconds tier 2 waits for a yes before every available bridge is asked "
        "(urgent requests: times urgent_factor).",
    )
    urgent_factor: float = Field(
        0.5, gt=0, le=1, description="Urgent requests wait this share of the tier timeouts."
    )
    request_expire_s: float = Field(
        86_400.0, gt=0, description="Unanswered requests expire after this many seconds."
    )
    cap_per_week: int | None = Field(
        3,
        ge=1,
        description="Requests per bridge person and 7 days before others are preferred; "
        "null = no cap.",
    )
    default_availability: str = Field(
        "Mo-Fr 8-17", description="Window assumed for bridges who never set one with !erreichbar."
    )
    contact_reconfirm_days: int = Field(
        180, ge=1, description="A contact is to be reconfirmed after this many days."
    )
    contact_expire_days: int = Field(
        365,
        ge=2,
        description="A contact expires after this many days (more than contact_reconfirm_days).",
    )
    contact_check_time: time = Field(
        time(9, 30), description="Local time of the daily reconfirmation check."
    )
    tick_seconds: float = Field(
        15.0,
        ge=0.2,
        le=600,
        description="How often open requests are checked for due escalation steps, in seconds.",
    )
    request_retention_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Closed and expired requests (with their timeline) are deleted after this "
        "many days.",
    )
    organisation_kinds: Path | None = Field(
        None,
        description="A YAML file with kinds of organisation of your own, added to the shipped "
        "glossary that tells the routing what an organisation can help with (same format as "
        "bot/data/crisis_organisation_kinds.yaml: a list of '- names: [words in such names]' "
        "with 'requests: [what a crisis staff might ask them]'); encoded at the first routing "
        "after start.",
    )
    response_target_s: float = Field(
        900.0,
        gt=0,
        description='The drill report counts a first answer within this many seconds as "in time".',
    )

    @field_validator("organisation_kinds")
    @classmethod
    def _readable_kinds(cls, value: Path | None) -> Path | None:
        from bot.domain.organisation_kinds import GlossaryError, read_glossary

        if value is None:
            return value
        try:
            read_glossary(value.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read {value} ({exc.strerror})") from exc
        except GlossaryError as exc:
            raise ValueError(f"{value}: {exc}") from exc
        return value

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
    announcement_rooms: list[MatrixRoomId] = Field(
        default_factory=list,
        description="Rooms where new offers are announced (the bot must be a member); the post "
        "is edited when places fill up or free up and when the offer is withdrawn.",
    )
    reminder_days_before: int = Field(
        1,
        ge=0,
        le=14,
        description="Reminder to host and participants this many days before the first day, "
        "at reminder_time (0 = on the day itself). Late sign-ups are reminded at the next check.",
    )
    reminder_time: time = Field(time(9, 0), description="Local time of the reminder.")
    feedback_days_after: int = Field(
        1,
        ge=0,
        le=30,
        description='"Did it take place?" to host and participants this many days after the '
        "last day, at feedback_time (0 = on the last day itself).",
    )
    feedback_time: time = Field(time(10, 0), description="Local time of the feedback question.")
    check_interval_s: float = Field(
        300.0,
        ge=0.2,
        le=86_400,
        description="How often due reminders, feedback questions and standing wishes are "
        "checked, in seconds.",
    )
    wish_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A standing wish fits an offer when this share of it appears in the offer "
        "(0..1).",
    )
    wishes_max: int = Field(5, ge=1, le=50, description="Standing wishes per person.")
    dialog_timeout_h: float = Field(
        24.0,
        gt=0,
        le=24 * 14,
        description="A guided !hospitation anbieten dialog left alone this many hours is dropped.",
    )
    open_offers_max: int = Field(
        5,
        ge=1,
        le=100,
        description="Open offers one host may have at a time (the error names them and how to "
        "withdraw one).",
    )
    joins_per_offer_max: int = Field(
        3,
        ge=1,
        le=100,
        description="Sign-ups per person and offer, counting signing up again after cancelling "
        "(cancelling is always possible).",
    )
    notify_burst: int = Field(
        4,
        ge=1,
        le=1000,
        description="The host hears of each sign-up and cancellation at once, up to this many "
        "in a row; beyond that, the changes come as one digest (and one edit of the "
        "announcements) every notify_window_s seconds.",
    )
    notify_window_s: float = Field(
        60.0, gt=0, le=86_400, description="Seconds between two digests of sign-up changes."
    )


class KitchenConfig(Section):
    """Kaffeeküche: conversation prompts in shared rooms and spontaneous coffee breaks."""

    rooms: list[MatrixRoomId] = Field(
        default_factory=list,
        description="Rooms the bot posts conversation prompts into (invite the bot there).",
    )
    schedule: list[WeeklySlot] = Field(
        default_factory=lambda: ["Di 10:00", "Do 10:00"],
        min_length=1,
        description="When prompts are posted: weekday and local time, German or English day "
        'names ("Di 10:00", "thu 10:00").',
    )
    prompt_interval_s: float | None = Field(
        None,
        gt=0,
        description="Tests and demos only: a prompt every N seconds instead of the schedule.",
    )
    use_builtin_prompts: bool = Field(
        True,
        description="false: use only extra_prompts_* and accepted suggestions, not the shipped "
        "catalogue.",
    )
    extra_prompts_de: list[str] = Field(default_factory=list, description="Your own prompts.")
    extra_prompts_en: list[str] = Field(
        default_factory=list,
        description="English translations of extra_prompts_de: empty, or exactly one per "
        "German prompt.",
    )
    break_default_minutes: int = Field(
        15, ge=5, le=120, description="!kaffeepause: default waiting time in minutes (5-120)."
    )
    break_repeat_days: int = Field(
        28,
        ge=0,
        le=365,
        description="Two people are not paired spontaneously again within this many days.",
    )
    break_followup_delay_s: float = Field(
        300.0,
        ge=0,
        description='"Did you talk?" this many seconds after the planned end of the break.',
    )
    check_interval_s: float = Field(
        30.0,
        ge=0.2,
        le=600,
        description="How often expired offers and due follow-ups are looked for, in seconds.",
    )
    keep_history_days: int = Field(
        730,
        ge=30,
        le=3650,
        description="Spontaneous breaks and their ties are deleted after this many days.",
    )
    seconds_per_minute: float = Field(
        60.0,
        gt=0,
        le=60,
        description='Tests and demos only: length of a coffee-break "minute" in seconds.',
    )

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


class ReportConfig(Section):
    """Network report (`!admin bericht`, monthly post, `flurfunk report`): aggregates only."""

    k_anonymity: int = Field(
        5,
        ge=2,
        le=100,
        description="Departments and municipalities with fewer participants are shown as "
        '"Sonstige", and counts from 1 to k - 1 as "< k".',
    )
    monthly: bool = Field(
        True, description="Post a monthly report on the previous month to bot.admin_room."
    )
    monthly_day: int = Field(
        1, ge=1, le=28, description="Day of the month of the monthly report (1-28)."
    )
    monthly_time: time = Field(time(9, 0), description="Local time of the monthly report.")
    monthly_grace_hours: float = Field(
        72.0,
        ge=0,
        le=24 * 27,
        description="A monthly report missed while the bot was down is still posted within "
        "this many hours.",
    )
    default_days: int = Field(
        30,
        ge=1,
        le=3660,
        description="Ignored: reports cover whole months that have ended (!admin bericht "
        "without a period: the last one); kept so that older config files still load.",
    )
    chart_months: int = Field(
        12,
        ge=1,
        le=60,
        description="Months in the chart of ties per month (at least the months of the period).",
    )
    max_table_rows: int = Field(
        25,
        ge=5,
        le=200,
        description="Rows per table in the chat message (the CSV files hold every row).",
    )
    check_interval_s: float = Field(
        60.0,
        ge=0.2,
        le=3600,
        description="How often pending report requests and the monthly report are looked for, "
        "in seconds.",
    )
