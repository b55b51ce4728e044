"""The one yes/no vocabulary: typed answers (`!getroffen ja`, a dialog's question, the
feedback on a hospitation) and reactions (👍/👎 on a question) accept the same words and
emoji everywhere, so that what works in one place works in every other. Pure: no I/O."""

from __future__ import annotations

from bot.domain.text_cleaning import clean_text

YES_EMOJI = frozenset({"👍", "✅", "✔", "☑", "👌"})
NO_EMOJI = frozenset({"👎", "❌", "✖", "🚫"})
YES_WORDS = frozenset(
    {"ja", "j", "jo", "jep", "jawohl", "gerne", "gern", "yes", "y", "yep", "ok", "okay"}
)
NO_WORDS = frozenset({"nein", "n", "nö", "ne", "no", "nope"})

# Emoji sent from a keyboard may carry a variation selector (✔️ = ✔ + U+FE0F).
_VARIATION = str.maketrans("", "", "\ufe0e\ufe0f")


def answer_word(text: str) -> str:
    """The comparison key of a one-word answer: invisible characters, case and trailing
    punctuation do not count (`Ja!`, `ok.`, `jo` with a zero-width space)."""
    return clean_text(text).translate(_VARIATION).casefold().strip(" .!?")


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None for anything else."""
    word = answer_word(text)
    if word in YES_WORDS or word in YES_EMOJI:
        return True
    if word in NO_WORDS or word in NO_EMOJI:
        return False
    return None


def yes_no(text: str) -> bool:
    """`parse_yes_no` for a command argument: a word that is neither raises ValueError."""
    answer = parse_yes_no(text)
    if answer is None:
        raise ValueError(text)
    return answer
