"""`flurfunk import-staff`: broken rows, encodings, delimiters, dry run, idempotence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.__main__ import main
from bot.config import Config
from bot.services.staff_csv import StaffFileError, StaffRow, parse_staff_csv, sniff_delimiter
from bot.services.staff_import import apply_import, import_staff_file
from bot.store.bot_state import BotState
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.config import directory_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVER = "rathaus.example"

GOOD = (
    "matrix_id;name;department;municipality;tasks;topics\n"
    "@anna:rathaus.example;Anna Amsel;Gesundheitsamt;Musterstadt;"
    'Ich koordiniere Impfaktionen;"Impfen; Infektionsschutz"\n'
)

BROKEN = """\
matrix_id;name;department;municipality;tasks;topics
@anna:rathaus.example;Anna Amsel;Gesundheitsamt;Musterstadt;Impfaktionen;"Impfen, Infektionsschutz"
bernd@rathaus.example;Bernd Bach;Ordnungsamt;Musterstadt;Gewerbe;Gewerbe
@Carla:rathaus.example;Carla;Jugendamt;Musterstadt;Kita;Kita
@dora:fremd.example;Dora;Jugendamt;Musterstadt;Kita;Kita
@emil:rathaus.example;Emil;Gesundhetsamt;Musterstadt;Hygiene;Hygiene
@anna:rathaus.example;Anna doppelt;Gesundheitsamt;Musterstadt;Impfen;Impfen
@fritz:rathaus.example;Fritz;Sozialamt;Musterstadt;Wohngeld;Wohngeld;Kita;zu viel
@gina:rathaus.example;Gina;Sozialamt;Musterstadt;Wohngeld;a1, a2, a3, a4
;Ohne ID;Sozialamt;Musterstadt;Wohngeld;Wohngeld

