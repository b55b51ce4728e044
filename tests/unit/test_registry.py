"""The command registry: aliases, subcommands, typed arguments, suggestions."""

from __future__ import annotations

import pytest

from bot.commands.registry import Arg, ArgumentError, Registry
from bot.domain.roles import Role


async def _noop(ctx: object, **kwargs: object) -> None:
    return None


def build() -> Registry:
    registry = Registry()
    registry.command("hilfe", "help", args=(Arg("befehl", "command", "rest", optional=True),))(
        _noop
    )
    registry.group("kaffee", "coffee")
    registry.command("pause", "pause", args=(Arg("wochen", "weeks", "int"),), parent="kaffee")(
        _noop
    )
    registry.command("an", "on", parent="kaffee")(_noop)
    registry.command("runde", "round", roles=frozenset({Role.ADMIN}))(_noop)
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
