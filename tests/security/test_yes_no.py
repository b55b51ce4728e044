"""One yes/no vocabulary (issue #15): a word that answers one question answers every other
one too. Before, "ok" finished an onboarding question but `!getroffen ok` was refused, and
`!getroffen jo` worked while "jo" was no hospitation feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import STAFF, Harness, dm

WORDS = [
    ("ja", True),
    ("Jo", True),
    ("ok", True),
    ("gerne", True),
    ("yes", True),
    ("👍", True),
    ("nein", False),
    ("nö", False),
    ("no", False),
]
USAGE = "So geht es"


@pytest.mark.parametrize(("word", "meant"), WORDS)
async def test_met(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, word: str, meant: bool) -> None:
    async with Harness.open(tmp_path) as bot:
        seen: list[bool] = []
        original = bot.services.followups.answer_by_text

        async def answer_by_text(sender: str, room_id: str, met: bool) -> Any:
            seen.append(met)
            return await original(sender, room_id, met)

        monkeypatch.setattr(bot.services.followups, "answer_by_text", answer_by_text)
        replies = await bot.say(STAFF, dm(STAFF), f"!getroffen {word}")
    assert seen == [meant], [r.body for r in replies]
    assert all(USAGE not in r.body for r in replies)


@pytest.mark.parametrize(("word", "meant"), WORDS)
async def test_onboarding_coffee_question(tmp_path: Path, word: str, meant: bool) -> None:
    async with Harness.open(tmp_path) as bot:
        await bot.say(STAFF, dm(STAFF), "!start")
        # Department to availability skipped: the coffee question is the yes/no one.
        for _ in range(6):
            asked = await bot.say(STAFF, dm(STAFF), "überspringen")
        assert "Kaffeerunde" in asked[-1].body, asked[-1].body
        replies = await bot.say(STAFF, dm(STAFF), word)
        profile = await bot.services.profiles.get(STAFF)
    assert profile is not None, [r.body for r in replies]
    assert profile.coffee is meant


@pytest.mark.parametrize(("word", "meant"), WORDS)
async def test_hospitation_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, word: str, meant: bool
) -> None:
    async with Harness.open(tmp_path) as bot:
        followups = bot.services.hospitations.followups
        seen: list[bool] = []
        original = followups.record_feedback

        async def record_feedback(user_id: str, offer_id: str, took_place: bool) -> Any:
            seen.append(took_place)
            return await original(user_id, offer_id, took_place)

        monkeypatch.setattr(followups, "record_feedback", record_feedback)
        replies = await bot.say(STAFF, dm(STAFF), f"!hospitation feedback H-7KQX {word}")
    assert seen == [meant], [r.body for r in replies]


async def test_a_word_that_is_neither_names_the_allowed_ones(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        met = await bot.say(STAFF, dm(STAFF), "!getroffen vielleicht")
        feedback = await bot.say(STAFF, dm(STAFF), "!hospitation feedback H-7KQX vielleicht")
    for replies, usage in (
        (met, "!getroffen <ja|nein>"),
        (feedback, "!hospitation feedback <id> <ja|nein>"),
    ):
        assert len(replies) == 1
        body = replies[0].body
        assert "»vielleicht«" in body and "ja, nein" in body and usage in body, body
