"""Reading the staff file of `flurfunk import-staff` and checking every row.

Columns (header names in English or German, any order, case-insensitive): `matrix_id`
(required), `name`, `department` (`abteilung`), `municipality` (`kommune`), `tasks`
(`aufgaben`), `topics` (`themen`; several separated by `;` or `,` inside the cell).
UTF-8 with or without BOM; `;` or `,` as delimiter, recognised from the header line.
Every problem is reported with its line, column, what is wrong and how to fix it; rows
with problems are skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from bot.config import DirectoryConfig
from bot.domain.profile_fields import (
    FieldError,
    parse_choice,
    parse_name,
    parse_tasks,
    parse_topics,
)
from bot.services.staff_csv_checks import check_matrix_id, choice_problem, generic_problem, shown

COLUMNS = ("matrix_id", "name", "department", "municipality", "tasks", "topics")
HEADER_ALIASES: dict[str, str] = {
    "matrix_id": "matrix_id",
    "matrix-id": "matrix_id",
    "matrixid": "matrix_id",
    "mxid": "matrix_id",
    "user_id": "matrix_id",
    "name": "name",
    "anzeigename": "name",
    "department": "department",
    "abteilung": "department",
    "amt": "department",
    "municipality": "municipality",
    "kommune": "municipality",
    "tasks": "tasks",
    "aufgaben": "tasks",
    "topics": "topics",
    "themen": "topics",
}
# Profile columns each CSV column fills.
TARGET = {
    "name": "display_name",
    "department": "department",
    "municipality": "municipality",
    "tasks": "tasks",
    "topics": "topics",
}


class StaffFileError(Exception):
    """The file as a whole cannot be read (encoding, header). The message quotes the file
    with control characters escaped (it goes to a terminal)."""

    def __init__(self, message: str) -> None:
        super().__init__(shown(message))


@dataclass(frozen=True)
class RowProblem:
    """One problem of a row. `problem` and `fix` quote cells of the file: control
    characters in them are escaped here, whichever check wrote them (S-18)."""

    line: int
    column: str
    problem: str
    fix: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "problem", shown(self.problem))
        object.__setattr__(self, "fix", shown(self.fix))

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.problem} Fix: {self.fix}"


@dataclass(frozen=True)
class StaffRow:
    line: int
    user_id: str
    # Profile column -> value (None: the cell is empty) for every column the file has.
    values: dict[str, Any]


@dataclass
class ParsedStaff:
    rows: list[StaffRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    delimiter: str = ","
    bom: bool = False
    data_rows: int = 0


def decode(data: bytes) -> tuple[str, bool]:
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8-sig"), bom
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StaffFileError(
            f"line {line}: the file is not UTF-8 (byte 0x{data[exc.start]:02x}). Fix: save it as "
            "UTF-8, e.g. in Excel with 'Save as' -> 'CSV UTF-8 (comma delimited)', in "
            "LibreOffice with character set 'Unicode (UTF-8)'."
        ) from None


def sniff_delimiter(text: str) -> str:
    """`;` or `,`, whichever separates the header line (Excel in German writes `;`)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header.count(";") > header.count(",") else ","


def parse_staff_csv(data: bytes, directory: DirectoryConfig, allowed: list[str]) -> ParsedStaff:
    text, bom = decode(data)
    delimiter = sniff_delimiter(text)
    parsed = ParsedStaff(delimiter=delimiter, bom=bom)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    columns: list[str | None] = []
    seen: dict[str, int] = {}
    line = 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
            columns = [HEADER_ALIASES.get(c.strip().lower().replace(" ", "_")) for c in cells]
            unknown = [c for c, known in zip(cells, columns, strict=True) if known is None]
            if "matrix_id" not in columns:
                raise StaffFileError(
                    f"line {start}: no column matrix_id in the header ({', '.join(cells)}). "
                    f"Fix: the first line must name the columns, e.g. "
                    f"{delimiter.join(COLUMNS)}."
                )
            doubled = sorted({c for c in columns if c is not None and columns.count(c) > 1})
            if doubled:
                raise StaffFileError(
                    f"line {start}: the column(s) {', '.join(doubled)} appear twice. "
                    "Fix: keep one of each."
                )
            if unknown:
                parsed.warnings.append(
                    shown(
                        f"line {start}: ignoring unknown column(s) {', '.join(unknown)} "
                        f"(known: {', '.join(COLUMNS)})."
                    )
                )
            continue
        parsed.data_rows += 1
        row = _check_row(start, cells, header, columns, directory, allowed, seen, parsed)
        if row is not None:
            parsed.rows.append(row)
    if header is None:
        raise StaffFileError(
            f"the file is empty. Fix: the first line names the columns "
            f"({delimiter.join(COLUMNS)}), then one line per person."
        )
    return parsed


def _check_row(
    line: int,
    cells: list[str],
    header: list[str],
    columns: list[str | None],
    directory: DirectoryConfig,
    allowed: list[str],
    seen: dict[str, int],
    parsed: ParsedStaff,
) -> StaffRow | None:
    if len(cells) > len(header):
        parsed.problems.append(
            RowProblem(
                line,
                "-",
                f"{len(cells)} cells, but the header has {len(header)} columns.",
                f'put a cell that contains "{parsed.delimiter}" in double quotes, '
                f'e.g. "Wohngeld{parsed.delimiter} Kita".',
            )
        )
        return None
    cells = cells + [""] * (len(header) - len(cells))
    by_column = {c: cell.strip() for c, cell in zip(columns, cells, strict=True) if c}
    problems: list[RowProblem] = []
    user_id = check_matrix_id(by_column["matrix_id"], allowed)
    if isinstance(user_id, tuple):
        problems.append(RowProblem(line, "matrix_id", *user_id))
    elif user_id in seen:
        problems.append(
            RowProblem(
                line,
                "matrix_id",
                f"{user_id} appears already in line {seen[user_id]}.",
                "keep one line per person.",
            )
        )
    else:
        seen[user_id] = line
    values: dict[str, Any] = {}
    for column, target in TARGET.items():
        if column not in by_column:
            continue
        cell = by_column[column]
        if not cell:
            values[target] = () if column == "topics" else None
            continue
        result: Any
        if column == "department":
            result = parse_choice(cell, directory.departments, free=directory.free_departments)
        elif column == "municipality":
            result = parse_choice(
                cell, directory.municipalities, free=directory.free_municipalities
            )
        elif column == "topics":
            result = parse_topics(cell, directory.topics_max)
        elif column == "tasks":
            result = parse_tasks(cell)
        else:
            result = parse_name(cell)
        if isinstance(result, FieldError):
            if column == "department":
                problem = choice_problem(column, result, "departments", "free_departments")
            elif column == "municipality":
                problem = choice_problem(column, result, "municipalities", "free_municipalities")
            else:
                problem = generic_problem(column, result)
            problems.append(RowProblem(line, column, *problem))
        else:
            values[target] = result
    if problems:
        parsed.problems.extend(problems)
        return None
    assert isinstance(user_id, str)
    return StaffRow(line, user_id, values)
