"""Answers in a step-by-step dialog (onboarding): the steps and the control words (back,
skip, cancel). Yes/no is the vocabulary every feature shares (`bot.domain.answers`).
Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.answers import answer_word

__all__ = ["STEPS", "Control", "DialogStep", "parse_control"]


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


def parse_control(text: str) -> Control | None:
    return _CONTROLS.get(answer_word(text))
