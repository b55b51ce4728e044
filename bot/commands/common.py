"""Helpers every command module may use: the time now, and rendering a service's `Say`
(with its typed parameters: moments, alternatives, language names) in the reader's language
into one reply. Command modules import these from here, never from each other."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.commands.context import CommandContext
from bot.domain.languages import language_name
from bot.i18n.render import Rendered, join
from bot.services.ports import Say
from bot.services.profiles import Alternatives, LanguageNames, Moment, PerLanguage


def now_utc() -> datetime:
    return datetime.now(UTC)


def format_moment(ctx: CommandContext, moment: Moment) -> str:
    local = moment.at.astimezone(ZoneInfo(ctx.services.config.timezone))
    if ctx.lang == "de":
        return local.strftime("%d.%m.%Y, %H:%M Uhr" if moment.with_time else "%d.%m.%Y")
    return local.strftime("%Y-%m-%d %H:%M" if moment.with_time else "%Y-%m-%d")


def alternatives(ctx: CommandContext, items: Iterable[str]) -> str:
    quoted = [f"»{item}«" for item in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {ctx.text('profile.alternatives.or').plain} " + quoted[-1]


def value(ctx: CommandContext, item: object) -> object:
    """A message parameter in the reader's language."""
    if isinstance(item, Say):
        return render_say(ctx, item)
    if isinstance(item, Alternatives):
        return alternatives(ctx, item.items)
    if isinstance(item, LanguageNames):
        return ", ".join(language_name(code, ctx.lang) for code in item.codes)
    if isinstance(item, Moment):
        return format_moment(ctx, item)
    if isinstance(item, PerLanguage):
        return item.de if ctx.lang == "de" else item.en
    if isinstance(item, bool):
        return ctx.text("profile.yes" if item else "profile.no")
    if item is None or item == () or item == []:
        return ctx.text("profile.empty")
    if isinstance(item, list | tuple):
        return ", ".join(str(i) for i in item)
    return item


def render_say(ctx: CommandContext, message: Say) -> Rendered:
    params = {key: value(ctx, item) for key, item in message.params.items()}
    return ctx.text(message.key, **params)


async def reply_says(ctx: CommandContext, messages: Iterable[Say | Rendered]) -> None:
    """One notice made of several messages."""
    parts = [m if isinstance(m, Rendered) else render_say(ctx, m) for m in messages]
    await ctx.reply_rendered(join(parts, "\n\n"))
