"""The network report as documents: a summary (Markdown/plain text and HTML), CSV tables and
two PNG charts. Used by the chat (`!admin bericht`, the monthly post) and by the command line
(`flurfunk report --out DIR`), so both show exactly the same.

Everything here reads a `bot.domain.network.NetworkReport`, which holds unit names, sector
names and counts only. Unit names may have been typed by people (free departments), so they
are escaped for HTML, neutralised for spreadsheets (no formulas) and drawn without mathtext.
Labels come from the catalogue (`bot/i18n/report.yaml`) in the requested language.
"""

from __future__ import annotations

import csv
import html
import io
import struct
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.chat.render import Rendered, clean_user_text
from bot.domain.network import (
    KINDS,
    OTHER,
    UNKNOWN,
    Level,
    LevelReport,
    NetworkReport,
    Period,
)
from bot.i18n import Lang, template

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEATMAP_MAX_UNITS = 20
LABEL_CHARS = 28
KIND_COLOURS = {
    "coffee": "#8c564b",
    "circle": "#1f77b4",
    "break": "#ff7f0e",
    "hospitation": "#2ca02c",
    "crisis": "#d62728",
}
PLURAL = {"department": "departments", "municipality": "municipalities"}
# matplotlib's pyplot-free API is fine in a worker thread, one figure at a time.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class ReportFile:
    name: str
    mimetype: str
    data: bytes
    width: int | None = None
    height: int | None = None


# -- labels and numbers ------------------------------------------------------------------


def label(key: str, lang: Lang, **params: object) -> str:
    return template(key, lang).format(**params)


def unit_name(unit: str, lang: Lang) -> str:
    if unit == OTHER:
        return label("report.unit.other", lang)
    if unit == UNKNOWN:
        return label("report.unit.unknown", lang)
    return clean_user_text(unit)


def number(value: int, lang: Lang) -> str:
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "de" else text


def signed(value: float | None, lang: Lang, digits: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}".replace("-", "−")
    return text.replace(".", ",") if lang == "de" else text


def change(now: int, before: int, lang: Lang) -> str:
    delta = now - before
    if delta == 0:
        return "±0"
    return ("+" if delta > 0 else "−") + number(abs(delta), lang)


def points(value: int | None, lang: Lang) -> str:
    """A change of a share, in percentage points."""
    if value is None:
        return "–"
    return change(value, 0, lang) + (" Pp." if lang == "de" else " pp")


def percent(value: float | None, lang: Lang) -> str:
    if value is None:
        return "–"
    return f"{round(value * 100)} %" if lang == "de" else f"{round(value * 100)}%"


def day(value: date, lang: Lang) -> str:
    return f"{value:%d.%m.%Y}" if lang == "de" else value.isoformat()


def month_name(value: date, lang: Lang, *, short: bool = False) -> str:
    names = template("report.months.short" if short else "report.months", lang).split(",")
    return names[value.month - 1]


def month_label(value: date, lang: Lang) -> str:
    return f"{month_name(value, lang)} {value.year}"


def period_label(period: Period, lang: Lang) -> str:
    if period.kind == "month":
        return label(
            "report.period.month",
            lang,
            month=month_name(period.start, lang),
            year=period.start.year,
        )
    if period.kind == "quarter":
        quarter = (period.start.month - 1) // 3 + 1
        return label("report.period.quarter", lang, quarter=quarter, year=period.start.year)
    if period.kind == "year":
        return label("report.period.year", lang, year=period.start.year)
    return label(
        "report.period.days",
        lang,
        start=day(period.start, lang),
        end=day(period.end, lang),
        days=period.days,
    )


# -- a document in Markdown and HTML at once -------------------------------------------------


