"""`!sprache de|en` / `!language de|en`: the language the bot uses with this person."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg
from bot.domain.roles import Where

CHOICES = {
    "de": "de",
    "deutsch": "de",
    "german": "de",
    "en": "en",
    "englisch": "en",
    "english": "en",
}


@REGISTRY.command(
    "sprache", "language", args=(Arg("sprache", "language"),), where=Where.ANY, section="profile"
)
async def sprache(ctx: CommandContext, language: str) -> None:
    choice = CHOICES.get(language.casefold())
    if choice is None:
        await ctx.reply("language.unknown", given=language)
        return
    await ctx.services.db.execute(
        "INSERT INTO language_choice (user_id, language) VALUES (?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET language = excluded.language",
        (ctx.sender, choice),
    )
    ctx.lang = choice  # type: ignore[assignment]
    await ctx.reply("language.set")
