"""Crisis requests: `!werkennt`, `!ja`/`!nein`, `!anfragen`, `!anfrage <ID> erledigt|protokoll`,
drills with `!admin übung`, and 👍/👎 answers on the request DMs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.commands.admin import ADMIN
from bot.commands.context import CommandContext
from bot.commands.hooks import HOOKS, Reaction
from bot.commands.registry import REGISTRY, Arg, Section
from bot.domain.crisis import AnswerOutcome, CloseOutcome, RequestState
from bot.domain.crisis_stats import DurationSummary, ResponseStats
from bot.domain.roles import Role, Where
from bot.i18n.render import Rendered, join
from bot.services.crisis_replies import AnswerReply, Protocol, RequestError, RequestView
from bot.services.ports import Attachment
from bot.store.crisis import is_former

CRISIS = frozenset({Role.CRISIS})
URGENT_WORDS = frozenset({"dringend", "urgent", "eilig", "eilt"})
CLOSE_WORDS = frozenset({"erledigt", "done", "schließen", "schliessen", "close", "closed"})
LOG_WORDS = frozenset({"protokoll", "log", "protocol"})
REPORT_WORDS = frozenset({"bericht", "report"})
REQUEST_ID = Arg("request_id", "ID", "ID")


def _split_urgent(text: str) -> tuple[bool, str]:
    head, _, rest = text.strip().partition(" ")
    if head.casefold().rstrip(":!,") in URGENT_WORDS:
        return True, rest.strip()
    return False, text.strip()


def _refusal(ctx: CommandContext, code: str, drill: bool) -> str:
    if code == "not_allowed":
        return "error.admins_only" if drill else "error.crisis_only"
    return f"crisis.error.{code}"


async def _start(ctx: CommandContext, text: str, *, drill: bool) -> None:
    """Store the request; the routing runs right after this transaction commits (the tick
    encodes the text outside it) and answers where the request was made: in the status room,
    or by DM with the organisations tier 1 reaches."""
    urgent, text = _split_urgent(text)
    try:
        await ctx.services.crisis.open_request(
            ctx.sender, ctx.roles, text, urgent=urgent, drill=drill, origin_room=ctx.room_id
        )
    except RequestError as error:
        await ctx.reply(_refusal(ctx, error.code, drill))


@REGISTRY.command(
    "werkennt",
    "whoknows",
    args=(Arg("request", "Anliegen", "request", kind="rest"),),
    aliases=("wer-kennt",),
    roles=CRISIS,
    where=Where.CRISIS,
    section=Section.CRISIS,
)
async def werkennt(ctx: CommandContext, request: str) -> None:
    await _start(ctx, request, drill=False)


async def _answer_reply(
    ctx: CommandContext, reply: AnswerReply, hint: bool, typed: str = "–"
) -> None:
    """`typed`: the ID as the person wrote it, quoted back when no request has it."""
    label = ctx.text("crisis.label.drill" if reply.drill else "crisis.empty")
    key = f"crisis.answer.{reply.outcome.value}"
    if reply.outcome is AnswerOutcome.DECLINED and hint:
        key = "crisis.answer.declined_hint"
    await ctx.reply(key, label=label, id=reply.request_id or typed)


@REGISTRY.command("ja", "yes", args=(REQUEST_ID,), where=Where.DM, section=Section.CRISIS)
async def ja(ctx: CommandContext, request_id: str) -> None:
    reply = await ctx.services.crisis.answer(ctx.sender, request_id, True)
    await _answer_reply(ctx, reply, False, request_id)


@REGISTRY.command(
    "nein",
    "no",
    args=(REQUEST_ID, Arg("hint", "Hinweis", "hint", kind="rest", optional=True)),
    where=Where.DM,
    section=Section.CRISIS,
)
async def nein(ctx: CommandContext, request_id: str, hint: str | None) -> None:
    reply = await ctx.services.crisis.answer(ctx.sender, request_id, False, hint)
    await _answer_reply(ctx, reply, bool(hint and hint.strip()), request_id)


async def _on_reaction(ctx: CommandContext, reaction: Reaction) -> bool:
    if not reaction.target_key.startswith("crisis:"):
        return False
    reply = await ctx.services.crisis.on_reaction(
        reaction.sender, reaction.target_key, reaction.emoji, reaction.withdrawn
    )
    if reply is not None:
        await _answer_reply(ctx, reply, False)
    return True


HOOKS.reaction.append(_on_reaction)


# -- staff views ----------------------------------------------------------------------------


def _phase(ctx: CommandContext, state: RequestState, asked: int, declined: int) -> Rendered:
    if state.connected_to is not None:
        bridge = "–" if is_former(state.connected_to) else state.connected_to
        return ctx.text("crisis.phase.connected", bridge=bridge)
    if state.expired_at is not None:
        return ctx.text("crisis.phase.expired")
    if state.closed_at is not None:
        return ctx.text("crisis.phase.closed")
    return ctx.text(
        "crisis.phase.asking",
        tier=ctx.text(f"crisis.tier.{state.tier}"),
        asked=asked,
        declined=declined,
    )


def _line(ctx: CommandContext, view: RequestView) -> Rendered:
    return ctx.text(
        "crisis.list.line",
        label=ctx.text("crisis.label.drill" if view.drill else "crisis.empty"),
        urgent=ctx.text("crisis.mark.urgent" if view.urgent else "crisis.empty"),
        id=view.id,
        text=view.text,
        phase=_phase(ctx, view.state, view.asked, view.declined),
    )


@REGISTRY.command("anfragen", "requests", roles=CRISIS, where=Where.CRISIS, section=Section.CRISIS)
async def anfragen(ctx: CommandContext) -> None:
    views = await ctx.services.crisis.active_requests(ctx.roles)
    if not views:
        await ctx.reply("crisis.list.empty")
        return
    lines = [_line(ctx, v) for v in views]
    await ctx.reply_rendered(ctx.text("crisis.list.header") + Rendered("\n", "<br/>") + join(lines))


@REGISTRY.command(
    "anfrage",
    "request",
    # The action stays a plain word: it may come first (`!anfrage erledigt A-4MZP`).
    args=(REQUEST_ID, Arg("action", "erledigt|protokoll", "done|log")),
    roles=CRISIS,
    where=Where.CRISIS,
    section=Section.CRISIS,
)
async def anfrage(ctx: CommandContext, request_id: str, action: str) -> None:
    if request_id.casefold() in CLOSE_WORDS | LOG_WORDS:
        request_id, action = action, request_id  # "!anfrage erledigt A-4MZP"
    action = action.casefold()
    crisis = ctx.services.crisis
    if action in CLOSE_WORDS:
        result = await crisis.close_request(ctx.sender, ctx.roles, request_id)
        if result.outcome is CloseOutcome.CLOSED:
            await ctx.reply("crisis.closed", id=result.request_id)
        elif result.outcome is CloseOutcome.ALREADY_CLOSED:
            await ctx.reply("crisis.already_closed", id=result.request_id)
        else:
            await ctx.reply("crisis.not_found", given=request_id)
        return
    if action in LOG_WORDS:
        protocol = await crisis.protocol(ctx.roles, request_id)
        if protocol is None:
            await ctx.reply("crisis.not_found", given=request_id)
            return
        await ctx.reply_file(protocol_file(ctx, protocol))
        await ctx.reply("crisis.protocol.sent", id=protocol.request.id)
        return
    await ctx.reply("crisis.unknown_action", given=action)


# -- protocol for the Einsatztagebuch --------------------------------------------------------


# What makes Markdown more than text: links and images (`[`, `]`, `!`; a `(` is inert without
# them), inline HTML and autolinks (`<`, `>`, `&`), emphasis and code (`*`, `_`, `~`,
# `` ` ``), table cells (`|`) and the escape itself. Each gets a backslash, which every
# Markdown viewer shows as the character itself (review finding S-21).
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>!|~&])")


def _cell(value: object) -> str:
    """One line of free text for the protocol, inert in any Markdown viewer."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", " ".join(str(value).split()))