class Document:
    """Builds the Markdown text (the plain body of the chat message, summary.md) and the
    HTML (formatted body, summary.html) side by side. Every text passed in is plain text."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def heading(self, text: str, level: int = 4) -> None:
        self.md.append(f"{'#' * (level - 1)} {text}")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, *, emphasis: bool = False) -> None:
        self.md.append(f"_{text}_" if emphasis else text)
        inner = html.escape(text)
        self.html.append(f"<p><em>{inner}</em></p>" if emphasis else f"<p>{inner}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        def md_cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(md_cell(h) for h in header) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
        self.md.append("\n".join(lines))
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        self.html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def markdown(self) -> str:
        return "\n\n".join(self.md) + "\n"

    def html_fragment(self) -> str:
        return "".join(self.html)


def _overview(doc: Document, report: NetworkReport, lang: Lang) -> None:
    now, before = report.current, report.before
    dep, mun = report.departments, report.municipalities

    def count_row(key: str, value: int, previous: int) -> list[str]:
        return [
            label(key, lang),
            number(value, lang),
            number(previous, lang),
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
        [label("report.doc.fig.opted_in", lang), number(report.opted_in, lang), "–", "–"],
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
                number(now.by_kind.get(kind, 0), lang),
                number(before.by_kind.get(kind, 0), lang),
                change(now.by_kind.get(kind, 0), before.by_kind.get(kind, 0), lang),
            ]
            for kind in KINDS
        ],
    )


def _units(
    doc: Document, level: LevelReport, lang: Lang, max_rows: int | None, more_hint: bool
) -> None:
    doc.heading(label(f"report.doc.section.{level.level}", lang))
    rows = [
        [
            unit_name(row.unit, lang),
            number(row.participants, lang),
            percent(row.share, lang),
            number(row.external, lang),
            number(row.internal, lang),
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
) -> Document:
    doc = Document()
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
    _units(doc, report.departments, lang, max_rows, True)
    _units(doc, report.municipalities, lang, max_rows, True)
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
                number(row.ties, lang),
                number(row.cross_department, lang),
                number(row.cross_municipality, lang),
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


# -- CSV -------------------------------------------------------------------------------------


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
    kinds = list(KINDS)
    files["months.csv"] = _csv(
        ["month", "ties", *kinds, "cross_department", "cross_municipality"],
        [
            [
                f"{row.month:%Y-%m}",
                row.ties,
                *(row.by_kind.get(k, 0) for k in kinds),
                row.cross_department,
                row.cross_municipality,
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
                    row.profiles,
                    row.participants,
                    _ratio(row.share),
                    row.opted_in,
                    row.external,
                    row.internal,
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
            [[name, *cells] for name, cells in zip(names, level.matrix, strict=True)],
        )
    files["sectors.csv"] = _csv(
        ["sector", "live_bridge_persons", "fewer_than_two"],
        [[s.sector, s.live_bridges, int(s.thin)] for s in report.sectors],
    )
    return files


def _summary_rows(report: NetworkReport) -> list[list[object]]:
    head: list[list[object]] = [
        ["period_start", report.period.start.isoformat(), report.previous.start.isoformat()],
        ["period_end", report.period.end.isoformat(), report.previous.end.isoformat()],
        ["k_anonymity", report.k, ""],
        ["participants", report.participants, ""],
        ["profiles", report.profiles, ""],
        ["coffee_opted_in", report.opted_in, ""],
        ["suppressed", int(report.suppressed), ""],
    ]
    if report.suppressed:
        return head
    now, before = report.current, report.before
    dep, mun = report.departments, report.municipalities
    rows: list[list[object]] = [
        ["ties", now.ties, before.ties],
        *([f"ties_{k}", now.by_kind.get(k, 0), before.by_kind.get(k, 0)] for k in KINDS),
        ["distinct_pairs", now.pairs, before.pairs],
        ["people_involved", now.people, before.people],
    ]
    for name, level in (("department", dep), ("municipality", mun)):
        rows += [
            [f"cross_{name}", level.current.cross, level.previous.cross],
            [f"inside_{name}", level.current.internal, level.previous.internal],
            [f"unknown_{name}", level.current.unclassified, level.previous.unclassified],
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


# -- charts ----------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk; ValueError if `data` is no PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _draw(
    width_in: float, height_in: float, paint: Callable[[Figure], None], fmt: str = "png"
) -> bytes:
    """One figure as PNG (or, for tests that read every label, SVG with text kept as text)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # No mathtext: a unit name with `$` is drawn as typed. SVG keeps text as text.
    with (
        _DRAWING,
        matplotlib.rc_context({"text.parse_math": False, "font.size": 9, "svg.fonttype": "none"}),
    ):
        figure = Figure(figsize=(width_in, height_in), dpi=100)
        FigureCanvasAgg(figure)
        paint(figure)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def ties_chart(report: NetworkReport, lang: Lang, fmt: str = "png") -> bytes:
    """Stacked bars: ties per month by kind, with a line for the cross-department ones."""
    months = report.chart

    def paint(figure: Figure) -> None:
        from matplotlib.ticker import MaxNLocator

        ax = figure.add_subplot()
        positions = list(range(len(months)))
        bottom = [0] * len(months)
        for kind in KINDS:
            values = [row.by_kind.get(kind, 0) for row in months]
            ax.bar(
                positions,
                values,
                bottom=bottom,
                color=KIND_COLOURS[kind],
                label=label(f"report.kind.{kind}", lang),
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.plot(
            positions,
            [row.cross_department for row in months],
            color="black",
            marker="o",
            linewidth=1.5,
            label=label("report.chart.cross", lang),
        )
        ax.set_xticks(
            positions,
            labels=[f"{month_name(row.month, lang, short=True)} {row.month:%y}" for row in months],
            rotation=45,
            ha="right",
        )
        ax.set_title(label("report.chart.ties", lang))
        ax.set_ylabel(label("report.chart.axis", lang))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0, top=max([1, *bottom]) * 1.15)
        ax.legend(loc="upper left", fontsize=8, ncols=3)
        ax.grid(axis="y", alpha=0.3)

    return _draw(min(24.0, max(9.0, 0.3 * len(months))), 4.8, paint, fmt)


