"""The store's SQL text, parameters and rows between the repositories and psycopg.

The repositories write one SQL text for both backends, with SQLite's `?` placeholders.
psycopg uses `%s` and reads every `%` of the text as the start of a placeholder, also
inside string literals, so a literal `%` must be doubled. Rows come back as `PgRow`,
which behaves like `sqlite3.Row`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, overload

from psycopg import AsyncCursor


# The store has a few hundred distinct statements: each is translated once, not on every
# execution (uncached, translating took 2.1 of 39 s in the 50,000-person round).
@lru_cache(maxsize=2048)
def to_psycopg(sql: str) -> str:
    """`?` outside string literals, quoted identifiers and comments becomes `%s`; every
    `%` becomes `%%`. A `?` inside a literal or comment stays a question mark."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = _quoted_end(sql, i)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        else:
            out.append("%s" if char == "?" else "%%" if char == "%" else char)
            i += 1
    return "".join(out)


def _quoted_end(sql: str, start: int) -> int:
    """The index just past the literal or identifier opened at `start`; a doubled quote
    (`'it''s'`) is part of it. An unterminated one runs to the end: the server rejects it."""
    quote = sql[start]
    i = start + 1
    while True:
        i = sql.find(quote, i)
        if i < 0:
            return len(sql)
        if sql.startswith(quote * 2, i):
            i += 2
            continue
        return i + 1


def to_params(params: Iterable[Any]) -> tuple[Any, ...]:
    """Parameters for psycopg: `bool` becomes `int`, because the flag columns are
    integers (0/1) on both backends and PostgreSQL does not compare integer with boolean;
    a text loses its NUL characters, which PostgreSQL cannot store in text (psycopg would
    refuse the statement, and a message someone sent with one would fail as a whole);
    everything else passes unchanged."""
    return tuple(_param(p) for p in params)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


class PgRow:
    """A row as `sqlite3.Row` is one: by column name, case-insensitively (PostgreSQL folds
    unquoted aliases to lower case: `AS firstSeen` comes back as `firstseen`), or by
    position; iterating gives the values; `keys()` the column names."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: list[str], index: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._index = index
        self._values = tuple(values)

    @overload
    def __getitem__(self, key: int | str, /) -> Any: ...

    @overload
    def __getitem__(self, key: slice, /) -> tuple[Any, ...]: ...

    def __getitem__(self, key: int | str | slice, /) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key.lower()]]
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PgRow):
            return NotImplemented
        return self._names == other._names and self._values == other._values

    def __hash__(self) -> int:
        return hash((tuple(self._names), self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def pg_row(cursor: AsyncCursor[Any]) -> Callable[[Sequence[Any]], PgRow]:
    """psycopg row factory for `PgRow`: the column names are looked up once per result."""
    names = [column.name for column in cursor.description or ()]
    # The first of two equal names wins, as in sqlite3.Row.
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name.lower(), position)
    return lambda values: PgRow(names, index, values)
