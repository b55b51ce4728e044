"""`!hospitation …` and `!hospitationen`: offer, find, join and cancel job shadowing.

Subcommands (German / English): `anbieten`/`offer`, `teilnehmen`/`join`,
`absagen`/`cancel` (own seat), `zurückziehen`/`withdraw` (the host cancels the whole
offer); `!hospitation` alone lists one's own offers and sign-ups, `!hospitation H-7KQX`
shows one offer. `wunsch`/`wish` and `feedback` live in hospitation_followups.py.
"""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, TextOrder
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.dates import When
from bot.domain.hospitation import OfferError, normalise_short_id, parse_offer
from bot.domain.roles import Where
from bot.i18n.render import Rendered, join
from bot.services.hospitation_messages import example_dates, host_label, person_label
from bot.services.hospitations import OfferView
from bot.services.hub import Hospitations
from bot.services.ports import Say

LIST_LIMIT = 15

HOSPITATION = REGISTRY.group(
    "hospitation", "hospitation", where=Where.ANY, section=Section.HOSPITATION
)
# The offer's ID, as the person typed it (`H-7KQX`, `h7kqx`).
OFFER_ID = Arg("offer_id", "id", "id")
OFFER_ARG = Arg(
    "text",
    "Titel | Datum | Plätze | Beschreibung",
    "title | date | places | description",
    kind="rest",
    optional=True,
)


def feature_of(ctx: CommandContext) -> Hospitations:
    return ctx.services.hospitations


def _when(ctx: CommandContext, when: When) -> str:
    return when.render_de() if ctx.lang == "de" else when.render_en()


def _places(ctx: CommandContext, view: OfferView) -> Rendered:
    seats = view.seats
    if seats.free > 0:
        return ctx.text("hosp.list.places_open", free=seats.free, capacity=seats.capacity)
    return ctx.text("hosp.list.places_full", waiting=len(seats.waiting))


async def refusal(ctx: CommandContext, outcome: str, typed_id: str) -> None:
    shown = normalise_short_id(typed_id) or typed_id
    if outcome in ("not_found", "bad_id"):
        await ctx.reply(f"hosp.{outcome}", id=shown)
    else:
        most = ctx.services.config.hospitation.joins_per_offer_max
        await ctx.reply(f"hosp.refused.{outcome}", id=shown, max=most)


# -- !hospitationen ------------------------------------------------------------------------


@REGISTRY.command(
    "hospitationen",
    "hospitations",
    args=(Arg("keyword", "suchwort", "keyword", kind="rest", optional=True),),
    where=Where.ANY,
    section=Section.HOSPITATION,
)
async def hospitationen(ctx: CommandContext, keyword: str | None) -> None:
    views = await feature_of(ctx).offers.open_offers(keyword)
    if not views:
        key = "hosp.list.none_for" if keyword else "hosp.list.none"
        await ctx.reply(key, query=keyword or "")
        return
    header = (
        ctx.text("hosp.list.header_for", query=keyword, count=len(views))
        if keyword
        else ctx.text("hosp.list.header", count=len(views))
    )
    lines = [
        ctx.text(
            "hosp.list.item",
            id=v.offer.id,
            title=v.offer.title,
            when=_when(ctx, v.offer.when),
            host=host_label(v.offer),
            places=_places(ctx, v),
        )
        for v in views[:LIST_LIMIT]
    ]
    parts = [header, join(lines)]
    if len(views) > LIST_LIMIT:
        parts.append(ctx.text("hosp.list.more", more=len(views) - LIST_LIMIT))
    parts.append(ctx.text("hosp.list.footer"))
    await ctx.reply_rendered(join(parts, "\n\n"))


# -- !hospitation [ID] / meine --------------------------------------------------------------


@REGISTRY.command(
    "meine",
    "mine",
    aliases=("",),
    args=(Arg("offer_id", "id", "id", kind="rest", optional=True),),
    where=Where.ANY,
    parent=HOSPITATION,
)
async def meine(ctx: CommandContext, offer_id: str | None) -> None:
    if offer_id:
        await _details(ctx, offer_id)
        return
    if not ctx.is_dm:
        # One's own offers and sign-ups are personal: only in the DM.
        await ctx.reply("error.dm_only")
        return
    offers = feature_of(ctx).offers
    parts: list[Rendered] = []
    hosted = await offers.hosted_by(ctx.sender)
    if hosted:
        lines = [
            ctx.text(
                "hosp.mine.offer_cancelled" if v.offer.cancelled else "hosp.mine.offer",
                id=v.offer.id,
                title=v.offer.title,
                when=_when(ctx, v.offer.when),
                taken=len(v.seats.confirmed),
                capacity=v.seats.capacity,
                waiting=len(v.seats.waiting),
            )
            for v in hosted
        ]
        parts.append(ctx.text("hosp.mine.offers") + Rendered("\n", "<br/>") + join(lines))
    seats = await offers.seats_of(ctx.sender)
    if seats:
        lines = [
            ctx.text(
                f"hosp.mine.seat_{'cancelled' if offer.cancelled else state}",
                id=offer.id,
                title=offer.title,
                when=_when(ctx, offer.when),
                position=position or 0,
            )
            for offer, state, position in seats
        ]
        parts.append(ctx.text("hosp.mine.seats") + Rendered("\n", "<br/>") + join(lines))
    if not parts:
        await ctx.reply("hosp.mine.none")
        return
    await ctx.reply_rendered(join(parts, "\n\n"))


