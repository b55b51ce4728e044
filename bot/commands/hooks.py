"""Extension points for features that react to more than command lines:
dialog answers in a DM, reactions on the bot's messages, the bot joining a DM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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


@dataclass
class Hooks:
    text: list[TextHook] = field(default_factory=list)
    reaction: list[ReactionHook] = field(default_factory=list)
    dm_joined: list[JoinHook] = field(default_factory=list)


HOOKS = Hooks()

_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
_VARIATION = {"\ufe0e", "\ufe0f"}


def normalise_emoji(key: str) -> str:
    return "".join(ch for ch in key if ch not in _SKIN_TONES and ch not in _VARIATION)


YES = frozenset({"👍", "✅", "✔", "☑", "👌"})
NO = frozenset({"👎", "❌", "✖", "🚫"})
