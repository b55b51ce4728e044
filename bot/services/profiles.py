"""Profile use cases: read profiles (for every feature), let people change their own.

Every write takes the acting person's ID and changes only that person's profile: there
is no way to name somebody else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.config import DirectoryConfig
from bot.domain.languages import parse_languages
from bot.domain.profile import Profile, ProfileField, pause_end
from bot.domain.profile_fields import (
    FieldError,
    FieldErrorCode,
    parse_availability,
    parse_choice,
    parse_name,
    parse_tasks,
    parse_topics,
)
from bot.domain.text_cleaning import is_clear
from bot.services.ports import AccountDirectory, NoAccountDirectory, Say
from bot.store.activity import ActivityStore
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

# Profile columns per field.
COLUMN: dict[ProfileField, str] = {
    ProfileField.NAME: "display_name",
    ProfileField.DEPARTMENT: "department",
    ProfileField.MUNICIPALITY: "municipality",
    ProfileField.TASKS: "tasks",
    ProfileField.TOPICS: "topics",
    ProfileField.LANGUAGES: "languages",
    ProfileField.AVAILABILITY: "availability",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


# Values that the chat layer formats in the reader's language.
@dataclass(frozen=True)
class Alternatives:
    """»A«, »B« oder »C«"""

    items: tuple[str, ...]


@dataclass(frozen=True)
class LanguageNames:
    """Language codes shown as names: Deutsch, Englisch"""

    codes: tuple[str, ...]


@dataclass(frozen=True)
class PerLanguage:
    """A configured text that exists per language (e.g. the privacy notice)."""

    de: str
    en: str


@dataclass(frozen=True)
class Moment:
    """A date (and time) shown in the reader's format and the configured time zone."""

    at: datetime
    with_time: bool = False


@dataclass(frozen=True)
class FieldChanged:
    field: ProfileField
    value: Any  # None or () when cleared
    previous: Any
    profile: Profile

    @property
    def cleared(self) -> bool:
        return self.value in (None, ())


def parse_field(
    which: ProfileField, text: str, directory: DirectoryConfig
) -> str | tuple[str, ...] | FieldError:
    """The value for one field from what was typed (not for clearing: see `is_clear`)."""
    if which is ProfileField.DEPARTMENT:
        return parse_choice(text, directory.departments, free=directory.free_departments)
    if which is ProfileField.MUNICIPALITY:
        return parse_choice(text, directory.municipalities, free=directory.free_municipalities)
    if which is ProfileField.TOPICS:
        return parse_topics(text, directory.topics_max)
    if which is ProfileField.LANGUAGES:
        return parse_languages(text)
    if which is ProfileField.TASKS:
        return parse_tasks(text)
    if which is ProfileField.AVAILABILITY:
        return parse_availability(text)
    return parse_name(text)


def empty_value(which: ProfileField) -> tuple[str, ...] | None:
    return () if which in (ProfileField.TOPICS, ProfileField.LANGUAGES) else None


def error_say(which: ProfileField, error: FieldError) -> Say:
    """What is wrong with a value, as a catalogue message (`profile.error.*`)."""
    code = error.code.value
    if error.code is FieldErrorCode.UNKNOWN_LANGUAGE and error.suggestions:
        code += "_suggest"
    return Say(
        f"profile.error.{code}",
        {
            "field": Say(f"profile.field.{which.value}"),
            "fragment": error.fragment,
            "suggestions": Alternatives(error.suggestions),
            "limit": error.limit,
            "example": Say(f"profile.example.{which.value}"),
        },
    )


class ProfileService:
    def __init__(
        self,
        db: Database,
        directory: DirectoryConfig,
        accounts: AccountDirectory | None = None,
    ) -> None:
        self.db = db
        self.directory = directory
        self.repo = ProfileRepository(db)
        self.activity = ActivityStore(db)
        self.accounts: AccountDirectory = accounts or NoAccountDirectory()
        # Called after tasks or topics changed (the hub wakes the vector refresh with it).
        self.texts_changed: Callable[[], None] = lambda: None

    # -- reads for every feature (stable) ------------------------------------------------

    async def get(self, user_id: str) -> Profile | None:
        return await self.repo.get(user_id)

    async def get_many(self, user_ids: list[str]) -> dict[str, Profile]:
        return await self.repo.get_many(user_ids)

    async def eligible_for_coffee(self, now: datetime | float | None = None) -> list[Profile]:
        return await self.repo.eligible_for_coffee(now)

    async def all_active(self) -> list[Profile]:
        return await self.repo.all_active()

    def allows_free_text(self, which: ProfileField) -> bool:
        """Whether a value outside the configured list is accepted for this field."""
        directory = self.directory
        if which is ProfileField.DEPARTMENT:
            return directory.free_departments or not directory.departments
        if which is ProfileField.MUNICIPALITY:
            return directory.free_municipalities or not directory.municipalities
        return True

    # -- the person's own profile --------------------------------------------------------

    async def ensure(self, actor: str, now: datetime) -> Profile:
        """The actor's profile, created (and confirmed: they came to us) if there is none.
        Acting in chat confirms an imported profile."""
        profile = await self.repo.create(actor, now, confirmed=True)
        changes: dict[str, Any] = {}
        if not profile.confirmed:
            changes["confirmed"] = True
        if profile.display_name is None:
            name = self.accounts.known_display_name(actor)
            if name:
                changes["display_name"] = name[:80]
        if changes:
            updated = await self.repo.update(actor, now, **changes)
            assert updated is not None
            profile = updated
        return profile

    async def set_field(
        self, actor: str, which: ProfileField, text: str, now: datetime | None = None
    ) -> FieldChanged | FieldError:
        now = now or now_utc()
        value: Any
        if is_clear(text):
            value = empty_value(which)
        else:
            parsed = parse_field(which, text, self.directory)
            if isinstance(parsed, FieldError):
                return parsed
            value = parsed
        async with self.db.transaction("profiles.set_field"):
            before = await self.ensure(actor, now)
            profile = await self.repo.update(actor, now, **{COLUMN[which]: value})
        assert profile is not None
        if which in (ProfileField.TASKS, ProfileField.TOPICS):
            self.texts_changed()
        return FieldChanged(which, value, before.value(which), profile)

    async def set_coffee(self, actor: str, on: bool, now: datetime | None = None) -> Profile | None:
        """`!kaffee an` opts in (and ends a pause), `!kaffee aus` opts out. Opting out
        creates no profile for someone who has none (None then)."""
        now = now or now_utc()
        async with self.db.transaction("profiles.set_coffee"):
            if not on and await self.repo.get(actor) is None:
                return None
            await self.ensure(actor, now)
            profile = await self.repo.update(actor, now, coffee=on, coffee_paused_until=None)
        assert profile is not None
        return profile

    async def pause_coffee(self, actor: str, weeks: int, now: datetime | None = None) -> Profile:
        """Paused for `weeks`; the matching takes the person again afterwards by itself."""
        now = now or now_utc()
        until = pause_end(now, weeks)
        async with self.db.transaction("profiles.pause_coffee"):
            await self.ensure(actor, now)
            profile = await self.repo.update(actor, now, coffee=True, coffee_paused_until=until)
        assert profile is not None
        return profile

    async def touch(self, user_id: str, now: datetime | None = None) -> None:
        """The person used the bot: recorded for everybody (the retention limit applies to
        all their data, profile or not) and on the profile, if there is one."""
        now = now or now_utc()
        async with self.db.transaction("profiles.touch"):
            await self.activity.touch(user_id, now.timestamp())
            await self.repo.touch(user_id, now)
