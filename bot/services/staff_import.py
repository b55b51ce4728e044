"""`flurfunk import-staff staff.csv [--dry-run]`: operators load staff profiles.

Columns (header names in English or German, any order, case-insensitive): `matrix_id`
(required), `name`, `department` (`abteilung`), `municipality` (`kommune`), `tasks`
(`aufgaben`), `topics` (`themen`; several separated by `;` or `,` inside the cell).
UTF-8 with or without BOM; `;` or `,` as delimiter, recognised from the header line.

The import is an idempotent upsert: running the same file twice changes nothing the
second time. Imported people are not enrolled in anything (coffee off, never contacted)
until they confirm themselves in chat. A profile the person already manages in chat is
never overwritten; the file only fills its empty fields. Every problem is reported with
its line, column, what is wrong and how to fix it; rows with problems are skipped.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Config, DirectoryConfig
from bot.domain.profile import (
    FieldError,
    FieldErrorCode,
    Profile,
    parse_choice,
    parse_name,
    parse_tasks,
    parse_topics,
)
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

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
_MATRIX_ID = re.compile(
    r"^@([^:\s]+):([A-Za-z0-9.\-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?)$"
)
_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[A-Za-z]{2,}$")


class StaffFileError(Exception):
    """The file as a whole cannot be read (encoding, header)."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    problem: str
    fix: str

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


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Of `updated`: profiles the person manages themselves, where only empty fields were filled.
    filled_only: int = 0


# -- reading and checking ------------------------------------------------------------------


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


def check_matrix_id(raw: str, allowed: list[str]) -> str | tuple[str, str]:
    """The Matrix ID, or (problem, fix)."""
    value = raw.strip()
    example = f"@alice:{allowed[0] if allowed else 'rathaus.example'}"
    if not value:
        return "the Matrix ID is missing.", f"write the person's Matrix ID, e.g. {example}."
    if _EMAIL.match(value):
        local, _, domain = value.partition("@")
        return (
            f'"{value}" looks like an e-mail address, not a Matrix ID.',
            f"write the Matrix ID, e.g. @{local.lower()}:{domain.lower()} "
            f"(as shown in Element under Settings -> Account).",
        )
    if not value.startswith("@"):
        return (
            f'"{value}" does not start with "@".',
            f"write it as @name:server, e.g. {example}.",
        )
    match = _MATRIX_ID.match(value)
    if match is None:
        return (
            f'"{value}" is not a Matrix ID.',
            f"write it as @name:server without spaces, e.g. {example}.",
        )
    local, server = match.group(1), match.group(2)
    if not _LOCALPART.match(local):
        if _LOCALPART.match(local.lower()):
            return (
                f'"{value}" has capital letters; Matrix IDs are lowercase.',
                f"write @{local.lower()}:{server}.",
            )
        return (
            f'"{value}" contains characters a Matrix ID cannot have.',
            "use only a-z, 0-9 and . _ = - / + before the colon.",
        )
    if allowed and server.lower() not in {a.lower() for a in allowed}:
        return (
            f'the homeserver "{server}" is not in homeserver.allowed_homeservers '
            f"({', '.join(allowed)}).",
            "correct the server part, or add the server to homeserver.allowed_homeservers "
            "in the config.",
        )
    return f"@{local}:{server.lower()}"


def _choice_problem(column: str, error: FieldError, key: str, free_key: str) -> tuple[str, str]:
    given = error.fragment
    listed = ", ".join(f'"{s}"' for s in error.suggestions)
    if error.code is FieldErrorCode.DID_YOU_MEAN:
        return (
            f'"{given}" is not in directory.{key}; did you mean {listed}?',
            f'correct the cell, or add "{given}" to directory.{key} in the config.',
        )
    if error.code is FieldErrorCode.NOT_IN_LIST:
        return (
            f'"{given}" is not in directory.{key} and free text is off '
            f"(directory.{free_key}: false). Close entries: {listed or '-'}.",
            f"use an entry of directory.{key}, or add this one there.",
        )
    return _generic_problem(column, error)


