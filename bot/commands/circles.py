"""Topic circles: `!admin themenrunde [probe]` / `!admin circle [preview]`. Answers to the
circle follow-up use `!getroffen` and the reaction hook of bot.commands.coffee."""

from __future__ import annotations

from bot.commands import admin as _admin  # noqa: F401  (the `admin` group must exist first)
from bot.commands.coffee import request_round
from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg
from bot.domain.roles import Where


@REGISTRY.command(
    "themenrunde",
    "circle",
    args=(Arg("probe", "preview", optional=True),),
    aliases=("themenrunden", "circles"),
    where=Where.ANY,
    parent="admin",
)
async def themenrunde(ctx: CommandContext, preview: str | None) -> None:
    await request_round(ctx, ctx.services.circles, preview, "circles")
