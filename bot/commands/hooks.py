"""Extension points for features that react to more than command lines:
dialog answers in a DM, reactions on the bot's messages, the bot joining a DM.

Text hooks run in the order of `TextOrder`, whatever the import order of their modules;
the first that consumes the text ends the round. Reaction hooks each own the outbox keys of
their feature's messages (`crisis:…`, `coffeebreak:…:followup`, `intro:…:ask`, …), so their
order does not matter.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum

from bot.commands.context import CommandContext

# Returns True when the text was consumed (e.g. an answer in an onboarding dialog).
TextHook = Callable[[CommandContext, str], Awaitable[bool]]


@dataclass(frozen=True)
class Reaction:
    sender: str
    room_id: str
    target_key: str  # the outbox key of the bot message that was reacted to
    emoji: str  # normalised: skin tones and variation selectors removed
    withdrawn: bool  # True when the reaction was redacted


ReactionHook = Callable[[CommandContext, Reaction], Awaitable[bool]]
JoinHook = Callable[[CommandContext], Awaitable[None]]


class TextOrder(IntEnum):
    """Who gets a DM text (no command) first: the one place that decides it."""

    # A pending "really delete everything?" takes the next answer, whatever else is open.
    FORGET = 10
    # The two dialogs: the guided hospitation offer, then the onboarding.
    OFFER_DIALOG = 20
    ONBOARDING = 30
    # After the dialogs: a `ja` there answers their question, not an introduction request.
    INTRODUCTION = 40


@dataclass
class Hooks:
    text: list[TextHook] = field(default_factory=list)
    reaction: list[ReactionHook] = field(default_factory=list)
    dm_joined: list[JoinHook] = field(default_factory=list)
    _text_order: list[TextOrder] = field(default_factory=list, repr=False)

    def on_text(self, order: TextOrder, hook: TextHook) -> None:
        """Register `hook` after every hook of a lower or the same order."""
        at = bisect.bisect_right(self._text_order, order)
        self._text_order.insert(at, order)
        self.text.insert(at, hook)


HOOKS = Hooks()

_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
_VARIATION = {"\ufe0e", "\ufe0f"}


def normalise_emoji(key: str) -> str:
    return "".join(ch for ch in key if ch not in _SKIN_TONES and ch not in _VARIATION)
