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
    for noisy in ("nio", "aiohttp.access", "apscheduler", "peewee", "aiosqlite", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"{args.config}: OK (bot {config.homeserver.user_id} on {config.homeserver.url})")
    return 0


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
    return run_dev(Path(args.dir), args.port)


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
