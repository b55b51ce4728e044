"""Kaffeeküche: `!kaffeepause [minuten|abbrechen]`, `!frage vorschlagen <Text>`,
`!admin fragen`, `!admin frage annehmen|ablehnen <ID>`, and the 👍/👎 answers to
"Haben Sie gesprochen?" after a spontaneous coffee break.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.commands.admin import ADMIN
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.answers import NO_EMOJI, YES_EMOJI, answer_word, yes_no
from bot.domain.roles import Where
from bot.i18n.render import join
from bot.services.coffee_break import (
    MAX_MINUTES,
    MIN_MINUTES,
    Matched,
    OfferRefused,
    break_id_of_followup,
)
from bot.services.kitchen import (
    PENDING_PER_PERSON,
    SUGGESTION_MAX,
    SUGGESTION_MIN,
    DecideRefused,
    SuggestRefused,
    normalise_suggestion,
)
from bot.services.ports import Say

CANCEL_WORDS = frozenset({"abbrechen", "cancel", "stopp", "stop", "zurückziehen", "withdraw"})
ACCEPT_WORDS = frozenset({"annehmen", "accept"})
REJECT_WORDS = frozenset({"ablehnen", "reject"})


def accept_or_reject(word: str) -> bool:
    """True to accept a suggestion: `annehmen`/`ablehnen`, or a plain yes/no."""
    key = answer_word(word)
    if key in ACCEPT_WORDS or key in REJECT_WORDS:
        return key in ACCEPT_WORDS
    return yes_no(word)


def _clock(ctx: CommandContext, moment: float) -> str:
    local = datetime.fromtimestamp(moment, ZoneInfo(ctx.services.config.timezone))
    return local.strftime("%H:%M")


def _date(ctx: CommandContext, moment: float) -> str:
    local = datetime.fromtimestamp(moment, ZoneInfo(ctx.services.config.timezone))
    return local.strftime("%d.%m.%Y" if ctx.lang == "de" else "%Y-%m-%d")


def parse_suggestion_id(given: str) -> int | None:
    """`F12`, `f12`, `#12` or `12`."""
    text = given.strip().lstrip("#")
    if text[:1] in ("F", "f", "P", "p"):
        text = text[1:]
    # isdecimal, not isdigit: "²" is a digit that int() refuses; 9 digits: no huge ints.
    return int(text) if text.isdecimal() and len(text) <= 9 else None


# -- !kaffeepause --------------------------------------------------------------------------


@REGISTRY.command(
    "kaffeepause",
    "coffeebreak",
    args=(Arg("minutes", "minuten", "minutes", optional=True),),
    where=Where.ANY,
    section=Section.COFFEE,
)
async def kaffeepause(ctx: CommandContext, minutes: str | None) -> None:
    service = ctx.services.coffee_breaks
    now = time.time()
    if minutes is not None and minutes.casefold() in CANCEL_WORDS:
        if await service.cancel(ctx.sender, now):
            await ctx.reply("kitchen.break.cancelled")
        else:
            await ctx.reply("kitchen.break.nothing_to_cancel")
        return
    wanted: int | None = None
    if minutes is not None:
        digits = minutes.casefold().removesuffix("min").removesuffix("minuten").strip()
        if not (digits.isdecimal() and len(digits) <= 6):
            await ctx.reply("kitchen.break.bad_minutes", min=MIN_MINUTES, max=MAX_MINUTES)
            return
        wanted = int(digits)
    result = await service.offer(ctx.sender, wanted, now)
    if isinstance(result, OfferRefused):
        await ctx.reply("kitchen.break.bad_minutes", min=MIN_MINUTES, max=MAX_MINUTES)
    elif isinstance(result, Matched):
        if ctx.is_dm:
            await ctx.reply("kitchen.break.matched", partner=result.partner, minutes=result.minutes)
        else:
            # Never name the partner in a shared room: everybody there would learn who met
            # whom (review finding S-07). The name goes to the person's DM.
            await ctx.reply("kitchen.break.matched_here", minutes=result.minutes)
            await ctx.messenger.tell(
                ctx.sender,
                Say(
                    "kitchen.break.matched", {"partner": result.partner, "minutes": result.minutes}
                ),
                effect_key=f"coffeebreak:{result.break_id}:matched",
            )
    else:
        key = "kitchen.break.extended" if result.extended else "kitchen.break.waiting"
        await ctx.reply(key, until=_clock(ctx, result.until), minutes=result.minutes)


async def _followup_answer(ctx: CommandContext, reaction: Reaction) -> bool:
    if break_id_of_followup(reaction.target_key) is None:
        return False
    answer: Literal["yes", "no"]
    if reaction.emoji in YES_EMOJI:
        answer = "yes"
    elif reaction.emoji in NO_EMOJI:
        answer = "no"
    else:
        return True  # another emoji on our follow-up: nothing to record
    return await ctx.services.coffee_breaks.answer(
        reaction.target_key, reaction.sender, answer, reaction.withdrawn
    )


HOOKS.reaction.append(_followup_answer)


# -- !frage vorschlagen --------------------------------------------------------------------

FRAGE = REGISTRY.group("frage", "prompt", where=Where.ANY, section=Section.COFFEE)


@REGISTRY.command(
    "vorschlagen",
    "suggest",
    args=(Arg("text", "Text", "text", kind="rest"),),
    where=Where.ANY,
    parent=FRAGE,
)
async def frage_vorschlagen(ctx: CommandContext, text: str) -> None:
    result = await ctx.services.kitchen.suggest(ctx.sender, text, time.time())
    if isinstance(result, SuggestRefused):
        await ctx.reply(
            f"kitchen.suggest.{result.reason}",
            min=SUGGESTION_MIN,
            max=PENDING_PER_PERSON if result.reason == "too_many" else SUGGESTION_MAX,
            length=len(normalise_suggestion(text)),
        )
        return
    await ctx.reply("kitchen.suggest.ok", id=result.id)


# -- !admin fragen / !admin frage annehmen|ablehnen ----------------------------------------


@REGISTRY.command("fragen", "prompts", where=Where.ANY, parent=ADMIN)
async def admin_fragen(ctx: CommandContext) -> None:
    pending = await ctx.services.kitchen.pending(ctx.sender)
    if pending is None:
        await ctx.reply("error.admins_only")
        return
    if not pending:
        await ctx.reply("kitchen.admin.list_empty")
        return
    lines = [
        ctx.text("kitchen.admin.list_line", id=s.id, date=_date(ctx, s.created_at), text=s.text)
        for s in pending
    ]
    await ctx.reply_rendered(
        join(
            [
                ctx.text("kitchen.admin.list_header", count=len(pending)),
                *lines,
                ctx.text("kitchen.admin.list_footer"),
            ]
        )
    )


@REGISTRY.command(
    "frage",
    "prompt",
    args=(
        Arg("accept", "annehmen|ablehnen", "accept|reject", parse=accept_or_reject),
        Arg("typed_id", "ID", "ID"),
    ),
    where=Where.ANY,
    parent=ADMIN,
)
async def admin_frage(ctx: CommandContext, accept: bool, typed_id: str) -> None:
    suggestion_id = parse_suggestion_id(typed_id)
    if suggestion_id is None:
        await ctx.reply("kitchen.admin.bad_id", given=typed_id)
        return
    result = await ctx.services.kitchen.decide(ctx.sender, suggestion_id, accept, time.time())
    if isinstance(result, DecideRefused):
        if result.reason == "not_admin":
            await ctx.reply("error.admins_only")
        elif result.reason == "not_found":
            await ctx.reply("kitchen.admin.not_found", given=typed_id)
        else:
            await ctx.reply(
                "kitchen.admin.already_decided",
                id=suggestion_id,
                status=ctx.text(f"kitchen.status.{result.status}"),
            )
        return
    key = "kitchen.admin.accepted" if accept else "kitchen.admin.rejected"
    await ctx.reply(key, id=result.suggestion.id, text=result.suggestion.text)
