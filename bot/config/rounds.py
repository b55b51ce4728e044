"""Config sections of the rounds: weekly coffee matches and topic circles.

Each key's `description` is what an operator reads (see `bot/config/features.py`).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import Field, model_validator

from bot.config.core import Section
from bot.config.schedule import HolidayState, WeeklySlot, parse_weekly_slot

GraceHours = Annotated[
    float,
    Field(
        ge=0,
        le=144,
        description="A round missed while the bot was down still runs at start within this "
        "many hours.",
    ),
]


class CoffeeConfig(Section):
    """Weekly coffee matches (Kaffeerunde)."""

    enabled: bool = Field(
        True, description="Scheduled weekly rounds on/off (!admin runde works either way)."
    )
    schedule: WeeklySlot = Field("Mo 09:00", description="Weekday and local time of a round.")
    every_weeks: int = Field(
        1,
        ge=1,
        le=4,
        description="A round every N weeks (1-4; weeks counted from Monday 2024-01-01).",
    )
    separation: Literal["department", "municipality"] = Field(
        "department",
        description="Matched people must differ in this: department (Amt) or municipality "
        "(Kommune).",
    )
    repeat_ban_rounds: int = Field(
        26,
        ge=1,
        le=520,
        description="A pair that met is not matched again for this many rounds (then only "
        "discouraged).",
    )
    cross_municipality_bonus: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Extra weight for a pair from two municipalities (similarity is 0..1).",
    )
    candidates_per_person: int = Field(
        20,
        ge=2,
        le=200,
        description="Best candidates per person considered by the matching (more: better, slower).",
    )
    followup_after_days: float = Field(
        3.0,
        gt=0,
        le=28,
        description='"Did you meet?" is asked in the match room this many days after the '
        "introduction (fractions allowed: 0.5 = twelve hours).",
    )
    holiday_state: HolidayState = None
    grace_hours: GraceHours = 24.0
    unanswered_before_question: int = Field(
        3,
        ge=1,
        le=20,
        description="After this many unanswered introductions in a row the person is asked "
        "whether to pause.",
    )
    check_interval_s: float = Field(
        60.0,
        ge=0.2,
        le=3600,
        description="How often due rounds and follow-ups are looked for, in seconds.",
    )
    keep_history_days: int = Field(
        730,
        ge=30,
        le=3650,
        description="Past rounds (who met whom, answers) are deleted after this many days.",
    )

    def slot(self) -> tuple[int, time]:
        return parse_weekly_slot(self.schedule)


class CirclesConfig(Section):
    """Topic circles (Themenrunden): small groups sharing a topic across municipalities."""

    enabled: bool = Field(
        True,
        description="Topic circles (Themenrunden) on/off (!admin themenrunde works either way).",
    )
    schedule: WeeklySlot = Field(
        "Mi 10:00",
        description="Weekday and local time of a round: monthly on the week_of_month-th such "
        "weekday, or every every_weeks weeks if that is set.",
    )
    week_of_month: int = Field(
        1, ge=1, le=4, description="Which such weekday of the month (1-4) a round falls on."
    )
    every_weeks: int | None = Field(
        None,
        ge=1,
        le=12,
        description="A round every N weeks instead of monthly; null = monthly.",
    )
    min_size: int = Field(3, ge=2, le=12, description="Fewest members of a circle.")
    max_size: int = Field(6, ge=2, le=20, description="Most members of a circle.")
    min_shared: int = Field(
        3,
        ge=2,
        le=100,
        description="A topic that is not configured needs this many people naming it.",
    )
    topics: list[str] = Field(
        default_factory=list,
        description="Topics the administration wants circles for, even when fewer people name "
        "them.",
    )
    repeat_ban_rounds: int = Field(
        6,
        ge=0,
        le=120,
        description="A circle whose members were together in one of the last N circle rounds "
        "is not formed again.",
    )
    followup_after_days: float = Field(
        7.0,
        gt=0,
        le=60,
        description='"Did you meet?" this many days after the introduction.',
    )
    holiday_state: HolidayState = None
    grace_hours: GraceHours = 24.0

    @model_validator(mode="after")
    def _sizes(self) -> CirclesConfig:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not be larger than max_size")
        return self

    def slot(self) -> tuple[int, time]:
        return parse_weekly_slot(self.schedule)
