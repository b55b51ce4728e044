"""`!hospitation wunsch` and `!hospitation feedback`: wishes for job shadowing and the
"did it take place?" answers (typed or as a 👍/👎 reaction) after an offer.
"""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction
from bot.commands.hospitation import HOSPITATION, OFFER_ID, feature_of, refusal
from bot.commands.registry import REGISTRY, Arg
from bot.domain.answers import NO_EMOJI, YES_EMOJI, answer_word, yes_no
from bot.domain.hospitation import WISH_MAX
from bot.domain.roles import Where
from bot.i18n.render import Rendered, join
from bot.services.hospitation_followups import parse_feedback_key
from bot.services.ports import Say

DELETE_WORDS = frozenset({"löschen", "loeschen", "entfernen", "delete", "remove"})
ALL_WORDS = frozenset({"alle", "alles", "all"})


def took_place(word: str) -> bool:
    """Yes/no, or the question's own word (`stattgefunden?` asks the feedback)."""
    return True if answer_word(word) == "stattgefunden" else yes_no(word)


# -- wunsch --------------------------------------------------------------------------------


@REGISTRY.command(
    "wunsch",
    "wish",
    args=(Arg("area", "bereich", "area", kind="rest", optional=True),),
    where=Where.DM,
    parent=HOSPITATION,
)
async def wunsch(ctx: CommandContext, area: str | None) -> None:
    wishes_of = feature_of(ctx).followups
    words = (area or "").split()
    if words and words[0].casefold() in DELETE_WORDS:
        await _delete_wish(ctx, words[1:])
        return
    if not area:
        wishes = await wishes_of.wishes(ctx.sender)
        if not wishes:
            await ctx.reply("hosp.wish.none")
            return
        lines = [
            ctx.text("hosp.wish.item", number=i, area=wish) for i, wish in enumerate(wishes, 1)
        ]
        header = ctx.text("hosp.wish.list")
        await ctx.reply_rendered(
            join(
                [header + Rendered("\n", "<br/>") + join(lines), ctx.text("hosp.wish.footer")],
                "\n\n",
            )
        )
        return
    outcome, cleaned = await wishes_of.add_wish(ctx.sender, area)
    await ctx.reply(
        f"hosp.wish.{outcome}", area=cleaned, max=wishes_of.settings.wishes_max, wish_max=WISH_MAX
    )


async def _delete_wish(ctx: CommandContext, rest: list[str]) -> None:
    offers = feature_of(ctx).followups
    given = " ".join(rest)
    if given.casefold() in ALL_WORDS:
        count = await offers.delete_wish(ctx.sender, None)
    elif given.isdecimal() and len(given) <= 9:
        count = await offers.delete_wish(ctx.sender, int(given))
    else:
        await ctx.reply("hosp.wish.delete_usage", given=given or "–")
        return
    if count:
        await ctx.reply("hosp.wish.deleted", count=count)
    else:
        await ctx.reply("hosp.wish.not_deleted", given=given)


# -- feedback ------------------------------------------------------------------------------


@REGISTRY.command(
    "feedback",
    "feedback",
    aliases=("rückmeldung",),
    args=(OFFER_ID, Arg("answer", "ja|nein", "yes|no", parse=took_place)),
    where=Where.DM,
    parent=HOSPITATION,
)
async def feedback(ctx: CommandContext, offer_id: str, answer: bool) -> None:
    result = await feature_of(ctx).followups.record_feedback(ctx.sender, offer_id, answer)
    if result.outcome == "recorded":
        assert result.offer is not None
        await ctx.reply(f"hosp.feedback.recorded_{'yes' if answer else 'no'}", id=result.offer.id)
    elif result.outcome == "not_asked":
        assert result.offer is not None
        await ctx.reply("hosp.feedback.not_asked", id=result.offer.id)
    else:
        await refusal(ctx, result.outcome, offer_id)


async def feedback_reaction(ctx: CommandContext, reaction: Reaction) -> bool:
    """👍/👎 on the "did it take place?" question; a withdrawn reaction takes it back."""
    target = parse_feedback_key(reaction.target_key)
    if target is None:
        return False
    offer_id, asked = target
    if asked != reaction.sender or reaction.emoji not in YES_EMOJI | NO_EMOJI:
        return True
    happened = reaction.emoji in YES_EMOJI
    followups = feature_of(ctx).followups
    if reaction.withdrawn:
        await followups.withdraw_feedback(asked, offer_id, happened)
        return True
    result = await followups.record_feedback(asked, offer_id, happened)
    if result.outcome == "recorded":
        await ctx.services.messenger.tell(
            asked,
            Say(f"hosp.feedback.recorded_{'yes' if happened else 'no'}", {"id": offer_id}),
            effect_key=f"hosp:{offer_id}:feedback-ack:{ctx.event_id}",
        )
    return True


HOOKS.reaction.append(feedback_reaction)