@hans:rathaus.example;Hans Hase;Sozialamt;Beispieldorf;"Grundsicherung;
mehrzeilig";Grundsicherung
"""


def config(tmp_path: Path) -> Config:
    base = directory_config(topics_max=3)
    return base.model_copy(
        update={"storage": base.storage.model_copy(update={"data_dir": tmp_path / "data"})}
    )


def test_delimiter_is_taken_from_the_header() -> None:
    assert sniff_delimiter("matrix_id;name;topics\n@a:b;A, B;x,y\n") == ";"
    assert sniff_delimiter('\nmatrix_id,name,topics\n@a:b,"A; B",x\n') == ","


def test_broken_rows_are_reported_with_line_column_and_fix(tmp_path: Path) -> None:
    parsed = parse_staff_csv(BROKEN.encode(), config(tmp_path).directory, [SERVER])
    assert parsed.delimiter == ";" and not parsed.bom
    assert [row.user_id for row in parsed.rows] == [
        "@anna:rathaus.example",
        "@hans:rathaus.example",
    ]
    hans = parsed.rows[1]
    assert hans.line == 12 and hans.values["tasks"] == "Grundsicherung; mehrzeilig"
    problems = {(p.line, p.column): p for p in parsed.problems}
    assert set(problems) == {
        (3, "matrix_id"),
        (4, "matrix_id"),
        (5, "matrix_id"),
        (6, "department"),
        (7, "matrix_id"),
        (8, "-"),
        (9, "topics"),
        (10, "matrix_id"),
    }
    assert "e-mail" in problems[3, "matrix_id"].problem
    assert "@bernd:rathaus.example" in problems[3, "matrix_id"].fix
    assert "lowercase" in problems[4, "matrix_id"].problem
    assert "@carla:rathaus.example" in problems[4, "matrix_id"].fix
    assert "allowed_homeservers" in problems[5, "matrix_id"].problem
    assert '"Gesundheitsamt"' in problems[6, "department"].problem
    assert "directory.departments" in problems[6, "department"].fix
    assert "line 2" in problems[7, "matrix_id"].problem
    assert "double quotes" in problems[8, "-"].fix
    assert "at most 3" in problems[9, "topics"].problem
    assert "missing" in problems[10, "matrix_id"].problem
    for problem in parsed.problems:
        assert str(problem).startswith(f"line {problem.line}, column {problem.column}: ")
        assert "Fix: " in str(problem)


def test_bom_comma_german_headers_and_unknown_columns(tmp_path: Path) -> None:
    data = (
        "\ufeffMatrix_ID,Name,Abteilung,Kommune,Aufgaben,Themen,Telefon\n"
        '@anna:rathaus.example,Anna,gesundheitsamt,Musterstadt,Impfen,"Impfen; Hygiene",0123\n'
    ).encode()
    parsed = parse_staff_csv(data, config(tmp_path).directory, [SERVER])
    assert parsed.bom and parsed.delimiter == "," and not parsed.problems
    assert parsed.rows[0].values["department"] == "Gesundheitsamt"
    assert parsed.rows[0].values["topics"] == ("Impfen", "Hygiene")
    assert any("Telefon" in w for w in parsed.warnings)


def test_unreadable_files(tmp_path: Path) -> None:
    directory = config(tmp_path).directory
    with pytest.raises(StaffFileError, match=r"line 2: the file is not UTF-8.*CSV UTF-8"):
        parse_staff_csv("matrix_id;name\n@anna:rathaus.example;Jürgen\n".encode("cp1252"),
                        directory, [SERVER])  # fmt: skip
    with pytest.raises(StaffFileError, match="no column matrix_id"):
        parse_staff_csv(b"id;name\n@a:rathaus.example;A\n", directory, [SERVER])
    with pytest.raises(StaffFileError, match="empty"):
        parse_staff_csv(b"\n\n", directory, [SERVER])


async def test_upsert_is_idempotent_and_enrols_nobody(db: Database, tmp_path: Path) -> None:
    directory = config(tmp_path).directory
    rows = parse_staff_csv(GOOD.encode(), directory, [SERVER]).rows
    dry = await apply_import(db, rows, NOW, dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged) == (1, 0, 0)
    assert await ProfileRepository(db).count() == 0  # the dry run wrote nothing
    first = await apply_import(db, rows, NOW, dry_run=False)
    assert (first.created, first.updated, first.unchanged) == (1, 0, 0)
    second = await apply_import(db, rows, NOW, dry_run=False)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 1)
    anna = await ProfileRepository(db).get("@anna:rathaus.example")
    assert anna is not None
    assert anna.source == "import" and not anna.confirmed and not anna.coffee
    assert anna.display_name == "Anna Amsel" and anna.topics == ("Impfen", "Infektionsschutz")
    assert await ProfileRepository(db).eligible_for_coffee(NOW) == []
    assert await ProfileRepository(db).all_active() == []
    # A changed file updates the imported profile; an empty cell clears the field.
    changed = GOOD.replace("Ich koordiniere Impfaktionen", "").replace(
        "Musterstadt", "Beispieldorf"
    )
    rows = parse_staff_csv(changed.encode(), directory, [SERVER]).rows
    third = await apply_import(db, rows, NOW, dry_run=False)
    assert third.updated == 1
    anna = await ProfileRepository(db).get("@anna:rathaus.example")
    assert anna is not None and anna.tasks is None and anna.municipality == "Beispieldorf"


async def test_profiles_people_manage_themselves_are_only_filled(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create("@anna:rathaus.example", NOW, confirmed=True)
    await repo.update("@anna:rathaus.example", NOW, department="Jugendamt", coffee=True)
    rows = parse_staff_csv(GOOD.encode(), directory_config().directory, [SERVER]).rows
    summary = await apply_import(db, rows, NOW, dry_run=False)
    assert summary.updated == 1 and summary.filled_only == 1
    anna = await repo.get("@anna:rathaus.example")
    assert anna is not None
    assert anna.department == "Jugendamt"  # hers, kept
    assert anna.municipality == "Musterstadt"  # was empty, filled
    assert anna.coffee and anna.confirmed and anna.source == "chat"


async def test_report_and_exit_codes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    lines: list[str] = []
    staff = tmp_path / "staff.csv"
    staff.write_text(BROKEN, encoding="utf-8")
    assert await import_staff_file(cfg, staff, dry_run=True, out=lines.append) == 1
    report = "\n".join(lines)
    assert "10 rows, delimiter ';', UTF-8." in report
    assert "line 6, column department:" in report
    assert "Dry run, nothing written. 2 would be created" in report
    assert "8 row(s) skipped" in report
    lines.clear()
    assert (
        await import_staff_file(cfg, tmp_path / "missing.csv", dry_run=False, out=lines.append) == 2
    )


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the real command line, with a config file."""
    config_file = tmp_path / "flurfunk.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "homeserver": {
                    "url": "http://127.0.0.1:8008",
                    "user_id": "@flurfunk:rathaus.example",
                    "password": "secret",
                    "allowed_homeservers": [SERVER],
                },
                "storage": {"data_dir": str(tmp_path / "cli-data")},
            }
        ),
        encoding="utf-8",
    )
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8-sig")
    assert main(["import-staff", str(good), "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "UTF-8 with BOM" in out and "Done. 1 created" in out
    assert main(["import-staff", str(good), "--dry-run", "-c", str(config_file)]) == 0
    assert "0 would be created, 0 would be updated, 1 unchanged" in capsys.readouterr().out
    broken = tmp_path / "broken.csv"
    broken.write_text(BROKEN, encoding="utf-8")
    assert main(["import-staff", str(broken), "-c", str(config_file)]) == 1
    assert main(["import-staff", str(tmp_path / "nope.csv"), "-c", str(config_file)]) == 2


def many_rows(tmp_path: Path, count: int) -> list[StaffRow]:
    lines = ["matrix_id;name;department;municipality;tasks;topics"]
    lines += [
        f"@person{i}:rathaus.example;Person {i};Sozialamt;Musterstadt;Wohngeld {i};Wohngeld"
        for i in range(count)
    ]
    parsed = parse_staff_csv("\n".join(lines).encode(), config(tmp_path).directory, [SERVER])
    assert not parsed.problems and len(parsed.rows) == count
    return parsed.rows


async def test_the_bot_can_write_while_a_big_import_runs(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S-08: the import writes in short transactions, so the running bot (a second
    connection to the same file, waiting at most 200 ms per attempt) stores its sync
    token while the import is still running, instead of `database is locked`."""
    rows = many_rows(tmp_path, 2000)
    writing = asyncio.Event()  # the import is inside its first write transaction
    create = ProfileRepository.create

    async def create_and_tell(repo: ProfileRepository, *args: Any, **kwargs: Any) -> Any:
        writing.set()
        return await create(repo, *args, **kwargs)

    monkeypatch.setattr(ProfileRepository, "create", create_and_tell)
    bot = Database(db.path, busy_timeout_ms=200)  # SQLite's wait per attempt
    await bot.open()
    try:
        importing = asyncio.create_task(apply_import(db, rows, NOW, dry_run=False))
        await writing.wait()
        await BotState(bot).set("next_batch", "s1")
        assert not importing.done(), "the bot had to wait for the whole import"
        assert await BotState(bot).get("next_batch") == "s1"
        summary = await importing
    finally:
        await bot.close()
    assert summary.created == 2000
    assert await ProfileRepository(db).count() == 2000


async def test_a_dry_run_takes_no_write_lock(db: Database, tmp_path: Path) -> None:
    """S-08: `import-staff --dry-run` only reads: it runs to the end while another process
    (the bot) holds the write lock, and the bot is never kept waiting by it."""
    rows = many_rows(tmp_path, 50)
    if db.dialect == "sqlite":  # a wait for the lock fails fast (PostgreSQL: busy_retry_s)
        await db.conn.execute("PRAGMA busy_timeout = 100")
    db.busy_retry_s = 1.0
    bot = Database(db.path)
    await bot.open()
    taken, done = asyncio.Event(), asyncio.Event()

    async def bot_holds_the_lock() -> None:  # its own task: its own transaction context
        async with bot.transaction("test") as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('held', '1')")
            taken.set()
            await done.wait()

    holder = asyncio.create_task(bot_holds_the_lock())
    try:
        await taken.wait()
        summary = await apply_import(db, rows, NOW, dry_run=True)
    finally:
        done.set()
        await holder
        await bot.close()
    assert summary.created == 50
    assert await ProfileRepository(db).count() == 0
