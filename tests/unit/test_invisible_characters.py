"""Invisible characters that some clients and copies from web pages leave in a message
(zero-width space, non-joiner and joiner, word joiner, byte order mark) change nothing
about a command, wherever its text is parsed: in an argument word after the command and
subcommand word, and in read-only mode, which parses commands itself to answer crisis
requests with the formal path (there also a reply's quote before the command). The
command word itself: tests/security/test_command_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.chat.health import Metrics
from bot.chat.readonly import ReadOnlyMode
from tests.support.chat_fakes import connect, fast_config
from tests.support.harness import CRISIS, STAFF, Harness, dm


@pytest.mark.parametrize("line", ["!kaffee pause \u200b2", "!kaffee pause 2\u2060"])
async def test_a_number_with_an_invisible_character_is_a_number(tmp_path: Path, line: str) -> None:
    async with Harness.open(tmp_path) as bot:
        [reply] = await bot.say(STAFF, dm(STAFF), line)
    assert "Die Kaffeerunde pausiert für Sie bis" in reply.body, reply.body


@pytest.mark.parametrize("hidden", ["\u200b", "\u200c\u200d", "\ufeff"])
async def test_an_id_with_an_invisible_character_is_found(tmp_path: Path, hidden: str) -> None:
    async with Harness.open(tmp_path) as bot:
        [added] = await bot.say(STAFF, dm(STAFF), "!kontakt Tafel Pirna, Soziale Träger")
        found = re.search(r"K-[0-9A-Z]{4}", added.body)
        assert found, added.body
        contact = found.group(0)
        typed = contact[:2] + hidden + contact[2:]
        [reply] = await bot.say(STAFF, dm(STAFF), f"!kontakt löschen {typed}")
    assert f"Kontakt {contact} ist gelöscht" in reply.body, reply.body


@pytest.mark.parametrize(
    "line",
    [
        "!wer\u200bkennt jemand beim THW",
        "\ufeff!werkennt beim THW",
        # Sent as a reply: the client quotes the message replied to before the command.
        "> <@lage:rathaus.example> Wer hat Kontakt zum THW?\n\n!werkennt beim THW",
    ],
)
async def test_a_crisis_request_in_read_only_mode_gets_the_formal_path(
    tmp_path: Path, line: str
) -> None:
    """The store cannot be written: the crisis staff's request is not carried out, and the
    notice names the formal path (the config's fallback), as for a request typed cleanly."""
    async with Harness.open(tmp_path, fast_config()) as bot:
        home = connect(bot)
        bot.dispatcher.readonly = ReadOnlyMode(
            home, bot.config, bot.db, bot.direct, bot.messenger.language_of, Metrics()
        )
        await bot.db.conn.execute("PRAGMA query_only = ON")  # SQLITE_READONLY on every write
        assert await bot.say(CRISIS, dm(CRISIS), line) == []
    [(_, notice, _)] = home.sent
    assert "Lesemodus" in notice["body"]
    assert bot.config.crisis.fallback_de in notice["body"], notice["body"]
