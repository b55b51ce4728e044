"""The network report as PNG charts: ties per month by kind, and the heatmap of ties
between units. Unit names are drawn without mathtext (a `$` is drawn as typed)."""

from __future__ import annotations

import io
import struct
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.domain.network.report import LevelReport, NetworkReport
from bot.domain.network.ties import KINDS, Level
from bot.i18n import Lang
from bot.report.labels import label, month_name, period_label, unit_name
from bot.report.report_file import ReportFile

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
# matplotlib's pyplot-free API is fine in a worker thread, one figure at a time.
_DRAWING = threading.Lock()


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
            # A suppressed count (1 to k-1) is not drawn; the axis label says so.
            values = [row.by_kind.get(kind, 0) or 0 for row in months]
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
            [
                float("nan") if row.cross_department is None else row.cross_department
                for row in months
            ],
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
        ax.set_xlabel(label("report.chart.suppressed", lang, k=report.k), fontsize=7)
        ax.set_ylabel(label("report.chart.axis", lang))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0, top=max([1, *bottom]) * 1.15)
        ax.legend(loc="upper left", fontsize=8, ncols=3)
        ax.grid(axis="y", alpha=0.3)

    return _draw(min(24.0, max(9.0, 0.3 * len(months))), 4.8, paint, fmt)


def _heatmap_data(level: LevelReport, lang: Lang) -> tuple[list[str], list[list[int | None]]]:
    """Names and matrix (None: a suppressed cell); beyond HEATMAP_MAX_UNITS the units with
    the fewest ties are summed up as one row 'weitere' (for the picture only; the CSV has
    all). A sum with a suppressed part is suppressed too."""
    names = [unit_name(u, lang) for u in level.matrix_units]
    matrix = [list(row) for row in level.matrix]
    if len(names) <= HEATMAP_MAX_UNITS:
        return names, matrix
    totals = [sum(cell or 0 for cell in row) for row in matrix]
    keep = sorted(sorted(range(len(names)), key=lambda i: -totals[i])[: HEATMAP_MAX_UNITS - 1])
    rest = [i for i in range(len(names)) if i not in keep]
    groups = [[i] for i in keep] + [rest]

    def block(a: list[int], b: list[int]) -> int | None:
        cells = [matrix[i][j] for i in a for j in b if a is not b or i <= j]  # each tie once
        return None if any(cell is None for cell in cells) else sum(c or 0 for c in cells)

    merged = [[block(a, b) for b in groups] for a in groups]
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
        if not names or not any(any(cell is None or cell for cell in row) for row in matrix):
            ax.text(0.5, 0.5, label("report.chart.empty", lang), ha="center", va="center")
            ax.set_axis_off()
            return
        # A suppressed cell (1 to k-1) is drawn empty and labelled "<k".
        image = ax.imshow([[cell or 0 for cell in row] for row in matrix], cmap="Blues", vmin=0)
        short = [_short(n) for n in names]
        ax.set_xticks(range(len(names)), labels=short, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), labels=short)
        ax.set_xlabel(label("report.chart.suppressed", lang, k=report.k), fontsize=7)
        top = max(max(cell or 0 for cell in row) for row in matrix)
        if len(names) <= 15:
            for i, row in enumerate(matrix):
                for j, value in enumerate(row):
                    if value is None:
                        ax.text(j, i, f"<{report.k}", ha="center", va="center", color="grey")
                    elif value:
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
