"""The Einsatztagebuch protocol is Markdown: free text in it (request texts, hints from
bridges) must never become a link, an image or HTML in a Markdown viewer (review finding
S-21). Checked on the cell function and on the file `!anfrage <ID> protokoll` uploads.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from bot.commands.crisis import _cell
from tests.support.harness import CRISIS, Harness, dm

HOSTILE = (
    "Tafel ![](https://evil.example/t.png) [hier](https://evil.example) <img src=x> *fett* `x`"
)
# Characters that start a link, an image, inline HTML, emphasis or a code span.
ACTIVE = r"[\[\]<>!*_`]"


def unescaped(text: str) -> list[str]:
    """The Markdown metacharacters in `text` that are not escaped by a backslash."""
    found = []
    for match in re.finditer(ACTIVE, text):
        backslashes = len(text[: match.start()]) - len(text[: match.start()].rstrip("\\"))
        if backslashes % 2 == 0:
            found.append(match.group())
    return found


def test_a_cell_escapes_markdown() -> None:
    """S-21: links, images, HTML, emphasis and code in a cell are escaped; the text reads the
    same once rendered (every escape is a backslash before ASCII punctuation)."""
    cell = _cell(HOSTILE)
    assert unescaped(cell) == []
    assert re.sub(r"\\(.)", r"\1", cell) == HOSTILE
    assert _cell("a | b") == "a \\| b"
    assert _cell("C:\\Pfad\\") == "C:\\\\Pfad\\\\"


async def test_the_protocol_shows_no_link_or_image(tmp_path: Path) -> None:
    """S-21: a request whose text holds a Markdown link and a remote image: the uploaded
    protocol has them only escaped."""
    async with Harness.open(tmp_path) as bot:
        replies = await bot.say(CRISIS, dm(CRISIS), "!werkennt " + HOSTILE)
        request_id = re.search(r"[A-Z]-[0-9A-Z]{4}", " ".join(r.body for r in replies))
        assert request_id, [r.body for r in replies]
        await bot.say(CRISIS, dm(CRISIS), f"!anfrage {request_id.group()} protokoll")
        rows = await bot.db.fetchall("SELECT payload FROM outbox WHERE action = 'file'")
        [payload] = [json.loads(r[0]) for r in rows]
        text = base64.b64decode(payload["data"]).decode("utf-8")
        assert "evil.example" in text
        request_line = next(line for line in text.splitlines() if "evil.example" in line)
        assert unescaped(request_line) == [], request_line
        assert "](" not in request_line.replace("\\]", "")
