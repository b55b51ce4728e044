"""`!start`: the guided onboarding in a DM, its answers (non-command DM text), and the
greeting when the bot joins a new DM."""

from __future__ import annotations

from bot.commands.common import now_utc, render_say, reply_says
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, TextOrder
from bot.commands.profile import profile_view
from bot.commands.registry import REGISTRY, Section
from bot.domain.roles import Where
from bot.i18n.render import Rendered
from bot.services.onboarding import OnboardingReply
from bot.services.ports import Say


async def send(ctx: CommandContext, reply: OnboardingReply) -> None:
    parts: list[Say | Rendered] = list(reply.messages)
    if reply.finished is not None:
        parts.append(profile_view(ctx, reply.finished, how=False))
        parts.append(ctx.text("onboarding.after"))
    await reply_says(ctx, parts)


@REGISTRY.command("start", "start", where=Where.DM, section=Section.PROFILE)
async def start(ctx: CommandContext) -> None:
    await send(ctx, await ctx.services.onboarding.start(ctx.sender, now_utc()))


async def onboarding_answer(ctx: CommandContext, text: str) -> bool:
    """An answer in the onboarding dialog; False when none is running for this person."""
    reply = await ctx.services.onboarding.answer(ctx.sender, text, now_utc())
    if reply is None:
        return False
    await send(ctx, reply)
    return True


async def greet(ctx: CommandContext) -> None:
    """The first words in a new DM: an offer to start; imported people learn what their
    administration stored about them and that nothing happens without their consent."""
    profile = await ctx.services.profiles.get(ctx.sender)
    if profile is not None and not profile.confirmed:
        await ctx.reply("onboarding.welcome_imported")
    else:
        await ctx.reply("welcome.greeting")


async def current_question(ctx: CommandContext) -> Rendered | None:
    question = await ctx.services.onboarding.current_question(ctx.sender)
    return None if question is None else render_say(ctx, question)


HOOKS.on_text(TextOrder.ONBOARDING, onboarding_answer)
HOOKS.dm_joined.append(greet)