def _heatmap_data(level: LevelReport, lang: Lang) -> tuple[list[str], list[list[int]]]:
    """Names and matrix; beyond HEATMAP_MAX_UNITS the units with the fewest ties are
    summed up as one row 'weitere' (for the picture only; the CSV has all)."""
    names = [unit_name(u, lang) for u in level.matrix_units]
    matrix = [list(row) for row in level.matrix]
    if len(names) <= HEATMAP_MAX_UNITS:
        return names, matrix
    totals = [sum(row) for row in matrix]
    keep = sorted(sorted(range(len(names)), key=lambda i: -totals[i])[: HEATMAP_MAX_UNITS - 1])
    rest = [i for i in range(len(names)) if i not in keep]
    groups = [[i] for i in keep] + [rest]
    merged = [
        [
            sum(matrix[i][j] for i in a for j in b if a is not b or i <= j)  # each tie once
            for b in groups
        ]
        for a in groups
    ]
    return [names[i] for i in keep] + [label("report.unit.more", lang)], merged


def heatmap_chart(
    report: NetworkReport, lang: Lang, level: Level = "department", fmt: str = "png"
) -> bytes:
    names, matrix = _heatmap_data(report.level(level), lang)
    size = max(5.5, 0.42 * len(names) + 3.5)
    title = label("report.chart.heatmap", lang, period=period_label(report.period, lang))

    def paint(figure: Figure) -> None:
        from matplotlib.ticker import MaxNLocator

        ax = figure.add_subplot()
        ax.set_title(title)
        if not names or not any(any(row) for row in matrix):
            ax.text(0.5, 0.5, label("report.chart.empty", lang), ha="center", va="center")
            ax.set_axis_off()
            return
        image = ax.imshow(matrix, cmap="Blues", vmin=0)
        short = [_short(n) for n in names]
        ax.set_xticks(range(len(names)), labels=short, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), labels=short)
        top = max(max(row) for row in matrix)
        if len(names) <= 15:
            for i, row in enumerate(matrix):
                for j, value in enumerate(row):
                    if value:
                        colour = "white" if value > top * 0.6 else "black"
                        ax.text(j, i, str(value), ha="center", va="center", color=colour)
        bar = figure.colorbar(image, ax=ax, label=label("report.chart.axis", lang), shrink=0.8)
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    return _draw(size, size * 0.85, paint, fmt)


def charts(report: NetworkReport, lang: Lang) -> list[ReportFile]:
    """ties.png and heatmap.png; nothing when the report is suppressed."""
    if report.suppressed:
        return []
    files = []
    for name, data in (
        ("ties.png", ties_chart(report, lang)),
        ("heatmap.png", heatmap_chart(report, lang)),
    ):
        width, height = png_size(data)
        files.append(ReportFile(name, "image/png", data, width, height))
    return files


# -- the command line ------------------------------------------------------------------------


def write_directory(report: NetworkReport, lang: Lang, out: Path, generated: date) -> list[Path]:
    """summary.md, summary.html, ties.png, heatmap.png and the CSV tables into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, data: bytes) -> None:
        path = out / name
        path.write_bytes(data)
        written.append(path)

    images = charts(report, lang)
    for image in images:
        write(image.name, image.data)
    for name, data in csv_files(report, lang).items():
        write(name, data)
    write("summary.md", summary(report, lang, generated=generated).markdown().encode("utf-8"))
    page = html_page(report, lang, generated, [image.name for image in images])
    write("summary.html", page.encode("utf-8"))
    return written
