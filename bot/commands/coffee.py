"""Coffee matches: `!admin runde [probe]`, `!getroffen ja|nein`, and the 👍/👎 answers on
the follow-up in a match (or circle) room and on the "pause?" question in the DM.

`!admin runde` only records the request (inside the event's transaction); the round job
picks it up at once, forms the round outside any transaction and answers with the figures.
"""

from __future__ import annotations

from bot.commands.admin import ADMIN
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.answers import yes_no
from bot.domain.roles import Where
from bot.services.rounds import Rounds

PREVIEW_WORDS = frozenset({"probe", "preview", "vorschau", "test", "probelauf", "dry-run"})
# `!admin runde [probe]` and `!admin themenrunde [probe]`.
PREVIEW_ARG = Arg("preview", "probe", "preview", optional=True)


def roles_of(ctx: CommandContext) -> frozenset[str]:
    return frozenset(str(role) for role in ctx.roles)


async def request_round(
    ctx: CommandContext, rounds: Rounds, preview: str | None, kind: str
) -> None:
    """Store the request; the round job carries it out right away and answers here."""
    if preview is not None and preview.casefold() not in PREVIEW_WORDS:
        await ctx.reply(f"{kind}.admin.option", given=preview)
        return
    accepted = await rounds.request(
        ctx.sender,
        roles_of(ctx),
        "run" if preview is None else "preview",
        ctx.event_id,
        None if ctx.is_dm else ctx.room_id,
    )
    if not accepted:
        await ctx.reply("error.admins_only")


@REGISTRY.command(
    "runde",
    "round",
    args=(PREVIEW_ARG,),
    where=Where.ANY,
    parent=ADMIN,
)
async def runde(ctx: CommandContext, preview: str | None) -> None:
    await request_round(ctx, ctx.services.coffee, preview, "coffee")


@REGISTRY.command(
    "getroffen",
    "met",
    args=(Arg("met", "ja|nein", "yes|no", parse=yes_no),),
    where=Where.ANY,
    section=Section.COFFEE,
)
async def getroffen(ctx: CommandContext, met: bool) -> None:
    answer = await ctx.services.followups.answer_by_text(ctx.sender, ctx.room_id, met)
    if answer.status == "recorded":
        await ctx.reply("coffee.met.yes" if met else "coffee.met.no")
    elif answer.status == "not_member":
        await ctx.reply("coffee.met.not_member")
    else:
        await ctx.reply("coffee.met.no_group")


async def _on_reaction(ctx: CommandContext, reaction: Reaction) -> bool:
    key = reaction.target_key
    if not key.startswith(("coffee:", "circle:")):
        return False
    services = ctx.services
    if await services.coffee.on_pause_answer(
        reaction.sender, key, reaction.emoji, reaction.withdrawn
    ):
        return True
    answer = await services.followups.on_reaction(
        reaction.sender, key, reaction.emoji, reaction.withdrawn
    )
    return answer.status != "no_group"


HOOKS.reaction.append(_on_reaction)
