"""Checks of single cells of a staff file, each problem with what is wrong and how to fix it."""

from __future__ import annotations

import re

from bot.domain.profile_fields import FieldError, FieldErrorCode

_MATRIX_ID = re.compile(
    r"^@([^:\s]+):([A-Za-z0-9.\-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?)$"
)
_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[A-Za-z]{2,}$")


def shown(text: str) -> str:
    """Text for the operator's terminal: every character that is not printable (ESC, BEL,
    other controls, bidi overrides, zero-width and line separators) as an escape such as
    `\\x1b`, never raw, so a cell of the HR file cannot erase lines of the problem list or
    set the window title (review finding S-18)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def check_matrix_id(raw: str, allowed: list[str]) -> str | tuple[str, str]:
    """The Matrix ID, or (problem, fix)."""
    value = raw.strip()
    example = f"@alice:{allowed[0] if allowed else 'rathaus.example'}"
    if not value:
        return "the Matrix ID is missing.", f"write the person's Matrix ID, e.g. {example}."
    if _EMAIL.match(value):
        local, _, domain = value.partition("@")
        return (
            f'"{value}" looks like an e-mail address, not a Matrix ID.',
            f"write the Matrix ID, e.g. @{local.lower()}:{domain.lower()} "
            f"(as shown in Element under Settings -> Account).",
        )
    if not value.startswith("@"):
        return (
            f'"{value}" does not start with "@".',
            f"write it as @name:server, e.g. {example}.",
        )
    match = _MATRIX_ID.match(value)
    if match is None:
        return (
            f'"{value}" is not a Matrix ID.',
            f"write it as @name:server without spaces, e.g. {example}.",
        )
    local, server = match.group(1), match.group(2)
    if not _LOCALPART.match(local):
        if _LOCALPART.match(local.lower()):
            return (
                f'"{value}" has capital letters; Matrix IDs are lowercase.',
                f"write @{local.lower()}:{server}.",
            )
        return (
            f'"{value}" contains characters a Matrix ID cannot have.',
            "use only a-z, 0-9 and . _ = - / + before the colon.",
        )
    if allowed and server.lower() not in {a.lower() for a in allowed}:
        return (
            f'the homeserver "{server}" is not in homeserver.allowed_homeservers '
            f"({', '.join(allowed)}).",
            "correct the server part, or add the server to homeserver.allowed_homeservers "
            "in the config.",
        )
    return f"@{local}:{server.lower()}"


def choice_problem(column: str, error: FieldError, key: str, free_key: str) -> tuple[str, str]:
    given = error.fragment
    listed = ", ".join(f'"{s}"' for s in error.suggestions)
    if error.code is FieldErrorCode.DID_YOU_MEAN:
        return (
            f'"{given}" is not in directory.{key}; did you mean {listed}?',
            f'correct the cell, or add "{given}" to directory.{key} in the config.',
        )
    if error.code is FieldErrorCode.NOT_IN_LIST:
        return (
            f'"{given}" is not in directory.{key} and free text is off '
            f"(directory.{free_key}: false). Close entries: {listed or '-'}.",
            f"use an entry of directory.{key}, or add this one there.",
        )
    return generic_problem(column, error)


def generic_problem(column: str, error: FieldError) -> tuple[str, str]:
    if error.code is FieldErrorCode.TOO_LONG:
        return (
            f"the text is longer than {error.limit} characters.",
            f"shorten it to at most {error.limit} characters.",
        )
    if error.code is FieldErrorCode.TOO_MANY:
        return (
            f"{error.fragment} topics, at most {error.limit} are allowed (directory.topics_max).",
            f"keep the {error.limit} most important ones.",
        )
    if error.code is FieldErrorCode.TOPIC_TOO_LONG:
        return (
            f'the topic "{error.fragment}" is longer than {error.limit} characters.',
            'topics are short keywords; separate several with ";" or "," inside the cell.',
        )
    if error.code is FieldErrorCode.TOPIC_TOO_SHORT:
        return (
            f'the topic "{error.fragment}" is shorter than {error.limit} characters.',
            "write the topic out, or remove it.",
        )
    return f"the value is not valid ({error.code.value}).", "correct the cell."
