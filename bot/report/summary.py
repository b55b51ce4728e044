"""The summary of the network report: as a chat message (Markdown body, HTML tables), as
summary.md and as a standalone HTML page (summary.html)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from bot.domain.network.report import LevelReport, NetworkReport
from bot.domain.network.ties import KINDS
from bot.i18n import Lang
from bot.i18n.render import Rendered
from bot.report.document import ReportDocument
from bot.report.labels import (
    change,
    count,
    day,
    label,
    month_label,
    number,
    percent,
    period_label,
    points,
    signed,
    unit_name,
)


def _overview(doc: ReportDocument, report: NetworkReport, lang: Lang) -> None:
    now, before = report.current, report.before
    dep, mun = report.departments, report.municipalities
    k = report.k

    def count_row(key: str, value: int | None, previous: int | None) -> list[str]:
        return [
            label(key, lang),
            count(value, lang, k),
            count(previous, lang, k),
            change(value, previous, lang),
        ]

    def index_row(key: str, value: float | None, previous: float | None) -> list[str]:
        delta = None if value is None or previous is None else value - previous
        return [label(key, lang), signed(value, lang), signed(previous, lang), signed(delta, lang)]

    share_now, share_before = dep.current.cross_share, dep.previous.cross_share
    share_delta = (
        None
        if share_now is None or share_before is None
        else round((share_now - share_before) * 100)
    )
    rows = [
        count_row("report.doc.fig.ties", now.ties, before.ties),
        count_row("report.doc.fig.cross_department", dep.current.cross, dep.previous.cross),
        [
            label("report.doc.fig.cross_department_share", lang),
            percent(share_now, lang),
            percent(share_before, lang),
            points(share_delta, lang),
        ],
        count_row("report.doc.fig.cross_municipality", mun.current.cross, mun.previous.cross),
        count_row("report.doc.fig.pairs", now.pairs, before.pairs),
        count_row("report.doc.fig.people", now.people, before.people),
        index_row("report.doc.fig.ei_department", dep.current.ei, dep.previous.ei),
        index_row("report.doc.fig.ei_municipality", mun.current.ei, mun.previous.ei),
        count_row("report.doc.fig.isolated_departments", len(dep.isolated), dep.isolated_previous),
        count_row(
            "report.doc.fig.isolated_municipalities", len(mun.isolated), mun.isolated_previous
        ),
        [label("report.doc.fig.components", lang), number(dep.components, lang), "–", "–"],
        [label("report.doc.fig.participants", lang), number(report.participants, lang), "–", "–"],
        [label("report.doc.fig.opted_in", lang), count(report.opted_in, lang, k), "–", "–"],
    ]
    header = [
        label("report.doc.col.figure", lang),
        label("report.doc.col.period", lang),
        label("report.doc.col.previous", lang),
        label("report.doc.col.change", lang),
    ]
    doc.heading(label("report.doc.overview", lang))
    doc.table(header, rows)
    doc.heading(label("report.doc.kinds", lang))
    doc.table(
        [
            label("report.doc.col.kind", lang),
            label("report.doc.col.period", lang),
            label("report.doc.col.previous", lang),
            label("report.doc.col.change", lang),
        ],
        [
            [
                label(f"report.kind.{kind}", lang),
                count(now.by_kind.get(kind, 0), lang, k),
                count(before.by_kind.get(kind, 0), lang, k),
                change(now.by_kind.get(kind, 0), before.by_kind.get(kind, 0), lang),
            ]
            for kind in KINDS
        ],
    )


def _units(
    doc: ReportDocument,
    level: LevelReport,
    lang: Lang,
    max_rows: int | None,
    more_hint: bool,
    k: int,
) -> None:
    doc.heading(label(f"report.doc.section.{level.level}", lang))
    rows = [
        [
            unit_name(row.unit, lang),
            count(row.participants, lang, k),
            percent(row.share, lang),
            count(row.external, lang, k),
            count(row.internal, lang, k),
            signed(row.ei, lang),
            signed(row.ei_previous, lang),
        ]
        for row in level.units
    ]
    shown = rows if max_rows is None else rows[:max_rows]
    doc.table(
        [
            label(f"report.doc.col.{level.level}", lang),
            label("report.doc.col.participants", lang),
            label("report.doc.col.share", lang),
            label("report.doc.col.external", lang),
            label("report.doc.col.internal", lang),
            label("report.doc.col.ei", lang),
            label("report.doc.col.ei_previous", lang),
        ],
        shown,
    )
    if len(shown) < len(rows) and more_hint:
        doc.paragraph(label("report.doc.more_rows", lang, count=len(rows) - len(shown)))
    if level.isolated:
        names = ", ".join(unit_name(u, lang) for u in level.isolated)
        doc.paragraph(label("report.doc.isolated", lang, units=names))
    else:
        doc.paragraph(label("report.doc.isolated.none", lang))


def summary(
    report: NetworkReport,
    lang: Lang,
    *,
    max_rows: int | None = None,
    csv_command: str | None = None,
    generated: date | None = None,
) -> ReportDocument:
    doc = ReportDocument()
    doc.heading(label("report.doc.title", lang, period=period_label(report.period, lang)), 3)
    doc.paragraph(label("report.doc.compared", lang, previous=period_label(report.previous, lang)))
    if report.running and report.as_of is not None:
        doc.paragraph(label("report.doc.as_of", lang, date=day(report.as_of, lang)))
    if report.suppressed:
        doc.paragraph(
            label("report.doc.suppressed", lang, participants=report.participants, k=report.k)
        )
        return doc
    _overview(doc, report, lang)
    _units(doc, report.departments, lang, max_rows, True, report.k)
    _units(doc, report.municipalities, lang, max_rows, True, report.k)
    doc.heading(label("report.doc.months", lang))
    months = report.months if max_rows is None else report.months[-max_rows:]  # the latest
    doc.table(
        [
            label("report.doc.col.month", lang),
            label("report.doc.col.ties", lang),
            label("report.doc.col.cross_department", lang),
            label("report.doc.col.cross_municipality", lang),
        ],
        [
            [
                month_label(row.month, lang),
                count(row.ties, lang, report.k),
                count(row.cross_department, lang, report.k),
                count(row.cross_municipality, lang, report.k),
            ]
            for row in months
        ],
    )
    if len(months) < len(report.months):
        doc.paragraph(label("report.doc.more_rows", lang, count=len(report.months) - len(months)))
    doc.heading(label("report.doc.sectors", lang))
    thin = [s for s in report.sectors if s.thin]
    if thin:
        listed = ", ".join(
            label("report.doc.sector.count", lang, sector=s.sector, count=s.live_bridges)
            for s in thin
        )
        doc.paragraph(label("report.doc.sectors.thin", lang, sectors=listed))
    else:
        doc.paragraph(label("report.doc.sectors.fine", lang))
    doc.paragraph(label("report.doc.notes", lang, k=report.k), emphasis=True)
    if csv_command:
        doc.paragraph(label("report.doc.csv_hint", lang, command=csv_command))
    if generated is not None:
        doc.paragraph(label("report.doc.generated", lang, date=day(generated, lang)))
    return doc


def chat_message(
    report: NetworkReport, lang: Lang, *, max_rows: int, csv_command: str | None
) -> Rendered:
    """The summary as a chat message: Markdown as the plain body, HTML tables formatted."""
    doc = summary(report, lang, max_rows=max_rows, csv_command=csv_command)
    return Rendered(doc.markdown().rstrip("\n"), doc.html_fragment())


def html_page(report: NetworkReport, lang: Lang, generated: date, images: Sequence[str]) -> str:
    doc = summary(report, lang, generated=generated)
    title = html.escape(label("report.doc.title", lang, period=period_label(report.period, lang)))
    pictures = "".join(
        f'<p><img src="{html.escape(name)}" alt="{html.escape(name)}"/></p>' for name in images
    )
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left}"
        "img{max-width:100%}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"/>'
        f"<title>{title}</title><style>{style}</style></head>"
        f"<body>{doc.html_fragment()}{pictures}</body></html>\n"
    )