def _who(ctx: CommandContext, person: str | None) -> str:
    if person is None:
        return ""
    return ctx.text("crisis.log.former").plain if is_former(person) else person


def protocol_file(ctx: CommandContext, protocol: Protocol) -> Attachment:
    """The whole timeline as Markdown: a header and one table row per event, with seconds."""
    zone = ZoneInfo(ctx.services.config.timezone)
    req = protocol.request
    state = req.state

    def t(key: str, **params: object) -> str:
        return ctx.text(key, **params).plain

    def when(value: datetime | float | None) -> str:
        if value is None:
            return "–"
        moment = (
            datetime.fromtimestamp(value, zone) if isinstance(value, float) else value
        ).astimezone(zone)
        return moment.strftime("%d.%m.%Y %H:%M:%S")

    crisis = ctx.services.config.crisis
    fallback = crisis.fallback_de if ctx.lang == "de" else crisis.fallback_en
    phase = _phase(
        ctx, state, len(state.asked_ids), sum(1 for a in state.answers if not a.yes)
    ).plain
    lines = [
        "# " + t("crisis.log.title", id=req.id, label=t("crisis.label.drill") if req.drill else ""),
        "",
        f"- {t('crisis.log.request')}: {_cell(req.text) or '–'}",
        f"- {t('crisis.log.requester')}: {_who(ctx, req.requester) or '–'}",
        f"- {t('crisis.log.created')}: {when(state.created_at)} ({zone.key})",
        f"- {t('crisis.log.urgent')}: {t('crisis.log.yes' if req.urgent else 'crisis.log.no')}",
        f"- {t('crisis.log.state')}: {phase}",
        f"- {t('crisis.log.fallback')}: {fallback}",
        f"- {t('crisis.log.exported')}: {when(datetime.now(zone))}",
        "",
        "| "
        + " | ".join(
            t(f"crisis.log.col.{c}") for c in ("n", "at", "event", "person", "tier", "detail")
        )
        + " |",
        "|---:|---|---|---|---:|---|",
    ]
    for number, entry in enumerate(protocol.timeline, start=1):
        detail = entry.detail or ""
        if entry.kind == "created":
            detail = ""
        elif entry.kind in ("tier", "broadcast"):
            detail = t("crisis.log.tier_count", count=entry.detail or "0")
        cells = [
            str(number),
            when(entry.at),
            t(f"crisis.log.kind.{entry.kind}"),
            _who(ctx, entry.person),
            "" if entry.tier is None else str(entry.tier),
            detail,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    name = t("crisis.log.filename", id=req.id)
    return Attachment(name, "text/markdown", ("\n".join(lines) + "\n").encode("utf-8"))


# -- drills ----------------------------------------------------------------------------------


def _duration(ctx: CommandContext, value: timedelta | None) -> str:
    if value is None:
        return "–"
    seconds = round(value.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return ctx.text("crisis.report.min_s", minutes=minutes, seconds=seconds).plain
    return ctx.text("crisis.report.s", seconds=seconds).plain


def _summary(ctx: CommandContext, summary: DurationSummary) -> Rendered:
    return ctx.text(
        "crisis.report.durations",
        median=_duration(ctx, summary.median),
        p90=_duration(ctx, summary.p90),
    )


def _stats(ctx: CommandContext, title: str, stats: ResponseStats) -> Rendered:
    if not stats.requests:
        return ctx.text(title) + Rendered(" ", " ") + ctx.text("crisis.report.none")
    share = stats.answered_within_target
    return (
        ctx.text(title)
        + Rendered("\n", "<br/>")
        + ctx.text(
            "crisis.report.figures",
            requests=stats.requests,
            answered=stats.answered,
            connected=stats.connected,
            first=_summary(ctx, stats.first_answer),
            connection=_summary(ctx, stats.connection),
            within="–" if share is None else f"{share:.0%}",
        )
    )


@REGISTRY.command(
    "übung",
    "drill",
    args=(Arg("text", "Anliegen|bericht", "request|report", kind="rest"),),
    aliases=("uebung",),
    where=Where.ANY,
    parent=ADMIN,
)
async def uebung(ctx: CommandContext, text: str) -> None:
    if text.strip().casefold() not in REPORT_WORDS:
        await _start(ctx, text, drill=True)
        return
    try:
        report = await ctx.services.crisis.report(ctx.roles)
    except RequestError:
        await ctx.reply("error.admins_only")
        return
    target = _duration(ctx, report.target)
    thin = ", ".join(report.thin_sectors) or "–"
    parts = [
        ctx.text("crisis.report.title", target=target),
        _stats(ctx, "crisis.report.drills", report.drills),
        _stats(ctx, "crisis.report.real", report.real),
        ctx.text("crisis.report.thin", sectors=thin),
    ]
    await ctx.reply_rendered(join(parts, "\n\n"))
