"""Answers in a step-by-step dialog (onboarding): the steps, the control words (back, skip,
cancel) and yes/no. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.text_cleaning import clean_text


class DialogStep(StrEnum):
    DEPARTMENT = "department"
    MUNICIPALITY = "municipality"
    TASKS = "tasks"
    TOPICS = "topics"
    LANGUAGES = "languages"
    AVAILABILITY = "availability"
    COFFEE = "coffee"


STEPS: tuple[DialogStep, ...] = tuple(DialogStep)


class Control(StrEnum):
    BACK = "back"
    SKIP = "skip"
    CANCEL = "cancel"


_CONTROLS: dict[str, Control] = {
    "zurück": Control.BACK,
    "zurueck": Control.BACK,
    "zuruck": Control.BACK,
    "back": Control.BACK,
    "überspringen": Control.SKIP,
    "ueberspringen": Control.SKIP,
    "uberspringen": Control.SKIP,
    "skip": Control.SKIP,
    "abbrechen": Control.CANCEL,
    "abbruch": Control.CANCEL,
    "cancel": Control.CANCEL,
    "stop": Control.CANCEL,
}
_YES = frozenset({"ja", "j", "jawohl", "gerne", "gern", "yes", "y", "ok", "okay", "👍", "✅"})
_NO = frozenset({"nein", "n", "nö", "no", "nope", "👎", "❌"})


def _word(text: str) -> str:
    return clean_text(text).casefold().strip(" .!?")


def parse_control(text: str) -> Control | None:
    return _CONTROLS.get(_word(text))


def parse_yes_no(text: str) -> bool | None:
    word = _word(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None
