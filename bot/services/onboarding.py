"""Guided onboarding (`!start`): a privacy notice, then one question per step.

The dialog lives in the `dialogs` table (step and answers so far), written in the same
transaction as the answer that moved it: a bot killed mid-dialog asks the same question
again after the restart and keeps every answer given. Answers are only written to the
profile when the last step is done; `abbrechen` leaves the profile as it was.

At every step `zurück` (back), `überspringen` (skip: keep what is there) and `abbrechen`
(cancel) work, and `-` clears the field. A value close to a listed department or
municipality ("Gesundhetsamt") is not taken silently: the person can answer `ja` to take
the suggestion, or send their spelling once more to keep it (where free text is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.domain.answers import parse_yes_no
from bot.domain.dialog_answers import STEPS, Control, DialogStep, parse_control
from bot.domain.profile import Profile, ProfileField
from bot.domain.profile_fields import FieldError, FieldErrorCode
from bot.domain.text_cleaning import clean_text, fold, is_clear
from bot.services.ports import Say
from bot.services.profiles import (
    COLUMN,
    Alternatives,
    LanguageNames,
    PerLanguage,
    ProfileService,
    empty_value,
    error_say,
    parse_field,
)
from bot.store.db import Database
from bot.store.dialogs import DialogRepository

KIND = "onboarding"
# Shown with the department/municipality question when a list is configured.
OPTIONS_SHOWN = 12


@dataclass
class OnboardingReply:
    messages: list[Say] = field(default_factory=list)
    # The saved profile, when this answer completed the onboarding.
    finished: Profile | None = None


class OnboardingService:
    def __init__(self, db: Database, config: Config, profiles: ProfileService) -> None:
        self.db = db
        self.config = config
        self.profiles = profiles
        self.dialogs = DialogRepository(db)

    async def active(self, user_id: str) -> bool:
        return await self.dialogs.get(user_id, KIND) is not None

    async def start(self, user_id: str, now: datetime) -> OnboardingReply:
        async with self.db.transaction("onboarding.start"):
            dialog = await self.dialogs.get(user_id, KIND)
            profile = await self.profiles.get(user_id)
            if dialog is not None:
                step = DialogStep(dialog.step)
                return OnboardingReply(
                    [Say("onboarding.resume"), self._question(step, profile, dialog.data)]
                )
            data: dict[str, Any] = {"answers": {}}
            await self.dialogs.put(user_id, KIND, STEPS[0].value, data, now)
            privacy = self.config.privacy
            notice = Say(
                "onboarding.notice", {"notice": PerLanguage(privacy.notice_de, privacy.notice_en)}
            )
            intro = Say("onboarding.intro_again" if profile else "onboarding.intro")
            return OnboardingReply([notice, intro, self._question(STEPS[0], profile, data)])

    async def cancel(self, user_id: str) -> bool:
        return await self.dialogs.delete(user_id, KIND) > 0

    async def current_question(self, user_id: str) -> Say | None:
        dialog = await self.dialogs.get(user_id, KIND)
        if dialog is None:
            return None
        return self._question(
            DialogStep(dialog.step), await self.profiles.get(user_id), dialog.data
        )

    async def answer(self, user_id: str, text: str, now: datetime) -> OnboardingReply | None:
        """Handle a DM text; None when the person is not in the onboarding dialog."""
        async with self.db.transaction("onboarding.answer"):
            dialog = await self.dialogs.get(user_id, KIND)
            if dialog is None:
                return None
            profile = await self.profiles.get(user_id)
            await self.profiles.touch(user_id, now)
            step = DialogStep(dialog.step)
            data = dialog.data
            answers: dict[str, Any] = data.setdefault("answers", {})
            control = parse_control(text)
            if control is Control.CANCEL:
                await self.dialogs.delete(user_id, KIND)
                return OnboardingReply([Say("onboarding.cancelled")])
            if control is Control.BACK:
                data.pop("pending", None)
                index = STEPS.index(step)
                if index == 0:
                    return OnboardingReply(
                        [Say("onboarding.first_step"), self._question(step, profile, data)]
                    )
                previous = STEPS[index - 1]
                await self.dialogs.put(user_id, KIND, previous.value, data, now)
                return OnboardingReply([self._question(previous, profile, data)])
            if control is Control.SKIP:
                data.pop("pending", None)
                return await self._advance(user_id, step, profile, data, now)
            if step is DialogStep.COFFEE:
                yes = parse_yes_no(text)
                if yes is None:
                    return OnboardingReply(
                        [Say("onboarding.error.yes_no"), self._question(step, profile, data)]
                    )
                answers[step.value] = yes
                return await self._advance(user_id, step, profile, data, now)
            which = ProfileField(step.value)
            value = self._value(which, text, data)
            if isinstance(value, FieldError):
                if value.code is FieldErrorCode.DID_YOU_MEAN:
                    data["pending"] = {"raw": clean_text(text), "suggestions": value.suggestions}
                    await self.dialogs.put(user_id, KIND, step.value, data, now)
                    return OnboardingReply([self._did_you_mean(which, value)])
                if data.pop("pending", None) is not None:
                    await self.dialogs.put(user_id, KIND, step.value, data, now)
                return OnboardingReply(
                    [error_say(which, value), self._question(step, profile, data)]
                )
            data.pop("pending", None)
            answers[step.value] = list(value) if isinstance(value, tuple) else value
            return await self._advance(user_id, step, profile, data, now)

    def _value(
        self, which: ProfileField, text: str, data: dict[str, Any]
    ) -> str | tuple[str, ...] | FieldError | None:
        pending = data.get("pending")
        if pending:
            suggestions = list(pending.get("suggestions") or [])
            if parse_yes_no(text) is True and len(suggestions) == 1:
                return str(suggestions[0])
            if (
                fold(text)
                and fold(text) == fold(pending["raw"])
                and self.profiles.allows_free_text(which)
            ):
                # The same spelling again: the person means it.
                return clean_text(pending["raw"])
        if is_clear(text):
            return empty_value(which)
        return parse_field(which, text, self.config.directory)

    def _did_you_mean(self, which: ProfileField, error: FieldError) -> Say:
        key = "onboarding.did_you_mean"
        if len(error.suggestions) > 1:
            key = "onboarding.did_you_mean_many"
        if self.profiles.allows_free_text(which):
            key += "_or_keep"
        return Say(
            key,
            {
                "field": Say(f"profile.field.{which.value}"),
                "given": error.fragment,
                "suggestions": Alternatives(error.suggestions),
            },
        )

    async def _advance(
        self,
        user_id: str,
        step: DialogStep,
        profile: Profile | None,
        data: dict[str, Any],
        now: datetime,
    ) -> OnboardingReply:
        index = STEPS.index(step)
        if index + 1 < len(STEPS):
            following = STEPS[index + 1]
            await self.dialogs.put(user_id, KIND, following.value, data, now)
            return OnboardingReply([self._question(following, profile, data)])
        saved = await self._finish(user_id, data, now)
        return OnboardingReply([Say("onboarding.done")], finished=saved)

    async def _finish(self, user_id: str, data: dict[str, Any], now: datetime) -> Profile:
        answers: dict[str, Any] = data.get("answers", {})
        changes: dict[str, Any] = {"onboarded_at": now}
        for step_name, value in answers.items():
            if step_name == DialogStep.COFFEE.value:
                changes["coffee"] = bool(value)
                changes["coffee_paused_until"] = None
            else:
                which = ProfileField(step_name)
                changes[COLUMN[which]] = tuple(value) if isinstance(value, list) else value
        await self.profiles.ensure(user_id, now)
        profile = await self.profiles.repo.update(user_id, now, **changes)
        await self.dialogs.delete(user_id, KIND)
        assert profile is not None
        self.profiles.texts_changed()
        return profile

    def _question(self, step: DialogStep, profile: Profile | None, data: dict[str, Any]) -> Say:
        answers = data.get("answers", {})
        current: Any
        if step.value in answers:
            current = answers[step.value]
        elif profile is None:
            current = None
        elif step is DialogStep.COFFEE:
            current = profile.coffee if profile.onboarded_at or profile.confirmed else None
        else:
            current = profile.value(ProfileField(step.value))
        params: dict[str, object] = {
            "number": STEPS.index(step) + 1,
            "total": len(STEPS),
            "current": self._current(step, current),
            "options": self._options(step),
            "topics_max": self.config.directory.topics_max,
        }
        return Say(f"onboarding.q.{step.value}", params)

    def _current(self, step: DialogStep, value: Any) -> Say | str:
        if value is None or value == [] or value == ():
            return ""
        if step is DialogStep.COFFEE:
            return Say(
                "onboarding.current", {"value": Say("profile.yes" if value else "profile.no")}
            )
        if step is DialogStep.LANGUAGES:
            return Say("onboarding.current", {"value": LanguageNames(tuple(value))})
        if isinstance(value, list | tuple):
            return Say("onboarding.current", {"value": ", ".join(value)})
        return Say("onboarding.current", {"value": str(value)})

    def _options(self, step: DialogStep) -> Say | str:
        directory = self.config.directory
        if step is DialogStep.DEPARTMENT:
            listed, free = (
                directory.departments,
                self.profiles.allows_free_text(ProfileField.DEPARTMENT),
            )
        elif step is DialogStep.MUNICIPALITY:
            listed, free = (
                directory.municipalities,
                self.profiles.allows_free_text(ProfileField.MUNICIPALITY),
            )
        else:
            return ""
        if not listed:
            return ""
        shown = ", ".join(listed[:OPTIONS_SHOWN]) + (" …" if len(listed) > OPTIONS_SHOWN else "")
        return Say("onboarding.options_free" if free else "onboarding.options", {"options": shown})
