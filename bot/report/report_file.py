"""One file of the network report (a CSV archive or a chart) as it is posted or written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportFile:
    name: str
    mimetype: str
    data: bytes
    width: int | None = None
    height: int | None = None
