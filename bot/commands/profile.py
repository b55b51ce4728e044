"""`!profil` / `!profile` and `!kaffee an|aus|pause` / `!coffee on|off|pause`: the
person's own profile. No command takes another person's ID.

Also: the profile view and field messages (the onboarding shows the view when it ends).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.commands.common import (
    alternatives,
    format_moment,
    now_utc,
    render_say,
    reply_says,
    value,
)
from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.profile import (
    FIELD_DISPLAY,
    PAUSE_WEEKS_MAX,
    Profile,
    ProfileField,
    field_by_name,
    suggest_field,
)
from bot.domain.profile_fields import FieldError, FieldErrorCode
from bot.domain.roles import Where
from bot.i18n.render import Rendered, join
from bot.services.profiles import FieldChanged, LanguageNames, Moment, error_say

# Settings other features keep in the profile, by the word after `!profil`
# (`!profil auffindbar ja`, see bot.commands.search); each gets the rest of the line.
PROFILE_SWITCHES: dict[str, Callable[[CommandContext, str | None], Awaitable[None]]] = {}

# -- rendering ---------------------------------------------------------------------------


def field_value(ctx: CommandContext, which: ProfileField, item: object) -> object:
    if which is ProfileField.LANGUAGES and isinstance(item, tuple | list):
        return value(ctx, LanguageNames(tuple(item))) if item else value(ctx, None)
    return value(ctx, item)


def coffee_text(ctx: CommandContext, profile: Profile, now: datetime) -> Rendered:
    state = profile.coffee_state(now)
    if state == "paused" and profile.coffee_paused_until is not None:
        until = format_moment(ctx, Moment(profile.coffee_paused_until))
        return ctx.text("profile.coffee.paused", until=until)
    return ctx.text(f"profile.coffee.{state}")


def profile_view(ctx: CommandContext, profile: Profile, *, how: bool = True) -> Rendered:
    now = now_utc()
    if profile.ui_language in ("de", "en"):
        ui = ctx.text(f"profile.ui.{profile.ui_language}")
    else:
        default = ctx.services.config.bot.default_language
        ui = ctx.text("profile.ui.default", language=ctx.text(f"profile.ui.{default}"))
    view = ctx.text(
        "profile.view",
        name=value(ctx, profile.display_name),
        department=value(ctx, profile.department),
        municipality=value(ctx, profile.municipality),
        tasks=value(ctx, profile.tasks),
        topics=value(ctx, profile.topics),
        languages=field_value(ctx, ProfileField.LANGUAGES, profile.languages),
        availability=value(ctx, profile.availability),
        coffee=coffee_text(ctx, profile, now),
        findable=ctx.text("profile.findable.yes" if profile.findable else "profile.findable.no"),
        ui_language=ui,
        created=format_moment(ctx, Moment(profile.created_at)),
        updated=format_moment(ctx, Moment(profile.updated_at)),
    )
    parts = [view]
    if not profile.confirmed:
        parts.append(ctx.text("profile.view.imported"))
    if how:
        parts.append(ctx.text("profile.view.how"))
    return join(parts, "\n\n")


def field_word(ctx: CommandContext, which: ProfileField) -> str:
    de, en = FIELD_DISPLAY[which]
    return de if ctx.lang == "de" else en


# -- !profil -----------------------------------------------------------------------------


@REGISTRY.command(
    "profil",
    "profile",
    args=(
        Arg("field", "feld", "field", optional=True),
        Arg("value", "wert", "value", kind="rest", optional=True),
    ),
    where=Where.DM,
    section=Section.PROFILE,
)
async def profil(ctx: CommandContext, field: str | None, value: str | None) -> None:
    if field is None:
        profile = await ctx.services.profiles.get(ctx.sender)
        if profile is None:
            await ctx.reply("profile.none")
        else:
            await ctx.reply_rendered(profile_view(ctx, profile))
        return
    if field.startswith("@"):
        # Looks like a Matrix ID: nobody can read or change someone else's profile.
        await ctx.reply("profile.not_yours")
        return
    switch = PROFILE_SWITCHES.get(field.casefold())
    if switch is not None:
        await switch(ctx, value)
        return
    which = field_by_name(field)
    if which is None:
        close = suggest_field(field)
        suggestions = (
            ctx.text("profile.unknown_field.suggest", suggestions=alternatives(ctx, close))
            if close
            else ""
        )
        await ctx.reply("profile.unknown_field", given=field, suggestions=suggestions)
        return
    result = await ctx.services.profiles.set_field(ctx.sender, which, value or "")
    if isinstance(result, FieldError):
        await reply_says(ctx, field_error(ctx, which, result))
        return
    await ctx.reply_rendered(changed_text(ctx, result))


def field_error(ctx: CommandContext, which: ProfileField, error: FieldError) -> list[Rendered]:
    name = field_word(ctx, which)
    if error.code is FieldErrorCode.DID_YOU_MEAN:
        parts = [
            ctx.text(
                "profile.did_you_mean",
                given=error.fragment,
                field=ctx.text(f"profile.field.{which.value}"),
                suggestions=alternatives(ctx, error.suggestions),
                name=name,
                first=error.suggestions[0],
            )
        ]
        if ctx.services.profiles.allows_free_text(which):
            parts.append(ctx.text("profile.did_you_mean.keep", given=error.fragment, name=name))
        return parts
    example = ctx.text(f"profile.example.{which.value}").plain
    return [
        render_say(ctx, error_say(which, error)),
        ctx.text("profile.how", name=name, example=example),
    ]


def changed_text(ctx: CommandContext, change: FieldChanged) -> Rendered:
    label = ctx.text(f"profile.field.{change.field.value}")
    if change.cleared:
        if change.previous in (None, ()):
            return ctx.text("profile.cleared_empty", field=label)
        previous = field_value(ctx, change.field, change.previous)
        return ctx.text("profile.cleared", field=label, previous=previous)
    return ctx.text("profile.set", field=label, value=field_value(ctx, change.field, change.value))


# -- !kaffee -----------------------------------------------------------------------------

KAFFEE = REGISTRY.group("kaffee", "coffee", where=Where.ANY, section=Section.COFFEE)


@REGISTRY.command("", "", where=Where.ANY, parent=KAFFEE)
async def kaffee_status(ctx: CommandContext) -> None:
    profile = await ctx.services.profiles.get(ctx.sender)
    now = now_utc()
    if profile is None or not profile.confirmed or profile.coffee_state(now) == "off":
        await ctx.reply("profile.coffee.status_off")
    elif profile.coffee_state(now) == "paused" and profile.coffee_paused_until is not None:
        until = format_moment(ctx, Moment(profile.coffee_paused_until))
        await ctx.reply("profile.coffee.status_paused", until=until)
    else:
        await ctx.reply("profile.coffee.status_on")


@REGISTRY.command("an", "on", where=Where.ANY, parent=KAFFEE)
async def kaffee_an(ctx: CommandContext) -> None:
    profile = await ctx.services.profiles.set_coffee(ctx.sender, True)
    parts = [ctx.text("profile.coffee.on_set")]
    if profile is not None and not profile.tasks and not profile.topics:
        parts.append(ctx.text("profile.coffee.tip_tasks"))
    await ctx.reply_rendered(join(parts, "\n\n"))


@REGISTRY.command("aus", "off", where=Where.ANY, parent=KAFFEE)
async def kaffee_aus(ctx: CommandContext) -> None:
    profile = await ctx.services.profiles.set_coffee(ctx.sender, False)
    await ctx.reply("profile.coffee.off_none" if profile is None else "profile.coffee.off_set")


@REGISTRY.command(
    "pause",
    "pause",
    args=(Arg("weeks", "wochen", "weeks", kind="int"),),
    where=Where.ANY,
    parent=KAFFEE,
)
async def kaffee_pause(ctx: CommandContext, weeks: int) -> None:
    if not 1 <= weeks <= PAUSE_WEEKS_MAX:
        await ctx.reply("profile.coffee.pause_range", max=PAUSE_WEEKS_MAX)
        return
    profile = await ctx.services.profiles.pause_coffee(ctx.sender, weeks)
    assert profile.coffee_paused_until is not None
    until = format_moment(ctx, Moment(profile.coffee_paused_until))
    await ctx.reply("profile.coffee.paused_set", until=until)
