"""A document built in Markdown and HTML at once, from plain text only."""

from __future__ import annotations

import html
from collections.abc import Sequence


class ReportDocument:
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
