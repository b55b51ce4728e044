"""`flurfunk import-staff staff.csv [--dry-run]`: operators load staff profiles.

The file format and its checks are in `bot.services.staff_csv`.

The import is an idempotent upsert: running the same file twice changes nothing the
second time. Imported people are not enrolled in anything (coffee off, never contacted)
until they confirm themselves in chat. A profile the person already manages in chat is
never overwritten; the file only fills its empty fields. Every problem is reported with
its line, column, what is wrong and how to fix it; rows with problems are skipped.

The import may run while the bot runs (review finding S-08): it writes in short
transactions of `BATCH_ROWS` rows with a pause between them, so the bot's own writes get
SQLite's lock in between; the dry run only reads and takes no write lock at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.domain.profile import Profile
from bot.services.encoder import load_encoder
from bot.services.profile_vectors import profile_source
from bot.services.staff_csv import StaffFileError, StaffRow, parse_staff_csv
from bot.services.vectors import VectorService
from bot.store.db import Database
from bot.store.profiles import ProfileRepository

# Rows per write transaction: about 0.15 s of holding the lock.
BATCH_ROWS = 200
# Between two batches the lock is free this long, longer than the 100 ms SQLite's busy
# handler sleeps between its tries, so a waiting bot takes it.
BATCH_PAUSE_S = 0.15


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Of `updated`: profiles the person manages themselves, where only empty fields were filled.
    filled_only: int = 0


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
    db: Database,
    rows: list[StaffRow],
    now: datetime,
    *,
    dry_run: bool,
    batch_rows: int = BATCH_ROWS,
    pause_s: float = BATCH_PAUSE_S,
) -> ImportSummary:
    """Upsert `rows`. Each batch of `batch_rows` is one transaction (a crash keeps the
    batches before it; running the file again completes it, the import is idempotent).
    A dry run reads only, outside any transaction."""
    repo = ProfileRepository(db)
    summary = ImportSummary()
    for start in range(0, len(rows), batch_rows):
        batch = rows[start : start + batch_rows]
        if dry_run:
            for row in batch:
                await _import_row(repo, row, now, summary, write=False)
            continue
        if start:
            await asyncio.sleep(pause_s)  # let the running bot in
        async with db.transaction("staff_import.apply_import"):
            for row in batch:
                await _import_row(repo, row, now, summary, write=True)
    return summary


async def _import_row(
    repo: ProfileRepository, row: StaffRow, now: datetime, summary: ImportSummary, *, write: bool
) -> None:
    existing = await repo.get(row.user_id)
    changes = changes_for(existing, row)
    if existing is None:
        summary.created += 1
    elif not changes:
        summary.unchanged += 1
        return
    else:
        summary.updated += 1
        if existing.confirmed:
            summary.filled_only += 1
    if not write:
        return
    if existing is None:
        await repo.create(row.user_id, now, source="import", confirmed=False)
    await repo.update(row.user_id, now, **changes)


async def encode_profiles(config: Config, db: Database, out: Callable[[str], None]) -> None:
    """Compute the vectors of the imported tasks now (progress and time left on the console),
    so the first round after an import compares meaning for everyone."""
    encoder = load_encoder(config.semantics.threads) if config.semantics.enabled else None
    if encoder is None:
        out("Tasks are compared by words only (the embedding model is off or unavailable).")
        return
    vectors = VectorService(db, encoder)
    vectors.add_source(profile_source(ProfileRepository(db)))
    encoded = await vectors.refresh()
    out(f"Vectors for the similarity search computed for {encoded} profile(s).")


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
    db = Database(config.storage.database_target)
    await db.open()
    try:
        if (store_file := config.storage.sqlite_file) is not None:
            store_file.chmod(0o600)
        summary = await apply_import(db, parsed.rows, datetime.now(UTC), dry_run=dry_run)
        if not dry_run and (summary.created or summary.updated):
            await encode_profiles(config, db, out)
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
