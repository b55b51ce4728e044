"""Command line: `flurfunk run | dev | check-config | ...` (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, load_config

DEFAULT_CONFIG = Path(os.environ.get("FLURFUNK_CONFIG", "config/flurfunk.yaml"))


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    # Library loggers can include request details; keep them to warnings.
    # aiosqlite logs SQL parameters at DEBUG, which would include the stored access token.
    for noisy in (
        "nio",
        "aiohttp.access",
        "apscheduler",
        "peewee",
        "aiosqlite",
        "psycopg",
        "matplotlib",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"{args.config}: OK (bot {config.homeserver.user_id} on {config.homeserver.url})")
    message, fine = asyncio.run(check_store(config.storage.database_target))
    print(message, file=sys.stdout if fine else sys.stderr)
    return 0 if fine else 1


async def check_store(target: Path | str) -> tuple[str, bool]:
    """What `check-config` says about the store (it connects, never writes), and whether
    the bot can start on it."""
    from bot.store.db import (
        StoreUnavailable,
        describe,
        is_postgresql,
        migrations,
        schema_version_at,
    )

    where = f"store {describe(target)}"
    newest = migrations("postgresql" if is_postgresql(target) else "sqlite")[-1][0]
    try:
        found = await schema_version_at(target)
    except StoreUnavailable as exc:
        return f"store: {exc}", False
    if found is None:
        return f"{where}: empty, will be created at first start (schema {newest})", True
    if found > newest:
        return (
            f"{where}: schema {found}, newer than this Flurfunk (knows up to {newest}): "
            "upgrade Flurfunk or restore a matching backup",
            False,
        )
    later = "" if found == newest else ", migrated at the next start"
    message = f"{where}: schema {found} of {newest}{later}"
    if is_postgresql(target):
        from bot.store.postgres_backend import collation_note, read_collation

        note = collation_note(await read_collation(str(target)))
        if note is not None:
            message += f"\nwarning: {note}"
    return message, True


def cmd_example_config(args: argparse.Namespace) -> int:
    from bot.config import Config
    from bot.config.example import render_example

    print(render_example(Config), end="")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import serve

    config = load_config(args.config)
    setup_logging(config.operations.log_level)
    asyncio.run(serve(config))
    # Store, crypto store and HTTP session are closed. An embedding batch may still run in
    # a worker thread, and threads are joined at exit: seconds past Docker's patience for
    # a result nobody needs any more. Exit now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_dev(args: argparse.Namespace) -> int:
    from bot.dev import run_dev

    setup_logging("INFO")
    return run_dev(Path(args.dir), args.port, args.database)


def cmd_import_staff(args: argparse.Namespace) -> int:
    from bot.services.staff_import import import_staff_file

    config = load_config(args.config)
    setup_logging("INFO")  # the progress of encoding the imported tasks
    return asyncio.run(import_staff_file(config, args.csv, dry_run=args.dry_run))


def cmd_report(args: argparse.Namespace) -> int:
    from bot.services.report import ReportCliError, report_to_directory

    config = load_config(args.config)
    try:
        written = asyncio.run(report_to_directory(config, args.out, args.period, args.lang))
    except ReportCliError as exc:
        print(exc, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from bot.store.db import is_postgresql
    from bot.store.migrate_store import (
        CountMismatch,
        MigrateStoreError,
        format_counts,
        migrate_store,
    )
    from bot.store.postgres_backend import redacted

    config = load_config(args.config)
    if not is_postgresql(args.to):
        print("--to takes a postgresql:// URL", file=sys.stderr)
        return 2
    source = config.storage.sqlite_file
    if source is None:
        print(
            "storage.database already names a PostgreSQL database: run migrate-store with "
            "the config the bot used on SQLite, then change storage.database",
            file=sys.stderr,
        )
        return 2
    try:
        counts = migrate_store(source, args.to)
    except CountMismatch as exc:
        print(format_counts(exc.counts))
        print(exc, file=sys.stderr)
        return 1
    except MigrateStoreError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(format_counts(counts))
    target = redacted(args.to)
    print(
        f"\nCopied {source} into {target}; every table's rows are there. Next: set "
        f"`storage.database: {target}` in the config (the password in the environment "
        "variable FLURFUNK_DATABASE_PASSWORD, not in the file), run `flurfunk check-config`, "
        f"then start the bot. Keep {config.storage.crypto_dir}: the encryption keys stay on disk."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flurfunk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot with a config file")
    run.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file, list every problem")
    check.add_argument("config", type=Path, nargs="?", default=DEFAULT_CONFIG)
    check.set_defaults(func=cmd_check_config)

    example = sub.add_parser(
        "example-config",
        help="print config/flurfunk.example.yaml, generated from the key descriptions",
    )
    example.set_defaults(func=cmd_example_config)

    dev = sub.add_parser("dev", help="start a local Synapse with demo accounts and run the bot")
    dev.add_argument("--dir", default=".dev", help="where the local homeserver and bot keep data")
    dev.add_argument("--port", type=int, default=8008, help="homeserver port on 127.0.0.1")
    dev.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="where the demo bot keeps its store (postgres: a local server in DIR/postgres)",
    )
    dev.set_defaults(func=cmd_dev)
    staff = sub.add_parser(
        "import-staff",
        help="create or update staff profiles from a CSV file (nobody is enrolled or contacted)",
    )
    staff.add_argument(
        "csv", type=Path, help="columns: matrix_id, name, department, municipality, tasks, topics"
    )
    staff.add_argument(
        "--dry-run", action="store_true", help="check the file and show what would change"
    )
    staff.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG)
    staff.set_defaults(func=cmd_import_staff)
    report = sub.add_parser(
        "report",
        help="write the network report (aggregates only) as Markdown, HTML, PNG and CSV files",
    )
    report.add_argument("--out", type=Path, required=True, help="directory for the files")
    report.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG)
    report.add_argument(
        "--period",
        default=None,
        help="30 (days), 2026-11, monat, quartal, 2026-Q3, jahr, 2026 (default: last 30 days)",
    )
    report.add_argument(
        "--lang", choices=("de", "en"), default=None, help="default: bot.default_language"
    )
    report.set_defaults(func=cmd_report)
    migrate = sub.add_parser(
        "migrate-store",
        help="copy the SQLite store (storage.data_dir) into an empty PostgreSQL database; "
        "stop the bot first",
    )
    migrate.add_argument(
        "--to",
        required=True,
        help="postgresql://user@host/db (password from FLURFUNK_DATABASE_PASSWORD or the URL)",
    )
    migrate.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG)
    migrate.set_defaults(func=cmd_migrate_store)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Every subcommand that reads the config fails the same way: the problems, exit code 2.
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
