"""The network report as CSV tables (one per table, zipped for the chat). Cells are
neutralised for spreadsheets: no text is ever run as a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence

from bot.domain.network.report import NetworkReport
from bot.domain.network.ties import KINDS
from bot.i18n import Lang
from bot.report.labels import unit_name
from bot.report.report_file import ReportFile

PLURAL = {"department": "departments", "municipality": "municipalities"}


def _safe_cell(value: object) -> str:
    """Text a spreadsheet must not run as a formula (`=`, `+`, `-`, `@` at the start)."""
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ratio(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _count(value: int | None, k: int) -> object:
    """A count; a suppressed one (1 to k-1, review finding S-07) as `<k`."""
    return f"<{k}" if value is None else value


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(cell) for cell in row])
    # UTF-8 with BOM: spreadsheet programs then read umlauts correctly.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def csv_files(report: NetworkReport, lang: Lang) -> dict[str, bytes]:
    """The aggregate tables, one CSV per table; column names in English (stable for
    scripts), `;`-separated, decimal point. Empty when the report is suppressed."""
    files = {
        "summary.csv": _csv(
            ["figure", "period", "previous"],
            _summary_rows(report),
        )
    }
    if report.suppressed:
        return files
    kinds, k = list(KINDS), report.k
    files["months.csv"] = _csv(
        ["month", "ties", *kinds, "cross_department", "cross_municipality"],
        [
            [
                f"{row.month:%Y-%m}",
                _count(row.ties, k),
                *(_count(row.by_kind.get(kind, 0), k) for kind in kinds),
                _count(row.cross_department, k),
                _count(row.cross_municipality, k),
            ]
            for row in report.chart
        ],
    )
    for level in (report.departments, report.municipalities):
        files[f"{PLURAL[level.level]}.csv"] = _csv(
            [
                "unit",
                "profiles",
                "participants",
                "participation_share",
                "coffee_opted_in",
                "external_ties",
                "internal_ties",
                "ei_index",
                "ei_index_previous",
                "isolated",
            ],
            [
                [
                    unit_name(row.unit, lang),
                    _count(row.profiles, k),
                    _count(row.participants, k),
                    _ratio(row.share),
                    _count(row.opted_in, k),
                    _count(row.external, k),
                    _count(row.internal, k),
                    _ratio(row.ei),
                    _ratio(row.ei_previous),
                    int(row.isolated),
                ]
                for row in level.units
            ],
        )
        names = [unit_name(u, lang) for u in level.matrix_units]
        files[f"{level.level}_matrix.csv"] = _csv(
            ["unit", *(_safe_cell(n) for n in names)],
            [
                [name, *(_count(cell, k) for cell in cells)]
                for name, cells in zip(names, level.matrix, strict=True)
            ],
        )
    files["sectors.csv"] = _csv(
        ["sector", "live_bridge_persons", "fewer_than_two"],
        [[s.sector, s.live_bridges, int(s.thin)] for s in report.sectors],
    )
    return files


def _summary_rows(report: NetworkReport) -> list[list[object]]:
    k = report.k
    head: list[list[object]] = [
        ["period_start", report.period.start.isoformat(), report.previous.start.isoformat()],
        ["period_end", report.period.end.isoformat(), report.previous.end.isoformat()],
        ["k_anonymity", k, ""],
        ["participants", report.participants, ""],
        ["profiles", report.profiles, ""],
        ["coffee_opted_in", _count(report.opted_in, k), ""],
        ["suppressed", int(report.suppressed), ""],
    ]
    if report.suppressed:
        return head
    now, before = report.current, report.before
    dep, mun = report.departments, report.municipalities

    def pair(now: int | None, before: int | None) -> list[object]:
        return [_count(now, k), _count(before, k)]

    rows: list[list[object]] = [
        ["ties", *pair(now.ties, before.ties)],
        *(
            [f"ties_{kind}", *pair(now.by_kind.get(kind, 0), before.by_kind.get(kind, 0))]
            for kind in KINDS
        ),
        ["distinct_pairs", *pair(now.pairs, before.pairs)],
        ["people_involved", *pair(now.people, before.people)],
    ]
    for name, level in (("department", dep), ("municipality", mun)):
        rows += [
            [f"cross_{name}", *pair(level.current.cross, level.previous.cross)],
            [f"inside_{name}", *pair(level.current.internal, level.previous.internal)],
            [f"unknown_{name}", *pair(level.current.unclassified, level.previous.unclassified)],
            [f"ei_index_{name}s", _ratio(level.current.ei), _ratio(level.previous.ei)],
            [f"isolated_{name}s", len(level.isolated), level.isolated_previous],
            [f"separate_groups_{name}s", level.components, ""],
            [f"merged_{name}s", level.merged, ""],
        ]
    rows.append(["thin_sectors", sum(s.thin for s in report.sectors), ""])
    return head + rows


def csv_zip(report: NetworkReport, lang: Lang) -> ReportFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_files(report, lang).items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return ReportFile(
        f"flurfunk-netzwerkbericht-{report.period.key}.zip", "application/zip", buffer.getvalue()
    )
