"""`!admin bericht [csv] [Zeitraum]` / `!admin report [csv] [period]`: the network report.

The handler only checks the period and records the request (inside the event's
transaction); the report job builds the report at once, outside any transaction, and posts
the summary with two charts (or, with `csv`, the tables as a ZIP of CSV files) into the room
the command came from. Everything in it is aggregate; see `bot.domain.network`.
"""

from __future__ import annotations

from datetime import timedelta

from bot.commands.admin import ADMIN
from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg
from bot.domain.network.periods import PeriodError, month_period
from bot.domain.roles import Where

CSV_WORDS = frozenset({"csv", "tabelle", "tabellen", "table", "tables"})


@REGISTRY.command(
    "bericht",
    "report",
    # Both optional and in any order (`quartal csv` works too): the handler reads the words.
    args=(
        Arg("csv", "csv", "csv", optional=True),
        Arg("period", "Zeitraum", "period", kind="rest", optional=True),
    ),
    where=Where.ANY,
    parent=ADMIN,
)
async def bericht(ctx: CommandContext, csv: str | None, period: str | None) -> None:
    words = " ".join(filter(None, (csv, period))).split()
    as_tables = any(word.casefold() in CSV_WORDS for word in words)
    given = " ".join(word for word in words if word.casefold() not in CSV_WORDS)
    service = ctx.services.report
    parsed = service.parse_period(given or None)
    if isinstance(parsed, PeriodError):
        today = service.today()
        example = month_period(today.replace(day=1) - timedelta(days=1)).key
        await ctx.reply(
            f"report.period.{parsed.value}", given=given, month=example, year=today.year - 1
        )
        return
    accepted = await service.request(
        ctx.sender,
        frozenset(str(role) for role in ctx.roles),
        event_id=ctx.event_id,
        room_id=ctx.room_id,
        lang=ctx.lang,
        period=parsed,
        csv=as_tables,
    )
    if not accepted:
        await ctx.reply("error.admins_only")
