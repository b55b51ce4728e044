"""Declarative command registry: names, German and English aliases, typed arguments,
roles, where a command may be used, and help texts. `!hilfe` is generated from it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from bot.domain.roles import Role, Where
from bot.i18n import Lang

Handler = Callable[..., Awaitable[None]]

# Commands that only show something (by `Command.path`). The per-person limits of the
# dispatcher let more of them through than of every other command, which changes something
# (review finding S-11). A command missing here is treated as a change: the safe side.
READS = frozenset(
    {
        "hilfe",
        "kontakte",
        "anfragen",
        "hospitationen",
        "hospitation",
        "hospitation.meine",
        "meinedaten",
        "admin",
        "admin.fragen",
        "frage",
    }
)
ArgKind = Literal["word", "rest", "int"]
# Turns the typed word into the handler's value; raises ValueError for a word it refuses.
Parse = Callable[[str], Any]


class Section(StrEnum):
    """Where `!hilfe` lists a command, in this order (`help.section.<value>`)."""

    GENERAL = "general"
    PROFILE = "profile"
    SEARCH = "search"
    COFFEE = "coffee"
    HOSPITATION = "hospitation"
    CRISIS = "crisis"
    PRIVACY = "privacy"
    ADMIN = "admin"


@dataclass(frozen=True)
class Arg:
    """`key` is the handler's parameter name; `de`/`en` the label usage and errors show
    (`ja|nein` lists the words `parse` accepts)."""

    key: str
    de: str
    en: str
    kind: ArgKind = "word"
    optional: bool = False
    parse: Parse | None = None

    def __post_init__(self) -> None:
        if not self.key.isidentifier():
            raise ValueError(f"argument key {self.key!r} is no Python identifier")

    def label(self, lang: Lang) -> str:
        return self.de if lang == "de" else self.en

    def usage(self, lang: Lang) -> str:
        return f"[{self.label(lang)}]" if self.optional else f"<{self.label(lang)}>"

    def choices(self, lang: Lang) -> list[str]:
        """The words a parsed argument allows, as its label lists them (`ja|nein`)."""
        return self.label(lang).split("|") if self.parse is not None else []


@dataclass
class Command:
    name: str
    english: str
    handler: Handler | None
    args: tuple[Arg, ...] = ()
    aliases: tuple[str, ...] = ()
    roles: frozenset[Role] = frozenset()
    where: Where = Where.DM
    section: Section = Section.GENERAL
    subcommands: dict[str, Command] = field(default_factory=dict)
    parent: Command | None = None

    @property
    def path(self) -> str:
        return self.name if self.parent is None else f"{self.parent.name}.{self.name}"

    @property
    def help_key(self) -> str:
        return f"help.cmd.{self.path}"

    @property
    def reads(self) -> bool:
        """Only shows something; see READS."""
        return self.path in READS

    def names(self) -> tuple[str, ...]:
        return (self.name, self.english, *self.aliases)

    def display_name(self, lang: Lang) -> str:
        return self.name if lang == "de" else self.english

    def topic(self, lang: Lang) -> str:
        """The words after `!hilfe` that explain this command (`kaffee pause`); a group's
        default (registered as `""`) is explained by its group."""
        words = [self.display_name(lang)]
        if self.parent is not None:
            words.insert(0, self.parent.display_name(lang))
        return " ".join(w for w in words if w)

    def choices(self, lang: Lang) -> list[str]:
        """A group's subcommand words as the user may type them, in registration order."""
        named = {id(sub): sub for sub in self.subcommands.values() if sub.name}
        return [sub.display_name(lang) for sub in named.values()]

    def usage(self, prefix: str, lang: Lang) -> str:
        words = [self.topic(lang)]
        if self.subcommands and self.handler is None:
            # A group spells out its words: `!kaffee [an|aus|pause]`.
            listed = "|".join(self.choices(lang))
            words.append(f"[{listed}]" if "" in self.subcommands else f"<{listed}>")
        words += [a.usage(lang) for a in self.args]
        return prefix + " ".join(w for w in words if w)

    def allowed(self, roles: frozenset[Role]) -> bool:
        return not self.roles or bool(self.roles & roles)


class ArgumentError(Exception):
    """`reason` is one of missing, not_a_number, too_many, unknown_sub (the message key
    `error.arg.<reason>`; unknown_sub: a word that is neither a subcommand nor one an
    argument's `parse` accepts); `arg` the argument it concerns, `given` what the person
    wrote."""

    def __init__(
        self, command: Command, reason: str, arg: Arg | None = None, given: str = ""
    ) -> None:
        super().__init__(reason)
        self.command = command
        self.reason = reason
        self.arg = arg
        self.given = given


