"""Every message exists in German and English with the same parameters, and every
registered command has a help text."""

from __future__ import annotations

import string

from bot.commands import load_all
from bot.commands.registry import REGISTRY, Command
from bot.i18n import catalogue, has


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_languages_use_the_same_parameters() -> None:
    mismatched = [
        key for key, texts in catalogue().items() if fields(texts["de"]) != fields(texts["en"])
    ]
    assert not mismatched


def test_german_texts_use_formal_address() -> None:
    informal = [
        key
        for key, texts in catalogue().items()
        if any(f" {w} " in f" {texts['de']} " for w in ("du", "dich", "dein", "deine", "dir"))
    ]
    assert not informal


def test_every_command_has_help() -> None:
    load_all()
    missing = []

    def check(cmd: Command) -> None:
        if cmd.handler is not None and not has(cmd.help_key + ".short"):
            missing.append(cmd.help_key)
        for sub in cmd.subcommands.values():
            check(sub)

    for cmd in REGISTRY.commands.values():
        check(cmd)
    assert not missing
