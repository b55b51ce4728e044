"""Profiles: the model, the names of its fields (as people type them in chat and as help
texts show them) and the coffee matching state. Pure: no I/O.

Parsing and validating what people type into a field: `bot.domain.profile_fields`
(languages: `bot.domain.languages`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

PAUSE_WEEKS_MAX = 26


class ProfileField(StrEnum):
    NAME = "name"
    DEPARTMENT = "department"
    MUNICIPALITY = "municipality"
    TASKS = "tasks"
    TOPICS = "topics"
    LANGUAGES = "languages"
    AVAILABILITY = "availability"


# What people may type after `!profil` / `!profile` (case-insensitive).
FIELD_NAMES: dict[str, ProfileField] = {
    "name": ProfileField.NAME,
    "abteilung": ProfileField.DEPARTMENT,
    "amt": ProfileField.DEPARTMENT,
    "fachbereich": ProfileField.DEPARTMENT,
    "department": ProfileField.DEPARTMENT,
    "kommune": ProfileField.MUNICIPALITY,
    "gemeinde": ProfileField.MUNICIPALITY,
    "stadt": ProfileField.MUNICIPALITY,
    "municipality": ProfileField.MUNICIPALITY,
    "aufgaben": ProfileField.TASKS,
    "aufgabe": ProfileField.TASKS,
    "tasks": ProfileField.TASKS,
    "themen": ProfileField.TOPICS,
    "thema": ProfileField.TOPICS,
    "topics": ProfileField.TOPICS,
    "sprachen": ProfileField.LANGUAGES,
    "languages": ProfileField.LANGUAGES,
    "erreichbarkeit": ProfileField.AVAILABILITY,
    "verfügbarkeit": ProfileField.AVAILABILITY,
    "availability": ProfileField.AVAILABILITY,
}

# The names shown in help texts and error messages, per language.
FIELD_DISPLAY: dict[ProfileField, tuple[str, str]] = {
    ProfileField.NAME: ("name", "name"),
    ProfileField.DEPARTMENT: ("abteilung", "department"),
    ProfileField.MUNICIPALITY: ("kommune", "municipality"),
    ProfileField.TASKS: ("aufgaben", "tasks"),
    ProfileField.TOPICS: ("themen", "topics"),
    ProfileField.LANGUAGES: ("sprachen", "languages"),
    ProfileField.AVAILABILITY: ("erreichbarkeit", "availability"),
}


def field_by_name(name: str) -> ProfileField | None:
    return FIELD_NAMES.get(name.strip().casefold())


def suggest_field(name: str) -> list[str]:
    return difflib.get_close_matches(name.strip().casefold(), list(FIELD_NAMES), n=3, cutoff=0.6)


# -- the model ---------------------------------------------------------------------------

CoffeeState = Literal["on", "off", "paused"]
Source = Literal["chat", "import"]


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything Flurfunk knows about one person (besides the UI language choice, which the
    chat layer keeps and which is joined in as `ui_language`)."""

    id: int
    user_id: str
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    department: str | None = None
    municipality: str | None = None
    tasks: str | None = None
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # language codes, see LANGUAGES
    availability: str | None = None
    coffee: bool = False  # opted in to the weekly matching
    coffee_paused_until: datetime | None = None
    # The person acted in chat themselves; imported profiles stay unconfirmed and are
    # neither matched nor contacted.
    confirmed: bool = False
    source: Source = "chat"
    last_seen_at: datetime | None = None
    onboarded_at: datetime | None = None
    ui_language: str | None = None
    # Others may find the person with `!suche` (`!profil auffindbar ja`); off by default.
    findable: bool = False

    def coffee_state(self, now: datetime) -> CoffeeState:
        return coffee_state(self.coffee, self.coffee_paused_until, now)

    def coffee_eligible(self, now: datetime) -> bool:
        return self.confirmed and self.coffee_state(now) == "on"

    def value(self, which: ProfileField) -> str | tuple[str, ...] | None:
        return {
            ProfileField.NAME: self.display_name,
            ProfileField.DEPARTMENT: self.department,
            ProfileField.MUNICIPALITY: self.municipality,
            ProfileField.TASKS: self.tasks,
            ProfileField.TOPICS: self.topics,
            ProfileField.LANGUAGES: self.languages,
            ProfileField.AVAILABILITY: self.availability,
        }[which]


def coffee_state(on: bool, paused_until: datetime | None, now: datetime) -> CoffeeState:
    """Paused while `paused_until` lies ahead; the pause ends by itself."""
    if not on:
        return "off"
    if paused_until is not None and paused_until > now:
        return "paused"
    return "on"


def pause_end(now: datetime, weeks: int) -> datetime:
    if not 1 <= weeks <= PAUSE_WEEKS_MAX:
        raise ValueError(f"weeks must be 1..{PAUSE_WEEKS_MAX}")
    return now + timedelta(weeks=weeks)
