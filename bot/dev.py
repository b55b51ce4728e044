"""`flurfunk dev` (what `make run` calls): a local Synapse with demo accounts and the bot.

Everything lives under one directory (default `.dev/`), so a second start reuses the
same homeserver, accounts, rooms and bot device. Ctrl-C stops the bot, then Synapse.
With ``database="postgres"`` (`make run DATABASE=postgres`) the bot's store is a database
on a local PostgreSQL cluster in `.dev/postgres/`, kept between runs like the homeserver.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

import yaml

from bot.config import load_config
from bot.devpostgres import LocalPostgres
from bot.devserver import LocalSynapse

DEMO_PASSWORD = "flurfunk-demo"
# (localpart, display name, admin of the bot, crisis staff)
DEMO_USERS = (
    ("anna", "Anna Admin", True, True),
    ("ben", "Ben Bürgeramt", False, False),
    ("clara", "Clara Jugendamt", False, False),
    ("deniz", "Deniz Digitalisierung", False, False),
)


def _local_secret(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _dev_config(
    base: Path, synapse: LocalSynapse, bot_password: str, database_url: str | None
) -> Path:
    path = base / "flurfunk.yaml"
    users = {name: f"@{name}:{synapse.server_name}" for name, *_ in DEMO_USERS}
    storage = {"data_dir": str(base / "bot")}
    if database_url is not None:
        storage["database"] = database_url
    config = {
        "homeserver": {
            "url": synapse.url,
            "user_id": f"@flurfunk:{synapse.server_name}",
            "password": bot_password,
            "allowed_homeservers": [synapse.server_name],
            # Lets the bot cross-sign its device, so Element trusts it.
            "key_encryption_secret": _local_secret(base / "key-secret"),
        },
        "storage": storage,
        "bot": {"admins": [users[n] for n, _, admin, _ in DEMO_USERS if admin]},
        "crisis": {"staff": [users[n] for n, _, _, crisis in DEMO_USERS if crisis]},
        "operations": {"http_port": 9108},
    }
    path.write_text(
        "# Written by `flurfunk dev` for the local demo homeserver.\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


def _banner(synapse: LocalSynapse, database_url: str | None) -> str:
    lines = [
        "",
        "Flurfunk is starting against a local Synapse.",
        f"  Homeserver URL: {synapse.url}   (server name: {synapse.server_name})",
        f"  Bot:            @flurfunk:{synapse.server_name}",
        f"  Store:          {database_url or 'SQLite (flurfunk.db in the bot directory)'}",
        f"  Demo logins (password for all: {DEMO_PASSWORD}):",
    ]
    for name, display, admin, crisis in DEMO_USERS:
        roles = ", ".join(r for r, on in (("admin", admin), ("crisis staff", crisis)) if on)
        lines.append(
            f"    @{name}:{synapse.server_name:<20} {display}{f'  ({roles})' if roles else ''}"
        )
    lines += [
        "  In Element (or any Matrix client): sign in on the homeserver URL above, start a",
        f"  direct chat with @flurfunk:{synapse.server_name} and send !hilfe.",
        "  Health: http://127.0.0.1:9108/healthz   Stop: Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def run_dev(base: Path, port: int, database: str = "sqlite") -> int:
    from bot.app import serve

    base.mkdir(parents=True, exist_ok=True)
    bot_password = _local_secret(base / "bot-password")
    # Left in reverse order: the bot stops first, then Synapse, then PostgreSQL.
    with contextlib.ExitStack() as stack:
        database_url = None
        if database == "postgres":
            postgres = stack.enter_context(LocalPostgres(base / "postgres"))
            database_url = postgres.ensure_database("flurfunk")
        synapse = stack.enter_context(LocalSynapse(base / "synapse", port, ram_database=False))
        synapse.register_user("flurfunk", bot_password, displayname="Flurfunk")
        for name, display, _, _ in DEMO_USERS:
            synapse.register_user(name, DEMO_PASSWORD, displayname=display)
        config = load_config(_dev_config(base, synapse, bot_password, database_url))
        print(_banner(synapse, database_url), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config))
    return 0
