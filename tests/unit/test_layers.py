"""Imports point one way: domain < store < services < commands < chat < app.

docs/DEVELOPING.md promises a one-way stack; this test is what holds it. Every runtime
import between two packages of `bot` must go down the ranks below. Imports under
`if TYPE_CHECKING:` are exempt: they never run and only name types.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"

# Lower ranks are imported by higher ones, never the other way round. Packages of equal
# rank do not import each other. `bot.i18n` and `bot.config` are vocabulary everybody may
# read; `jobs` (the scheduler) and `report` (charts, tables) are tools the services use;
# `dev`/`devserver` start a local homeserver around the app for `make run`.
RANKS = {
    "__init__": 0,
    "domain": 1,
    "i18n": 2,
    "config": 2,
    "store": 3,
    "jobs": 4,
    "report": 4,
    "services": 5,
    "commands": 6,
    "chat": 7,
    "app": 8,
    "devserver_config": 8,
    "devserver": 9,
    "devpostgres": 9,
    "dev": 10,
    "__main__": 11,
}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def type_checking_nodes(tree: ast.Module) -> set[int]:
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return hidden


def runtime_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = type_checking_nodes(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, module) for line, module in found if module.split(".")[0] == "bot"]


def violations(bot: Path = BOT) -> list[str]:
    wrong = []
    for path in sorted(bot.rglob("*.py")):
        relative = path.relative_to(bot.parent).with_suffix("")
        here = package_of(".".join(relative.parts))
        for line, module in runtime_imports(path):
            there = package_of(module)
            if there != here and RANKS[there] >= RANKS[here]:
                wrong.append(f"{path.relative_to(bot.parent)}:{line}: {here} imports {module}")
    return wrong


def test_every_package_has_a_rank() -> None:
    packages = {p.stem if p.is_file() else p.name for p in BOT.iterdir()}
    packages = {p for p in packages if not p.startswith((".", "_")) or p in RANKS}
    assert packages - {"data", "__pycache__"} <= set(RANKS), packages - set(RANKS)


def test_imports_point_one_way() -> None:
    assert violations() == []


def test_an_upward_import_is_caught_and_a_type_only_one_is_not(tmp_path: Path) -> None:
    """The test above can fail: a store module that imports chat at runtime is named."""
    store = tmp_path / "bot" / "store"
    store.mkdir(parents=True)
    (store / "upward.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from bot.domain.dates import today\n"
        "from bot.chat.content import notice\n"
        "if TYPE_CHECKING:\n"
        "    from bot.services.hub import Services\n",
        encoding="utf-8",
    )
    assert violations(tmp_path / "bot") == ["bot/store/upward.py:3: store imports bot.chat.content"]
