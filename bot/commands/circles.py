"""Topic circles: `!admin themenrunde [probe]` / `!admin circle [preview]`. Answers to the
circle follow-up use `!getroffen` and the reaction hook of bot.commands.coffee."""

from __future__ import annotations

from bot.commands import admin as _admin  # noqa: F401  (the `admin` group must exist first)
from bot.commands.coffee import PREVIEW_WORDS, roles_of
from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg, Where


@REGISTRY.command(
    "themenrunde",
    "circle",
    args=(Arg("probe", "preview", optional=True),),
    aliases=("themenrunden", "circles"),
    where=Where.ANY,
    parent="admin",
)
async def themenrunde(ctx: CommandContext, preview: str | None) -> None:
    circles = ctx.services.circles
    if preview is not None and preview.casefold() not in PREVIEW_WORDS:
        await ctx.reply("circles.admin.option", given=preview)
        return
    if preview is not None:
        report = await circles.preview(roles_of(ctx))
    else:
        report = await circles.run_now(roles_of(ctx))
    if report.status == "not_allowed":
        await ctx.reply("error.admins_only")
        return
    if report.status == "already_ran":
        await ctx.reply("circles.admin.already_ran", round=report.key.removeprefix("circle:"))
        return
    label = report.key.removeprefix("circle:") or ctx.text("circles.admin.preview_label").plain
    if report.circles == 0:
        await ctx.reply(
            "circles.admin.none",
            round=label,
            min_size=ctx.services.config.circles.min_size,
            people=report.people,
        )
        return
    await ctx.reply(
        "circles.admin.ran" if report.status == "ran" else "circles.admin.preview",
        round=label,
        circles=report.circles,
        members=report.members,
        people=report.people,
        topics=", ".join(report.topics),
        cross_municipality=100 * report.cross_municipality_share,
    )
