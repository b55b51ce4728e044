"""Every catalogue text that sends people to `!hilfe <topic>` names a topic `!hilfe` knows,
in German and in English (a pointer to a missing topic ends in "kenne ich keinen Befehl")."""

from __future__ import annotations

import re

from bot.commands import load_all
from bot.commands.help import topic_command
from bot.commands.registry import REGISTRY
from bot.i18n import catalogue

# `{prefix}hilfe kaffee pause` inside backticks; placeholders (`<befehl>`, `{command}`) are
# filled in at run time and checked by tests/security/test_command_errors.py.
_POINTER = re.compile(r"`\{prefix\}(?:hilfe|help) ([^`<{]+)`")


def test_every_help_pointer_names_a_known_topic() -> None:
    load_all()
    pointers = [
        (key, lang, match.group(1))
        for key, texts in catalogue().items()
        for lang, text in texts.items()
        for match in _POINTER.finditer(text)
    ]
    assert len(pointers) >= 4  # the overview, the help text, hospitation's wrong word
    unknown = [p for p in pointers if topic_command(REGISTRY, p[2], "!") is None]
    assert unknown == []


def test_subcommand_topics_are_found_in_both_languages() -> None:
    load_all()
    for topic in ("kaffee pause", "coffee pause", "hospitation teilnehmen", "admin runde"):
        cmd = topic_command(REGISTRY, topic, "!")
        assert cmd is not None and cmd.parent is not None, topic
    assert topic_command(REGISTRY, "kaffee vielleicht", "!") is None
    assert topic_command(REGISTRY, "kaffee pause 3", "!") is None
