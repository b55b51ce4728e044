"""`!sprache de|en` / `!language de|en`: the language the bot uses with this person."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.roles import Where
from bot.i18n import Lang
from bot.store.chat_traces import ChatTraceStore

CHOICES: dict[str, Lang] = {
    "de": "de",
    "deutsch": "de",
    "german": "de",
    "en": "en",
    "englisch": "en",
    "english": "en",
}


@REGISTRY.command(
    "sprache",
    "language",
    args=(Arg("language", "sprache", "language"),),
    where=Where.ANY,
    section=Section.PROFILE,
)
async def sprache(ctx: CommandContext, language: str) -> None:
    choice = CHOICES.get(language.casefold())
    if choice is None:
        await ctx.reply("language.unknown", given=language)
        return
    await ChatTraceStore(ctx.services.db).set_language(ctx.sender, choice)
    ctx.lang = choice
    await ctx.reply("language.set")