async def _details(ctx: CommandContext, typed_id: str) -> None:
    if normalise_short_id(typed_id) is None:
        await ctx.reply("hosp.unknown_sub", given=typed_id)
        return
    offers = feature_of(ctx).offers
    view = await offers.view(typed_id)
    if view is None:
        await refusal(ctx, "not_found", typed_id)
        return
    offer, seats = view.offer, view.seats
    parts = [ctx.messenger.render(offers.announcement(offer, seats), ctx.lang)]
    if ctx.is_dm:  # who signed up is nobody else's business in a shared room
        parts += await _personal_lines(ctx, view)
    await ctx.reply_rendered(join(parts, "\n\n"))


async def _personal_lines(ctx: CommandContext, view: OfferView) -> list[Rendered]:
    offer, seats, people = view.offer, view.seats, feature_of(ctx).offers.people
    if offer.host == ctx.sender:
        confirmed = [person_label(p, await people(p)) for p in seats.confirmed]
        waiting = [person_label(p, await people(p)) for p in seats.waiting]
        return [
            ctx.text(
                "hosp.details.host",
                people="; ".join(confirmed) or "–",
                waiting="; ".join(waiting) or "–",
                id=offer.id,
            )
        ]
    if ctx.sender in seats.confirmed:
        return [ctx.text("hosp.details.confirmed", id=offer.id)]
    if ctx.sender in seats.waiting:
        position = seats.waiting.index(ctx.sender) + 1
        return [ctx.text("hosp.details.waiting", id=offer.id, position=position)]
    return []


# -- anbieten ------------------------------------------------------------------------------


@REGISTRY.command(
    "anbieten",
    "offer",
    args=(OFFER_ARG,),
    where=Where.ANY,
    parent=HOSPITATION,
)
async def anbieten(ctx: CommandContext, text: str | None) -> None:
    feature = feature_of(ctx)
    refused = await feature.offers.offer_limit(ctx.sender)
    if refused is not None:
        # Before the dialog's four questions, not after them.
        await ctx.reply_say(refused)
        return
    if not text:
        question = await feature.dialog.start(ctx.sender)
        if ctx.is_dm:
            await ctx.reply_say(question)
        else:
            await ctx.services.messenger.tell(
                ctx.sender, question, effect_key=f"reply:{ctx.event_id}:dialog"
            )
            await ctx.reply("hosp.dialog.moved_to_dm")
        return
    draft = parse_offer(text.split("|"), feature.offers.today())
    if isinstance(draft, OfferError):
        error = ctx.messenger.render(feature.offers.offer_error(draft), ctx.lang)
        usage = ctx.text("hosp.usage.offer", **example_dates(feature.offers.today()))
        await ctx.reply_rendered(join([error, usage], "\n\n"))
        return
    offer = await feature.offers.create_offer(ctx.sender, draft)
    await ctx.reply_say(offer if isinstance(offer, Say) else feature.offers.offered(offer))


async def dialog_text(ctx: CommandContext, text: str) -> bool:
    """Answers of the guided offer dialog; False when none is open for this person."""
    replies = await feature_of(ctx).dialog.answer(ctx.sender, text)
    if replies is None:
        return False
    await ctx.reply_rendered(join([ctx.messenger.render(r, ctx.lang) for r in replies], "\n\n"))
    return True


HOOKS.on_text(TextOrder.OFFER_DIALOG, dialog_text)


# -- teilnehmen / absagen / zurückziehen ---------------------------------------------------


@REGISTRY.command(
    "teilnehmen",
    "join",
    aliases=("anmelden",),
    args=(OFFER_ID,),
    where=Where.ANY,
    parent=HOSPITATION,
)
async def teilnehmen(ctx: CommandContext, offer_id: str) -> None:
    result = await feature_of(ctx).offers.join(ctx.sender, offer_id)
    offer = result.offer
    if result.outcome in ("confirmed", "waiting"):
        # The confirmation (with the calendar file) went to the DM.
        if not ctx.is_dm:
            await ctx.reply(
                f"hosp.join.{result.outcome}_elsewhere", id=offer.id if offer else offer_id
            )
        return
    if result.outcome in ("already_confirmed", "already_waiting"):
        assert offer is not None
        await ctx.reply(f"hosp.join.{result.outcome}", id=offer.id, position=result.position or 0)
        return
    await refusal(ctx, result.outcome, offer_id)


@REGISTRY.command(
    "absagen",
    "cancel",
    aliases=("abmelden",),
    args=(OFFER_ID,),
    where=Where.ANY,
    parent=HOSPITATION,
)
async def absagen(ctx: CommandContext, offer_id: str) -> None:
    result = await feature_of(ctx).offers.cancel_seat(ctx.sender, offer_id)
    if result.outcome in ("left_confirmed", "left_waiting", "not_registered"):
        assert result.offer is not None
        await ctx.reply(
            f"hosp.cancel.{result.outcome}", id=result.offer.id, title=result.offer.title
        )
        return
    await refusal(ctx, result.outcome, offer_id)


@REGISTRY.command(
    "zurückziehen",
    "withdraw",
    aliases=("zurueckziehen",),
    args=(OFFER_ID,),
    where=Where.ANY,
    parent=HOSPITATION,
)
async def zurueckziehen(ctx: CommandContext, offer_id: str) -> None:
    result = await feature_of(ctx).offers.withdraw(ctx.sender, offer_id)
    if result.outcome == "withdrawn":
        assert result.offer is not None
        await ctx.reply(
            "hosp.withdraw.done",
            id=result.offer.id,
            title=result.offer.title,
            notified=result.notified,
        )
        return
    await refusal(ctx, result.outcome, offer_id)
