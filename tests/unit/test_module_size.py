"""Small modules: none in `bot/` grows past 400 lines (docs/DEVELOPING.md).

A module that needs more is two modules; this test says which one to split.
"""

from __future__ import annotations

from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
LIMIT = 400


def test_no_module_is_over_the_limit() -> None:
    sizes = {
        str(path.relative_to(BOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in BOT.rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > LIMIT} == {}
