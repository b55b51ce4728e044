"""`!meinedaten` / `!mydata` and `!vergessen` / `!forget`."""

from __future__ import annotations

from bot.commands.common import now_utc
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, TextOrder
from bot.commands.onboarding import current_question
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.answers import answer_word, parse_yes_no
from bot.domain.dialog_answers import Control, parse_control
from bot.domain.roles import Where
from bot.i18n.render import join

CONFIRM_WORDS = frozenset({"bestätigen", "bestaetigen", "bestätigt", "confirm"})


def confirmed(word: str) -> bool:
    """The confirming word of `!vergessen bestätigen`, or a plain yes."""
    return answer_word(word) in CONFIRM_WORDS or parse_yes_no(word) is True


@REGISTRY.command("meinedaten", "mydata", where=Where.DM, section=Section.PRIVACY)
async def meinedaten(ctx: CommandContext) -> None:
    now = now_utc()
    stem = "flurfunk-meine-daten" if ctx.lang == "de" else "flurfunk-my-data"
    filename = f"{stem}-{now.date().isoformat()}.json"
    attachment = await ctx.services.privacy.export_file(ctx.sender, now, filename)
    await ctx.reply("privacy.export")
    await ctx.reply_file(attachment)


@REGISTRY.command(
    "vergessen",
    "forget",
    args=(Arg("confirm", "bestätigen", "confirm", optional=True),),
    where=Where.DM,
    section=Section.PRIVACY,
)
async def vergessen(ctx: CommandContext, confirm: str | None) -> None:
    if confirm is None:
        await ctx.services.privacy.request_forget(ctx.sender, now_utc())
        await ctx.reply("privacy.forget.ask")
        return
    if not confirmed(confirm):
        await ctx.reply("privacy.forget.bad_word", given=confirm)
        return
    await forget_now(ctx)


async def forget_now(ctx: CommandContext) -> None:
    await ctx.services.privacy.forget(ctx.sender)
    # The goodbye must not name the person in our store: no subject, plain room target.
    await ctx.messenger.send_rendered(
        "room", ctx.room_id, ctx.text("privacy.forget.done"), effect_key=f"forgot:{ctx.event_id}"
    )


async def forget_answer(ctx: CommandContext, text: str) -> bool:
    """`ja`/`nein` after `!vergessen`; False when no confirmation is pending."""
    privacy = ctx.services.privacy
    if not await privacy.forget_pending(ctx.sender, now_utc()):
        return False
    answer = parse_yes_no(text)
    if answer is True:
        await forget_now(ctx)
    elif answer is False or parse_control(text) is Control.CANCEL:
        await privacy.cancel_forget(ctx.sender)
        await ctx.reply("privacy.forget.kept")
        question = await current_question(ctx)
        if question is not None:
            await ctx.reply_rendered(
                join([ctx.text("privacy.forget.back_to_onboarding"), question])
            )
    else:
        await ctx.reply("privacy.forget.yes_no")
    return True


HOOKS.on_text(TextOrder.FORGET, forget_answer)
