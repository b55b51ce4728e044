"""Bridge registry: `!kontakt`, `!kontakte`, `!kontakt löschen|bestätigen`, `!erreichbar`."""

from __future__ import annotations

from typing import Any

from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction
from bot.commands.registry import REGISTRY, Arg, Command, Section
from bot.domain.availability import AvailabilityError
from bot.domain.contacts import ContactError, ContactErrorCode
from bot.domain.roles import Where
from bot.i18n.render import Rendered, join

ENTRY = Arg("entry", "Organisation | Bereich", "organisation | sector", kind="rest")
CONTACT_ID = Arg("contact_id", "ID", "ID")


def _window(ctx: CommandContext, availability: Any) -> str:
    return str(availability.render_de() if ctx.lang == "de" else availability.render_en())


async def _refuse(ctx: CommandContext, error: ContactError) -> None:
    sectors = ", ".join(ctx.services.config.crisis.sectors)
    suggestions = ", ".join(error.suggestions)
    if error.code is ContactErrorCode.SECTOR_UNKNOWN and suggestions:
        await ctx.reply(
            "contacts.error.sector_suggest",
            given=error.fragment,
            suggestions=suggestions,
            sectors=sectors,
        )
        return
    await ctx.reply(f"contacts.error.{error.code.value}", fragment=error.fragment, sectors=sectors)


async def kontakt(ctx: CommandContext, entry: str) -> None:
    organisation, bar, sector = entry.partition("|")
    if not bar:
        # "Tafel Dresden, Soziale Träger" is what people type when they forget the bar.
        organisation, comma, sector = entry.rpartition(",")
        if not comma:
            organisation, sector = entry, ""
    try:
        declared = await ctx.services.contacts.declare(ctx.sender, organisation, sector)
    except ContactError as error:
        await _refuse(ctx, error)
        return
    contact = declared.contact
    key = "contacts.declared_again" if declared.existed else "contacts.declared"
    await ctx.reply(key, id=contact.id, organisation=contact.organisation, sector=contact.sector)


# A command with subcommands: `!kontakt <Eintrag>` itself, and `!kontakt löschen <ID>`.
KONTAKT = REGISTRY.add(
    Command("kontakt", "contact", kontakt, (ENTRY,), where=Where.DM, section=Section.CRISIS)
)


@REGISTRY.command("löschen", "delete", args=(CONTACT_ID,), aliases=("loeschen",), parent=KONTAKT)
async def kontakt_loeschen(ctx: CommandContext, contact_id: str) -> None:
    deleted = await ctx.services.contacts.delete(ctx.sender, contact_id)
    if deleted is None:
        await ctx.reply("contacts.not_found", given=contact_id)
        return
    await ctx.reply("contacts.deleted", id=deleted)


@REGISTRY.command(
    "bestätigen", "confirm", args=(CONTACT_ID,), aliases=("bestaetigen",), parent=KONTAKT
)
async def kontakt_bestaetigen(ctx: CommandContext, contact_id: str) -> None:
    contact = await ctx.services.contacts.confirm(ctx.sender, contact_id)
    if contact is None:
        await ctx.reply("contacts.not_found", given=contact_id)
        return
    await ctx.reply("contacts.confirmed", id=contact.id, organisation=contact.organisation)


@REGISTRY.command("kontakte", "contacts", where=Where.DM, section=Section.CRISIS)
async def kontakte(ctx: CommandContext) -> None:
    views = await ctx.services.contacts.list_own(ctx.sender)
    window = await ctx.services.contacts.availability(ctx.sender)
    parts: list[Rendered] = []
    if not views:
        parts.append(ctx.text("contacts.list.empty"))
    else:
        lines = [
            ctx.text(
                "contacts.list.line",
                id=v.contact.id,
                organisation=v.contact.organisation,
                sector=v.contact.sector,
                confirmed=v.confirmed.strftime("%d.%m.%Y"),
                status=ctx.text(f"contacts.status.{v.status}", id=v.contact.id),
            )
            for v in views
        ]
        parts.append(ctx.text("contacts.list.header") + Rendered("\n", "<br/>") + join(lines))
    parts.append(
        ctx.text(
            "contacts.list.availability_default"
            if window.is_default
            else "contacts.list.availability",
            window=_window(ctx, window.availability),
        )
    )
    await ctx.reply_rendered(join(parts, "\n\n"))


@REGISTRY.command(
    "erreichbar",
    "available",
    args=(Arg("window", "Zeitfenster", "window", kind="rest", optional=True),),
    where=Where.DM,
    section=Section.CRISIS,
)
async def erreichbar(ctx: CommandContext, window: str | None) -> None:
    contacts = ctx.services.contacts
    cap = ctx.services.config.crisis.cap_per_week
    if not window:
        view = await contacts.availability(ctx.sender)
        key = "availability.current_default" if view.is_default else "availability.current"
        await ctx.reply(key, window=_window(ctx, view.availability))
        return
    try:
        availability = await contacts.set_availability(ctx.sender, window)
    except AvailabilityError as error:
        await ctx.reply(f"availability.error.{error.code.value}", fragment=error.fragment)
        return
    if not availability.windows and not availability.always:
        await ctx.reply("availability.set_never")
        return
    await ctx.reply(
        "availability.set" if cap is None else "availability.set_capped",
        window=_window(ctx, availability),
        cap=cap or 0,
    )


async def _on_reaction(ctx: CommandContext, reaction: Reaction) -> bool:
    if not reaction.target_key.startswith("contact:"):
        return False
    if reaction.withdrawn:
        return True
    contact = await ctx.services.contacts.on_reaction(
        reaction.sender, reaction.target_key, reaction.emoji
    )
    if contact is not None:
        await ctx.reply("contacts.confirmed", id=contact.id, organisation=contact.organisation)
    return True


HOOKS.reaction.append(_on_reaction)
