"""Reading a row into its row type by column name, as maubot's `from_row` does.

A SELECT names its columns (with `AS` where a join would repeat a name) after the fields
of the row type; `from_row` reads each field from the column of the same name, so adding
a column or reordering a SELECT cannot shift values into the wrong field. A missing column
fails loudly (`IndexError: No item with that key`) instead of filling a default.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from bot.store.db import Row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def from_row(cls: type[T], row: Row, **converted: Any) -> T:
    """`cls` with every field read from the row's column of the same name, except those
    given in `converted` (dates, JSON, flags built from the raw columns by the caller)."""
    values = {field.name: row[field.name] for field in fields(cls) if field.name not in converted}
    return cls(**values, **converted)