# Invisible characters a copy from a web page or a phone keyboard leaves inside a word: a
# command word carrying one would be "unknown", a number or an ID argument refused,
# although it looks right. Free text (a "rest" argument) keeps them after its first word:
# a zero-width joiner belongs to an emoji such as 👩‍💻.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


_REPLY_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")


def strip_reply_fallback(body: str) -> str:
    """Drop the `> <@user> quoted text` lines clients put in front of replies."""
    return _REPLY_FALLBACK.sub("", body, count=1)


def clean_command(line: str, prefix: str) -> str:
    """A command line with invisible characters removed from its command and subcommand
    word (and before them); the arguments are `parse_args`' business, and a line that is
    no command (a dialog answer) stays as written."""
    parts = line.split(" ", 2)
    cleaned = " ".join([p.translate(_INVISIBLE) for p in parts[:2]] + parts[2:])
    return cleaned if cleaned.startswith(prefix) else line


@dataclass(frozen=True)
class Invocation:
    command: Command
    args: dict[str, Any]
    english: bool


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self._by_name: dict[str, Command] = {}

    def command(
        self,
        name: str,
        english: str,
        *,
        args: tuple[Arg, ...] = (),
        aliases: tuple[str, ...] = (),
        roles: frozenset[Role] = frozenset(),
        where: Where = Where.DM,
        section: Section = Section.GENERAL,
        parent: Command | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(
                Command(name, english, handler, args, aliases, roles, where, section),
                parent=parent,
            )
            return handler

        return register

    def group(
        self,
        name: str,
        english: str,
        *,
        aliases: tuple[str, ...] = (),
        roles: frozenset[Role] = frozenset(),
        where: Where = Where.DM,
        section: Section = Section.GENERAL,
    ) -> Command:
        """A command that only has subcommands (or a default registered as `""`)."""
        cmd = Command(name, english, None, (), aliases, roles, where, section)
        self.add(cmd)
        return cmd

    def add(self, cmd: Command, parent: Command | None = None) -> Command:
        """Register `cmd`, as a subcommand of `parent` if given; returns `cmd`."""
        if parent is not None:
            cmd.parent = parent
            cmd.section = parent.section
            if not cmd.roles:
                cmd.roles = parent.roles
            for name in cmd.names():
                parent.subcommands[name.casefold()] = cmd
            return cmd
        # A command whose German and English names are the same ("admin") is one name.
        for name in dict.fromkeys(n.casefold() for n in cmd.names()):
            key = name
            if key in self._by_name:
                raise ValueError(f"command name {name!r} registered twice")
            self._by_name[key] = cmd
        self.commands[cmd.name] = cmd
        return cmd

    def lookup(self, name: str) -> Command | None:
        return self._by_name.get(name.casefold())

    def suggest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name.casefold(), list(self._by_name), n=3, cutoff=0.6)

    def parse(self, text: str) -> Invocation | None:
        """Parse a command line without its prefix. None if the command is unknown."""
        head, _, rest = text.strip().partition(" ")
        cmd = self.lookup(head)
        if cmd is None:
            return None
        english = head.casefold() in (cmd.english.casefold(),) and cmd.english != cmd.name
        rest = rest.strip()
        if cmd.subcommands:
            sub_head, _, sub_rest = rest.partition(" ")
            sub = cmd.subcommands.get(sub_head.casefold())
            if sub is not None and sub_head:
                english = english or (
                    sub_head.casefold() == sub.english.casefold() and sub.english != sub.name
                )
                cmd, rest = sub, sub_rest.strip()
            elif "" in cmd.subcommands and (cmd.subcommands[""].args or not sub_head):
                cmd = cmd.subcommands[""]
            elif sub_head and cmd.handler is None:
                # Neither a subcommand nor an argument the group's default takes.
                raise ArgumentError(cmd, "unknown_sub", given=sub_head)
        return Invocation(cmd, parse_args(cmd, rest), english)

    def visible(self, roles: frozenset[Role]) -> list[Command]:
        return [c for c in self.commands.values() if c.allowed(roles)]


def parse_args(cmd: Command, text: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    remaining = text.strip()
    for arg in cmd.args:
        if arg.kind == "rest":
            value: Any = remaining
            remaining = ""
        else:
            word, _, remaining = remaining.partition(" ")
            remaining = remaining.strip()
            value = word.translate(_INVISIBLE)
        if value == "":
            if not arg.optional:
                raise ArgumentError(cmd, "missing", arg)
            values[arg.key] = None
            continue
        if arg.kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise ArgumentError(cmd, "not_a_number", arg, value) from None
        elif arg.parse is not None:
            try:
                value = arg.parse(value)
            except ValueError:
                raise ArgumentError(cmd, "unknown_sub", arg, value) from None
        values[arg.key] = value
    if remaining:
        raise ArgumentError(cmd, "too_many", given=remaining)
    return values


REGISTRY = Registry()
"""The one registry every command module registers into at import time."""
