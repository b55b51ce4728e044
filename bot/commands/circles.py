"""Topic circles: `!admin themenrunde [probe]` / `!admin circle [preview]`. Answers to the
circle follow-up use `!getroffen` and the reaction hook of bot.commands.coffee."""

from __future__ import annotations

from bot.commands.admin import ADMIN
from bot.commands.coffee import PREVIEW_ARG, request_round
from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY
from bot.domain.roles import Where


@REGISTRY.command(
    "themenrunde",
    "circle",
    args=(PREVIEW_ARG,),
    aliases=("themenrunden", "circles"),
    where=Where.ANY,
    parent=ADMIN,
)
async def themenrunde(ctx: CommandContext, preview: str | None) -> None:
    await request_round(ctx, ctx.services.circles, preview, "circles")
