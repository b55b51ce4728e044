"""Network health for administrators: `!admin bericht`, the monthly report to the admin
room, and `flurfunk report` for operators. Aggregates only (see `bot.domain.network`).

`!admin bericht` only records the request, inside the command's transaction (in
`bot_state`, key `report:pending`), and wakes the report job. The job builds the report
outside any transaction — the reads are short, the arithmetic and the charts run in a worker
thread — and then, in one transaction, queues the summary and the pictures (or the CSV
archive) and drops the request. Effect keys derive from the request's event ID
(`report:<event>:summary`, `…:ties.png`, `…:heatmap.png`, `…:csv`), so a crash anywhere
repeats nothing and loses nothing. The monthly report works the same way with the key
`report:monthly:<YYYY-MM>` and remembers the last month posted (`report:monthly:last`).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.network.computation import network_report
from bot.domain.network.periods import Period, PeriodError, chart_months, month_period, parse_period
from bot.domain.network.report import NetworkReport
from bot.domain.roles import Role
from bot.i18n import Lang
from bot.i18n.render import Rendered
from bot.report.charts import charts
from bot.report.csv_tables import csv_zip
from bot.report.directory import write_directory
from bot.report.labels import label, period_label
from bot.report.report_file import ReportFile
from bot.report.summary import chat_message
from bot.services.ports import Attachment, Messenger, Say
from bot.store.bot_state import BotState
from bot.store.db import Database, StoreUnavailable, describe, migrations, schema_version_at
from bot.store.ties import TieStore

log = logging.getLogger(__name__)

PENDING_KEY = "report:pending"
MONTHLY_KEY = "report:monthly:last"


@dataclass(frozen=True)
class ReportRequest:
    """A pending `!admin bericht`: where to answer, in which language, what."""

    event_id: str
    room_id: str
    lang: Lang
    period: Period
    csv: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "room": self.room_id,
            "lang": self.lang,
            "period": [
                self.period.kind,
                self.period.start.isoformat(),
                self.period.end.isoformat(),
            ],
            "csv": self.csv,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportRequest:
        kind, start, end = data["period"]
        return cls(
            event_id=str(data["event"]),
            room_id=str(data["room"]),
            lang="en" if data.get("lang") == "en" else "de",
            period=Period(kind, date.fromisoformat(start), date.fromisoformat(end)),
            csv=bool(data.get("csv")),
        )


def period_argument(period: Period) -> str:
    """What to type after `!admin bericht` for this period."""
    return period.key


class ReportBuilder:
    """Reads the store and computes the report; no messages, no permissions."""

    def __init__(
        self, db: Database, config: Config, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.timezone = ZoneInfo(config.timezone)
        self.clock = clock or (lambda: datetime.now(self.timezone))
        self.ties = TieStore(db, self.timezone)

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()

    def parse_period(self, text: str | None) -> Period | PeriodError:
        return parse_period(text, self.today())

    async def build(self, period: Period) -> NetworkReport:
        settings = self.config.report
        first = min(period.previous().start, chart_months(period, settings.chart_months)[0])
        ties = await self.ties.ties(first, period.end)
        members = await self.ties.members()
        live_since = self.clock() - timedelta(days=self.config.crisis.contact_expire_days)
        live = await self.ties.live_bridges(live_since)
        return await asyncio.to_thread(
            network_report,
            ties,
            members,
            period,
            k=settings.k_anonymity,
            sectors=self.config.crisis.sectors,
            live_bridges=live,
            chart_length=settings.chart_months,
            departments=self.config.directory.departments,
            municipalities=self.config.directory.municipalities,
            as_of=self.today(),
        )


class ReportService(ReportBuilder):
    def __init__(
        self,
        db: Database,
        config: Config,
        messenger: Messenger,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(db, config, clock)
        self.messenger = messenger
        self.state = BotState(db)
        # Makes the report job run now (set by the hub).
        self.wake: Callable[[], None] = lambda: None

    # -- requests ---------------------------------------------------------------------------

    async def request(
        self,
        user_id: str,
        roles: Collection[str],
        *,
        event_id: str,
        room_id: str,
        lang: Lang,
        period: Period,
        csv: bool = False,
    ) -> bool:
        """Record a report request of an admin; False (and nothing stored) for anybody else."""
        if Role.ADMIN not in roles:
            return False
        async with self.db.transaction("report.request"):
            pending = await self.pending()
            if all(r.event_id != event_id for r in pending):
                pending.append(ReportRequest(event_id, room_id, lang, period, csv))
                await self._save_pending(pending)
        self.wake()
        return True

    async def pending(self) -> list[ReportRequest]:
        raw = await self.state.get(PENDING_KEY)
        if not raw:
            return []
        requests = []
        for item in json.loads(raw):
            try:
                requests.append(ReportRequest.from_json(item))
            except (KeyError, TypeError, ValueError):
                # e.g. a window of days stored before reports became whole months only
                log.warning("dropping an unusable report request %s", item.get("event"))
        return requests

    async def _save_pending(self, pending: list[ReportRequest]) -> None:
        if pending:
            await self.state.set(PENDING_KEY, json.dumps([r.to_json() for r in pending]))
        else:
            await self.state.delete(PENDING_KEY)

    async def _done(self, event_id: str) -> None:
        pending = await self.pending()
        await self._save_pending([r for r in pending if r.event_id != event_id])

    # -- the job ----------------------------------------------------------------------------

    async def tick(self) -> None:
        """Answer every pending request, then post the monthly report if it is due."""
        for request in await self.pending():
            try:
                await self.answer(request)
            except Exception:
                log.exception("network report for request %s failed", request.event_id)
                async with self.db.transaction("report.tick"):
                    await self._post(
                        request.room_id,
                        _text(label("report.failed", request.lang)),
                        f"report:{request.event_id}:failed",
                    )
                    await self._done(request.event_id)
        await self.monthly_if_due()

    async def answer(self, request: ReportRequest) -> None:
        report = await self.build(request.period)
        lang, base = request.lang, f"report:{request.event_id}"
        if request.csv:
            archive = await asyncio.to_thread(csv_zip, report, lang)
            caption = label("report.csv.caption", lang, period=period_label(report.period, lang))
            async with self.db.transaction("report.answer"):
                await self._post(request.room_id, _text(caption), f"{base}:summary")
                await self._file(request.room_id, archive, f"{base}:csv")
                await self._done(request.event_id)
            return
        # The text first (it is ready in milliseconds), the charts when they are drawn.
        message = await asyncio.to_thread(self._chat_message, report, lang)
        await self._post(request.room_id, message, f"{base}:summary")
        images = await asyncio.to_thread(charts, report, lang)
        async with self.db.transaction("report.answer"):
            for image in images:
                await self._file(request.room_id, image, f"{base}:{image.name}")
            await self._done(request.event_id)

    def _chat_message(self, report: NetworkReport, lang: Lang) -> Rendered:
        word = "bericht" if lang == "de" else "report"
        command = f"{self.config.bot.command_prefix}admin {word} csv"
        if report.period != self.parse_period(None):
            command += f" {period_argument(report.period)}"
        return chat_message(
            report, lang, max_rows=self.config.report.max_table_rows, csv_command=command
        )

    async def monthly_if_due(self) -> bool:
        """The report on the previous month, once, from `monthly_day` at `monthly_time` until
        `monthly_grace_hours` later, to `bot.admin_room`. True if it was posted now."""
        settings, room = self.config.report, self.config.bot.admin_room
        if not settings.monthly or room is None:
            return False
        now = self.clock().astimezone(self.timezone)
        due = datetime.combine(
            date(now.year, now.month, settings.monthly_day), settings.monthly_time, self.timezone
        )
        if not due <= now <= due + timedelta(hours=settings.monthly_grace_hours):
            return False
        period = month_period(date(now.year, now.month, 1) - timedelta(days=1))
        last = await self.state.get(MONTHLY_KEY)
        if last is not None and last >= period.key:
            return False
        lang = self.config.bot.default_language
        report = await self.build(period)
        message = await asyncio.to_thread(self._chat_message, report, lang)
        images = await asyncio.to_thread(charts, report, lang)
        base = f"report:monthly:{period.key}"
        async with self.db.transaction("report.monthly_if_due"):
            if await self.state.get(MONTHLY_KEY) == period.key:
                return False
            await self._post(room, message, f"{base}:summary")
            for image in images:
                await self._file(room, image, f"{base}:{image.name}")
            await self.state.set(MONTHLY_KEY, period.key)
        return True

    # -- sending ----------------------------------------------------------------------------

    async def _post(self, room_id: str, document: Rendered, effect_key: str) -> None:
        # The document is rendered already (in the asker's language); the catalogue entry
        # only wraps it, so the messenger neither escapes it again nor translates it.
        await self.messenger.post(
            room_id, Say("report.document", {"document": document}), effect_key=effect_key
        )

    async def _file(self, room_id: str, file: ReportFile, effect_key: str) -> None:
        # A chart knows its size and is shown inline; the CSV archive is a download.
        picture = None if file.width is None or file.height is None else (file.width, file.height)
        await self.messenger.post_file(
            room_id,
            Attachment(file.name, file.mimetype, file.data),
            effect_key=effect_key,
            picture=picture,
        )


def _text(plain: str) -> Rendered:
    return Rendered(plain, html.escape(plain, quote=False))


# -- the command line ------------------------------------------------------------------------


class ReportCliError(Exception):
    pass


async def report_to_directory(
    config: Config, out: Path, period_text: str | None, lang: Lang | None = None
) -> list[Path]:
    """`flurfunk report`: the report's files into `out`. Reads the store only; refuses a
    database that is missing or not at this Flurfunk's schema version (it never migrates
    a store that a running bot may be using)."""
    target = config.storage.database_target
    try:
        found = await schema_version_at(target)
    except StoreUnavailable as exc:
        raise ReportCliError(str(exc)) from None
    if found is None:
        raise ReportCliError(
            f"{describe(target)}: no database there (check storage.data_dir and storage.database)"
        )
    expected = migrations()[-1][0]
    if found != expected:
        raise ReportCliError(
            f"{describe(target)}: schema version {found}, this Flurfunk expects {expected}; "
            "run the report with the same Flurfunk version as the bot"
        )
    db = Database(target)
    await db.open()  # at the expected version: migrating changes nothing
    try:
        builder = ReportBuilder(db, config)
        period = builder.parse_period(period_text)
        if isinstance(period, PeriodError):
            raise ReportCliError(
                f"cannot use the period {period_text!r} ({period.value}); only whole months "
                "that have ended: 2026-11, 11.2026, monat, quartal, 2026-Q3, jahr, 2026"
            )
        report = await builder.build(period)
    finally:
        await db.close()
    language: Lang = lang or config.bot.default_language
    return await asyncio.to_thread(write_directory, report, language, out, builder.today())