def _generic_problem(column: str, error: FieldError) -> tuple[str, str]:
    if error.code is FieldErrorCode.TOO_LONG:
        return (
            f"the text is longer than {error.limit} characters.",
            f"shorten it to at most {error.limit} characters.",
        )
    if error.code is FieldErrorCode.TOO_MANY:
        return (
            f"{error.fragment} topics, at most {error.limit} are allowed (directory.topics_max).",
            f"keep the {error.limit} most important ones.",
        )
    if error.code is FieldErrorCode.TOPIC_TOO_LONG:
        return (
            f'the topic "{error.fragment}" is longer than {error.limit} characters.',
            'topics are short keywords; separate several with ";" or "," inside the cell.',
        )
    if error.code is FieldErrorCode.TOPIC_TOO_SHORT:
        return (
            f'the topic "{error.fragment}" is shorter than {error.limit} characters.',
            "write the topic out, or remove it.",
        )
    return f"the value is not valid ({error.code.value}).", "correct the cell."


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
                    f"line {start}: ignoring unknown column(s) {', '.join(unknown)} "
                    f"(known: {', '.join(COLUMNS)})."
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
                problem = _choice_problem(column, result, "departments", "free_departments")
            elif column == "municipality":
                problem = _choice_problem(column, result, "municipalities", "free_municipalities")
            else:
                problem = _generic_problem(column, result)
            problems.append(RowProblem(line, column, *problem))
        else:
            values[target] = result
    if problems:
        parsed.problems.extend(problems)
        return None
    assert isinstance(user_id, str)
    return StaffRow(line, user_id, values)


# -- writing -------------------------------------------------------------------------------


def changes_for(existing: Profile | None, row: StaffRow) -> dict[str, Any]:
    """What the row changes. A profile the person manages: only its empty fields."""
    if existing is None:
        return {k: v for k, v in row.values.items() if v not in (None, ())}
    changes: dict[str, Any] = {}
    for column, value in row.values.items():
        current = getattr(existing, column)
        if existing.confirmed:
            if current in (None, ()) and value not in (None, ()):
                changes[column] = value
        elif current != value:
            changes[column] = value
    return changes


async def apply_import(
    db: Database, rows: list[StaffRow], now: datetime, *, dry_run: bool
) -> ImportSummary:
    repo = ProfileRepository(db)
    summary = ImportSummary()
    async with db.transaction():
        for row in rows:
            existing = await repo.get(row.user_id)
            changes = changes_for(existing, row)
            if existing is None:
                summary.created += 1
            elif not changes:
                summary.unchanged += 1
                continue
            else:
                summary.updated += 1
                if existing.confirmed:
                    summary.filled_only += 1
            if dry_run:
                continue
            if existing is None:
                await repo.create(row.user_id, now, source="import", confirmed=False)
            await repo.update(row.user_id, now, **changes)
    return summary


async def import_staff_file(
    config: Config, path: Path, *, dry_run: bool, out: Callable[[str], None] = print
) -> int:
    """Run the import; returns the process exit code (0 ok, 1 rows skipped, 2 unusable)."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        out(f"{path}: cannot read the file: {exc.strerror}")
        return 2
    try:
        parsed = parse_staff_csv(data, config.directory, config.homeserver.allowed_homeservers)
    except StaffFileError as exc:
        out(f"{path}: {exc}")
        return 2
    encoding = "UTF-8 with BOM" if parsed.bom else "UTF-8"
    out(f"{path}: {parsed.data_rows} rows, delimiter '{parsed.delimiter}', {encoding}.")
    for warning in parsed.warnings:
        out(f"  note: {warning}")
    for problem in parsed.problems:
        out(f"  {problem}")
    db = Database(config.storage.database)
    await db.open()
    try:
        config.storage.database.chmod(0o600)
        summary = await apply_import(db, parsed.rows, datetime.now(UTC), dry_run=dry_run)
    finally:
        await db.close()
    skipped = len({p.line for p in parsed.problems})
    verb = "would be " if dry_run else ""
    out(
        ("Dry run, nothing written. " if dry_run else "Done. ")
        + f"{summary.created} {verb}created, {summary.updated} {verb}updated"
        + (
            f" ({summary.filled_only} of them only in empty fields: those people manage "
            "their profile themselves)"
            if summary.filled_only
            else ""
        )
        + f", {summary.unchanged} unchanged, {skipped} row(s) skipped because of problems."
    )
    if not dry_run and summary.created:
        out(
            "Imported people take part in nothing and are not contacted until they confirm "
            "themselves in chat (!start or !kaffee an)."
        )
    return 1 if parsed.problems else 0
