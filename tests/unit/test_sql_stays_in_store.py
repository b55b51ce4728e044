"""SQL lives in `bot/store` only (issue #15, change 1).

Whoever changes a table must find every statement that touches it in the store, and a
second database backend must only replace the store. This test walks every module of
`bot` outside `bot/store` and fails on a string literal (or f-string) that reads like an
SQL statement, naming the file and line. Docstrings are prose and exempt.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
STORE = BOT / "store"

# A statement keyword at the start of the text, followed by what that statement needs
# next, so prose such as "Delete it" or "With the key" is not taken for SQL.
SQL = re.compile(
    r"""\A\s*(?:
        SELECT\s+(?:\d|\*|[\s\S]*?\bFROM\b)
      | INSERT\s+(?:OR\s+\w+\s+)?INTO\b
      | REPLACE\s+INTO\b
      | UPDATE\s+\w+\s+SET\b
      | DELETE\s+FROM\b
      | WITH\s+(?:RECURSIVE\s+)?\w+(?:\s*\([^)]*\))?\s+AS\b
      | CREATE\s+(?:\w+\s+)*(?:TABLE|INDEX|VIEW|TRIGGER)\b
      | PRAGMA\s+\w
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of the module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def literal_text(node: ast.Constant | ast.JoinedStr) -> str | None:
    """The text of a string literal; of an f-string, with `_` for each `{…}` in it."""
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "_" for part in node.values
        )
    return node.value if isinstance(node.value, str) else None


def sql_literals(source: str) -> list[tuple[int, str]]:
    """(line, first line of the text) of every SQL-looking literal in `source`."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    inside_fstring = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant | ast.JoinedStr):
            continue
        if id(node) in skip or id(node) in inside_fstring:
            continue
        text = literal_text(node)
        if text is not None and SQL.match(text):
            found.append((node.lineno, text.strip().splitlines()[0]))
    return found


def sql_outside_store() -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for path in sorted(BOT.rglob("*.py")):
        if path.is_relative_to(STORE):
            continue
        relative = path.relative_to(BOT).as_posix()
        for line, text in sql_literals(path.read_text(encoding="utf-8")):
            found.append((relative, line, text))
    return found


def test_no_sql_outside_the_store() -> None:
    stray = [f"bot/{path}:{line}: {text}" for path, line, text in sql_outside_store()]
    assert not stray, "SQL outside bot/store (move it into a store repository):\n" + "\n".join(
        stray
    )


def test_what_counts_as_sql() -> None:
    statements = [
        "SELECT key FROM outbox WHERE event_id = ?",
        "  select 1",
        "INSERT OR IGNORE INTO reactions (event_id) VALUES (?)",
        "insert into language_choice (user_id) values (?)",
        "REPLACE INTO t VALUES (1)",
        "UPDATE outbox SET payload = '{}'",
        "DELETE FROM reactions WHERE event_id = ?",
        "WITH due AS (SELECT 1) SELECT * FROM due",
        "CREATE UNIQUE INDEX i ON t (a)",
        "PRAGMA wal_checkpoint(TRUNCATE)",
    ]
    prose = [
        "Delete it (runs inside the caller's transaction)",
        "Select an option",
        "with the key",
        "update the profile",
        "create a room",
        "replaced",
    ]
    assert [text for text in statements if not SQL.match(text)] == []
    assert [text for text in prose if SQL.match(text)] == []


def test_literals_are_found_where_the_code_hides_them() -> None:
    source = '''
"""Module docstring: SELECT x FROM y is prose here."""
def f(db, table):
    """DELETE FROM t is prose here too."""
    db.execute("DELETE FROM t WHERE a = ?", (1,))
    db.execute(
        "SELECT a "
        "FROM t"
    )
    db.execute(f"UPDATE {table} SET a = 1")
    db.execute(f"select * from {table}")
'''
    assert sql_literals(source) == [
        (5, "DELETE FROM t WHERE a = ?"),
        (7, "SELECT a FROM t"),
        (10, "UPDATE _ SET a = 1"),
        (11, "select * from _"),
    ]
