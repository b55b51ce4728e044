"""Colleague search: `!suche` / `!search`, `!vorstellen` / `!introduce`, the profile
switch `!profil auffindbar ja|nein` (`!profile findable yes|no`), and the answers to an
introduction request: 👍/👎 on it, or a plain `ja`/`nein` in the DM.

`!suche` only stores the search and says "einen Moment"; the results follow in a second
message once the search runner has compared meanings outside the event's transaction
(`bot.services.colleague_search`).
"""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction, TextOrder
from bot.commands.profile import PROFILE_SWITCHES
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.answers import NO_EMOJI, YES_EMOJI, parse_yes_no
from bot.domain.colleague_search import SEARCH_MAX_CHARS
from bot.domain.roles import Where
from bot.domain.text_cleaning import clean_text
from bot.i18n.render import join
from bot.services.colleague_search import SEARCHES_PER_HOUR, SearchRefused
from bot.services.introductions import INTRODUCTIONS_PER_DAY, AnswerOutcome, intro_of_ask_key

_ON_WORDS = frozenset({"an", "ein", "on"})
_OFF_WORDS = frozenset({"aus", "off"})


# -- !profil auffindbar ----------------------------------------------------------------------


async def findable(ctx: CommandContext, value: str | None) -> None:
    search = ctx.services.search
    if not value:
        profile = await ctx.services.profiles.get(ctx.sender)
        on = profile is not None and profile.findable
        await ctx.reply("search.findable.status_on" if on else "search.findable.status_off")
        return
    word = clean_text(value).casefold()
    answer = True if word in _ON_WORDS else False if word in _OFF_WORDS else parse_yes_no(value)
    if answer is None:
        await ctx.reply("search.findable.bad_value", given=value)
        return
    if not answer and await ctx.services.profiles.get(ctx.sender) is None:
        await ctx.reply("search.findable.off_none")
        return
    await search.set_findable(ctx.sender, answer)
    if not answer:
        await ctx.reply("search.findable.off")
        return
    parts = [ctx.text("search.findable.on")]
    profile = await ctx.services.profiles.get(ctx.sender)
    if profile is not None and not profile.tasks and not profile.topics:
        parts.append(ctx.text("search.findable.on_no_tasks"))
    await ctx.reply_rendered(join(parts, "\n\n"))


for _name in ("auffindbar", "findable"):
    PROFILE_SWITCHES[_name] = findable


# -- !suche ----------------------------------------------------------------------------------


@REGISTRY.command(
    "suche",
    "search",
    args=(Arg("task", "Aufgabe", "task", kind="rest"),),
    aliases=("suchen",),
    where=Where.DM,
    section=Section.SEARCH,
)
async def suche(ctx: CommandContext, task: str) -> None:
    started = await ctx.services.search.start(ctx.sender, task)
    if isinstance(started, SearchRefused):
        await ctx.reply(
            f"search.error.{started.reason}",
            given=clean_text(task),
            length=len(clean_text(task)),
            max=SEARCHES_PER_HOUR if started.reason == "rate_limited" else SEARCH_MAX_CHARS,
            minutes=started.wait_minutes,
        )
        return
    await ctx.reply("search.searching", query=started.query)


# -- !vorstellen -----------------------------------------------------------------------------


@REGISTRY.command(
    "vorstellen",
    "introduce",
    args=(Arg("no", "Nr", "no", kind="rest"),),
    where=Where.DM,
    section=Section.SEARCH,
)
async def vorstellen(ctx: CommandContext, no: str) -> None:
    outcome = await ctx.services.search.introduce(ctx.sender, no)
    if outcome.code == "asked":
        return  # the service told the person whom it asked (a message it can take back)
    key = f"search.intro.error.{outcome.code}"
    if outcome.code == "out_of_range" and outcome.count == 0:
        key += "_empty"
    await ctx.reply(
        key,
        given=clean_text(no),
        number=outcome.number,
        count=outcome.count,
        max=INTRODUCTIONS_PER_DAY,
        hours=outcome.wait_hours,
    )


# -- answers to an introduction request ------------------------------------------------------


async def _answered(ctx: CommandContext, outcome: AnswerOutcome) -> None:
    if outcome != "not_yours":
        await ctx.reply(f"search.intro.answer.{outcome}")


async def _on_reaction(ctx: CommandContext, reaction: Reaction) -> bool:
    intro_id = intro_of_ask_key(reaction.target_key)
    if intro_id is None:
        return False
    if reaction.withdrawn or reaction.emoji not in YES_EMOJI | NO_EMOJI:
        return True  # an answer, once given, stands; other emoji mean nothing here
    outcome = await ctx.services.search.answer(
        reaction.sender, intro_id, reaction.emoji in YES_EMOJI
    )
    await _answered(ctx, outcome)
    return True


async def _on_text(ctx: CommandContext, text: str) -> bool:
    """A plain `ja`/`nein` in the DM answers the one open introduction request."""
    answer = parse_yes_no(text)
    if answer is None:
        return False
    outcome = await ctx.services.search.answer_text(ctx.sender, answer)
    if outcome == "none":
        return False
    if outcome == "many":
        await ctx.reply("search.intro.answer.many")
    else:
        await _answered(ctx, outcome)
    return True


HOOKS.reaction.append(_on_reaction)
HOOKS.on_text(TextOrder.INTRODUCTION, _on_text)
