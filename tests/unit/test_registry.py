"""The command registry: aliases, subcommands, typed arguments, suggestions."""

from __future__ import annotations

import inspect

import pytest

from bot.commands import load_all
from bot.commands.registry import REGISTRY, Arg, ArgumentError, Command, Registry, Section
from bot.domain.answers import yes_no
from bot.domain.roles import Role


async def _noop(ctx: object, **kwargs: object) -> None:
    return None


def build() -> Registry:
    registry = Registry()
    registry.command(
        "hilfe", "help", args=(Arg("command", "befehl", "command", "rest", optional=True),)
    )(_noop)
    kaffee = registry.group("kaffee", "coffee", section=Section.COFFEE)
    registry.command(
        "pause", "pause", args=(Arg("weeks", "wochen", "weeks", "int"),), parent=kaffee
    )(_noop)
    registry.command("an", "on", parent=kaffee)(_noop)
    registry.command("runde", "round", roles=frozenset({Role.ADMIN}))(_noop)
    registry.command("getroffen", "met", args=(Arg("met", "ja|nein", "yes|no", parse=yes_no),))(
        _noop
    )
    return registry


def test_case_insensitive_aliases_and_english_detection() -> None:
    registry = build()
    german = registry.parse("HILFE kaffee")
    english = registry.parse("help coffee")
    assert german and german.command.name == "hilfe" and not german.english
    assert german.args == {"command": "kaffee"}
    assert english and english.english


def test_subcommands_with_typed_arguments() -> None:
    registry = build()
    parsed = registry.parse("kaffee pause 3")
    assert parsed and parsed.command.name == "pause" and parsed.args == {"weeks": 3}
    parsed = registry.parse("coffee on")
    assert parsed and parsed.command.name == "an" and parsed.english
    with pytest.raises(ArgumentError, match="not_a_number"):
        registry.parse("kaffee pause drei")
    with pytest.raises(ArgumentError, match="missing"):
        registry.parse("kaffee pause")
    with pytest.raises(ArgumentError, match="too_many"):
        registry.parse("kaffee an bitte")


def test_unknown_command_gets_suggestions() -> None:
    registry = build()
    assert registry.parse("hilf") is None
    assert "hilfe" in registry.suggest("hilf")


def test_roles_filter_visibility() -> None:
    registry = build()
    staff = {c.name for c in registry.visible(frozenset({Role.STAFF}))}
    admin = {c.name for c in registry.visible(frozenset({Role.STAFF, Role.ADMIN}))}
    assert "runde" not in staff and "runde" in admin


def test_duplicate_names_are_refused() -> None:
    registry = build()
    with pytest.raises(ValueError):
        registry.command("help", "hilfe2")(_noop)


def test_usage_in_both_languages() -> None:
    registry = build()
    cmd = registry.commands["kaffee"].subcommands["pause"]
    assert cmd.usage("!", "de") == "!kaffee pause <wochen>"
    assert cmd.usage("!", "en") == "!coffee pause <weeks>"


def test_a_parsed_argument_reaches_the_handler_typed_and_by_its_key() -> None:
    registry = build()
    for line, met in (("getroffen ja", True), ("met No", False), ("getroffen ok", True)):
        parsed = registry.parse(line)
        assert parsed is not None and parsed.args == {"met": met}, line


def test_a_word_the_parser_refuses_names_the_argument_and_its_words() -> None:
    registry = build()
    with pytest.raises(ArgumentError) as caught:
        registry.parse("getroffen vielleicht")
    error = caught.value
    assert error.reason == "unknown_sub" and error.given == "vielleicht"
    assert error.arg is not None and error.arg.key == "met"
    assert error.arg.choices("de") == ["ja", "nein"] and error.arg.choices("en") == ["yes", "no"]


def test_an_argument_key_must_be_a_python_name() -> None:
    with pytest.raises(ValueError, match="identifier"):
        Arg("yes|no", "ja|nein", "yes|no")


def test_a_subcommand_takes_its_parents_section_and_roles() -> None:
    registry = Registry()
    admin = registry.group("admin", "admin", roles=frozenset({Role.ADMIN}), section=Section.ADMIN)
    registry.command("runde", "round", parent=admin)(_noop)
    sub = admin.subcommands["runde"]
    assert sub.parent is admin and sub.section is Section.ADMIN and sub.roles == admin.roles
    assert sub.path == "admin.runde"


def test_every_handler_takes_its_arguments_by_their_keys() -> None:
    """No `**args` lookups by label: a renamed argument is a renamed parameter."""
    load_all()
    commands: list[Command] = []
    for cmd in REGISTRY.commands.values():
        commands += [cmd, *cmd.subcommands.values()]
    wrong = {}
    for cmd in commands:
        if cmd.handler is None:
            continue
        params = list(inspect.signature(cmd.handler).parameters.values())[1:]
        named = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        if len(named) != len(params) or named != [a.key for a in cmd.args]:
            wrong[cmd.path] = [str(p) for p in params]
    assert not wrong
