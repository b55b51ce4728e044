"""Command errors that always say how (issue #15), tried as a new user would, through the
dispatcher with the real registry and handlers; plus the general rules every command keeps:
each argument error shows the command's usage and a `!hilfe` topic that `!hilfe` knows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.commands.help import topic_command
from bot.commands.registry import REGISTRY, ArgumentError, Command
from bot.i18n import Lang
from tests.support.command_table import commands
from tests.support.harness import ADMIN, CRISIS, CRISIS_ROOM, STAFF, Harness, dm

HELP_TOPIC = "mehr mit !hilfe "


async def _one(bot: Harness, sender: str, text: str, room: str | None = None) -> str:
    replies = await bot.say(sender, room or dm(sender), text)
    assert len(replies) == 1, [r.body for r in replies]
    return replies[0].body


def _topic_of(body: str) -> str:
    assert HELP_TOPIC in body, body
    return body.split(HELP_TOPIC, 1)[1].rstrip(".")


@pytest.mark.parametrize(
    ("topic", "usage"),
    [
        ("kaffee pause", "!kaffee pause <wochen>"),
        ("hospitation teilnehmen", "!hospitation teilnehmen <id>"),
        ("!admin runde", "!admin runde [probe]"),
    ],
)
async def test_help_explains_a_subcommand(tmp_path: Path, topic: str, usage: str) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, ADMIN, f"!hilfe {topic}")
    assert body.startswith(usage), body
    assert "kenne ich keinen Befehl" not in body


async def test_help_on_an_unknown_subcommand_says_so(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, "!hilfe kaffee vielleicht")
    assert "Zu »kaffee vielleicht« kenne ich keinen Befehl" in body


async def test_a_subcommand_error_points_to_its_own_help(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, "!kaffee pause")
        topic = _topic_of(body)
        assert topic == "kaffee pause"
        explained = await _one(bot, STAFF, f"!hilfe {topic}")
    assert "<wochen>" in body and "Da fehlt noch eine Angabe" in body
    assert explained.startswith("!kaffee pause <wochen>")


async def test_a_wrong_word_names_the_allowed_ones(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, "!kaffee vielleicht")
        english = await _one(bot, STAFF, "!coffee maybe")
    assert "»vielleicht«" in body
    assert "`!kaffee [an|aus|pause]`" in body or "!kaffee [an|aus|pause]" in body
    assert _topic_of(body) == "kaffee"
    assert "»maybe«" in english and "on, off, pause" in english


async def test_a_wrong_number_is_quoted_and_the_argument_named(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, "!kaffee pause <b>zwei</b>")
    assert "»<b>zwei</b>« ist keine Zahl; für <wochen>" in body


async def test_the_typed_id_is_echoed_escaped(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        replies = await bot.say(STAFF, dm(STAFF), "!ja <i>XYZ</i>")
    assert "Zu »<i>XYZ</i>« habe ich Sie nicht angefragt" in replies[0].body
    assert replies[0].html is not None and "&lt;i&gt;XYZ&lt;/i&gt;" in replies[0].html


def _parsed_words() -> list[tuple[str, Command, str]]:
    """Per command with a parsed argument (`ja|nein`): a line that gives it a word it
    refuses, every argument before it a plausible word."""
    found = []
    for path, cmd in commands().items():
        for at, arg in enumerate(cmd.args):
            if arg.parse is not None:
                words = ["F3"] * at + ["vielleicht"] + ["F3"] * (len(cmd.args) - at - 1)
                found.append((path, cmd, f"!{path} " + " ".join(words)))
    return found


def test_typed_answers_are_parsed_by_the_registry() -> None:
    assert {path for path, _, _ in _parsed_words()} >= {
        "getroffen",
        "hospitation feedback",
        "admin frage",
    }


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_a_refused_word_names_the_argument_its_words_and_the_usage(
    tmp_path: Path, lang: Lang
) -> None:
    async with Harness.open(tmp_path) as bot:
        if lang == "en":
            await _one(bot, ADMIN, "!sprache en")
        for _path, cmd, line in _parsed_words():
            body = await _one(bot, ADMIN, line)
            arg = next(a for a in cmd.args if a.parse is not None)
            assert "»vielleicht«" in body, (line, body)
            assert ", ".join(arg.choices(lang)) in body, (line, body)
            assert cmd.usage("!", lang) in body, (line, body)


@pytest.mark.parametrize(
    "line",
    [
        "!kaf\u200bfee an",
        "!kaffee \u200ban",
        "\ufeff!kaffee an",
        "!kaffee a\u00adn",
        "!kaf\u200c\u200d\u2060fee an",
    ],
)
async def test_invisible_characters_in_a_command_word_are_ignored(
    tmp_path: Path, line: str
) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, line)
    assert "bei der Kaffeerunde dabei" in body, body


async def test_an_unexpected_error_gives_a_reference_that_is_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    async with Harness.open(tmp_path) as bot:
        monkeypatch.setattr(bot.services.profiles, "set_coffee", broken)
        with caplog.at_level(logging.ERROR, logger="bot.chat.dispatch"):
            body = await _one(bot, STAFF, "!kaffee an")
    assert "ein Fehler auf meiner Seite" in body
    ref = body.split("Referenz ", 1)[1].strip("`.")
    assert len(ref) == 8
    assert any(ref in record.getMessage() for record in caplog.records)


async def test_whoknows_names_the_formal_path(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        fallback = bot.config.crisis.fallback_de
        in_room = await _one(bot, CRISIS, "!werkennt jemand beim THW", CRISIS_ROOM)
        in_dm = await _one(bot, CRISIS, "!werkennt jemand beim Roten Kreuz")
    assert fallback in in_room
    assert fallback in in_dm


# -- rules for every command --------------------------------------------------------------


def _bad_lines(path: str, cmd: Command) -> list[str]:
    """Lines that make `cmd` raise an ArgumentError: an argument missing, a word too many,
    a word that is no number where one is expected."""
    lines = [f"!{path} " + " ".join(["x"] * (len(cmd.args) + 3))]
    if any(not a.optional for a in cmd.args):
        lines.append(f"!{path}")
    if any(a.kind == "int" for a in cmd.args):
        lines.append(f"!{path} " + " ".join("x" for _ in cmd.args))
    return lines


def _argument_errors() -> list[tuple[str, str, ArgumentError]]:
    found = []
    for path, cmd in commands().items():
        for line in _bad_lines(path, cmd):
            try:
                REGISTRY.parse(line[1:])
            except ArgumentError as exc:
                found.append((path, line, exc))
    return found


def test_the_rule_below_covers_every_kind_of_argument_error() -> None:
    reasons = {exc.reason for _, _, exc in _argument_errors()}
    assert reasons == {"missing", "not_a_number", "too_many", "unknown_sub"}


@pytest.mark.parametrize("sender", [ADMIN, CRISIS])
async def test_every_argument_error_shows_usage_and_a_known_help_topic(
    tmp_path: Path, sender: str
) -> None:
    async with Harness.open(tmp_path) as bot:
        for _path, line, exc in _argument_errors():
            if not exc.command.allowed(bot.dispatcher.roles.roles_of(sender)):
                continue  # refused before any usage is shown (test_authorization)
            body = await _one(bot, sender, line)
            assert exc.command.usage("!", "de") in body, (line, body)
            topic = _topic_of(body)
            assert topic_command(REGISTRY, topic, "!") is not None, (line, topic)
            help_body = await _one(bot, sender, f"!hilfe {topic}")
            assert "kenne ich keinen Befehl" not in help_body, (line, help_body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!qwxyz", "Den Befehl `!qwxyz` kenne ich nicht. Alle Befehle: `!hilfe`."),
        ("!hilfe qwxyz", "Zu »qwxyz« kenne ich keinen Befehl. Alle Befehle: `!hilfe`."),
    ],
)
async def test_an_unknown_word_without_a_guess_offers_no_empty_guess(
    tmp_path: Path, text: str, expected: str
) -> None:
    async with Harness.open(tmp_path) as bot:
        body = await _one(bot, STAFF, text)
    assert body == expected.replace("`", ""), body
