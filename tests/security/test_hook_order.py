"""Which feature gets a DM text first is declared in one place (`TextOrder`), not left to
the import order of the command modules; and every command, dialog answer and reaction
counts as activity, noted once by the dispatcher before anything else runs."""

from __future__ import annotations

from pathlib import Path

from bot.commands import load_all
from bot.commands.hooks import HOOKS, Hooks, TextOrder
from bot.commands.onboarding import onboarding_answer
from bot.store.activity import ActivityStore
from tests.support.harness import STAFF, Harness, dm


def test_dm_text_goes_to_the_features_in_the_declared_order() -> None:
    load_all()
    names = [f"{hook.__module__}.{hook.__name__}" for hook in HOOKS.text]
    assert names == [
        "bot.commands.privacy.forget_answer",  # a pending "really delete?" first
        "bot.commands.hospitation.dialog_text",
        "bot.commands.onboarding.onboarding_answer",
        "bot.commands.search._on_text",  # after the dialogs: their `ja` is theirs
    ]


def test_registration_order_does_not_decide() -> None:
    hooks = Hooks()

    async def late(ctx: object, text: str) -> bool:
        return False

    async def first(ctx: object, text: str) -> bool:
        return False

    hooks.on_text(TextOrder.INTRODUCTION, late)
    hooks.on_text(TextOrder.ONBOARDING, onboarding_answer)
    hooks.on_text(TextOrder.FORGET, first)
    assert hooks.text == [first, onboarding_answer, late]


async def _seen(bot: Harness) -> float | None:
    return await ActivityStore(bot.db).of_user(STAFF)


async def test_a_command_and_a_dialog_answer_are_activity(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        assert await _seen(bot) is None
        await bot.say(STAFF, dm(STAFF), "!hilfe")
        after_command = await _seen(bot)
        await bot.db.execute("DELETE FROM activity", name="test.clear_activity")
        await bot.say(STAFF, dm(STAFF), "Guten Morgen")  # no dialog open: still activity
        after_text = await _seen(bot)
    assert after_command is not None and after_text is not None


async def test_a_refused_command_is_no_activity(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        await bot.say(STAFF, dm(STAFF), "!admin fragen")  # admins only
        await bot.say(STAFF, dm(STAFF), "!kaffee pause")  # a usage error
        assert await _seen(bot) is None
