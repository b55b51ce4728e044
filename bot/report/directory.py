"""The network report written into a directory, for the command line
(`flurfunk report --out DIR`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.domain.network.report import NetworkReport
from bot.i18n import Lang
from bot.report.charts import charts
from bot.report.csv_tables import csv_files
from bot.report.summary import html_page, summary


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
