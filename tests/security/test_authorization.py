"""Who may do what, where: every command of the registry × every role × every place.

Roles: staff, crisis staff (configured or member of the crisis room), admin (configured),
and a stranger from a homeserver that is not on the allow-list who shares a room with the
bot (the bot never joins a stranger's invite; see test_invites). Places: the person's DM
with the bot, the crisis room, any other shared room.

`EXPECTED` (tests/support/command_table.py) is the specification. A new command fails
`test_every_command_is_in_the_table` until somebody decides there who may use it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.chat.dispatch import refusal
from bot.chat.roles import RoleResolver
from bot.domain.roles import Role
from bot.i18n.render import render
from tests.support.command_table import EXPECTED, commands
from tests.support.harness import (
    ADMIN,
    CRISIS,
    CRISIS_ROOM,
    SHARED_ROOM,
    STAFF,
    STRANGER,
    Harness,
    dm,
)

REFUSALS = {
    "D": "error.dm_only",
    "C": "error.crisis_room_only",
    "A": "error.admins_only",
    "K": "error.crisis_only",
}
ROLES = {
    STAFF: frozenset({Role.STAFF}),
    CRISIS: frozenset({Role.STAFF, Role.CRISIS}),
    ADMIN: frozenset({Role.STAFF, Role.ADMIN}),
}
PLACES = ("dm", "crisis room", "shared room")


def room_of(person: str, place: str) -> str:
    return {"dm": dm(person), "crisis room": CRISIS_ROOM, "shared room": SHARED_ROOM}[place]


CELLS = [
    (path, person, place, EXPECTED[path][0][i][j])
    for path in EXPECTED
    for i, person in enumerate(ROLES)
    for j, place in enumerate(PLACES)
]


def test_every_command_is_in_the_table() -> None:
    assert set(commands()) == set(EXPECTED)


@pytest.mark.parametrize(("path", "person", "place", "expected"), CELLS)
def test_the_gate_decides_as_specified(path: str, person: str, place: str, expected: str) -> None:
    cmd = commands()[path]
    decided = refusal(
        cmd, ROLES[person], is_dm=place == "dm", in_crisis_room=place == "crisis room"
    )
    assert decided == REFUSALS.get(expected), (path, person, place)


async def fingerprint(harness: Harness) -> dict[str, str]:
    """A digest of every table's content but the outbox and the event log."""
    tables = await harness.db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('outbox', 'processed_events', 'schema_version', 'sqlite_sequence')"
    )
    digests = {}
    for (name,) in tables:
        rows = await harness.db.fetchall(f'SELECT * FROM "{name}" ORDER BY 1')
        digests[name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return digests


async def test_the_dispatcher_applies_the_table(tmp_path: Path) -> None:
    """Every cell through `Dispatcher.on_event` with real handlers: a refused command gets
    exactly its refusal and changes nothing; an allowed one runs without an error."""
    async with Harness.open(tmp_path) as harness:
        for path, person, place, expected in CELLS:
            sample = EXPECTED[path][1]
            before = await fingerprint(harness)
            replies = await harness.say(person, room_of(person, place), sample)
            cell = (path, person, place, expected, [r.body[:80] for r in replies])
            if expected in REFUSALS:
                text = render(REFUSALS[expected], "de", prefix="!").plain
                assert [r.body for r in replies] == [text], cell
                assert await fingerprint(harness) == before, cell
            else:
                # An answer, or a request the job carries out (rounds, the report).
                assert replies or await fingerprint(harness) != before, cell
                assert not any("ein Fehler auf meiner Seite" in r.body for r in replies), cell
                role_refusals = {
                    render(REFUSALS[k], "de", prefix="!").plain for k in ("A", "K", "C")
                }
                assert not role_refusals & {r.body for r in replies}, cell


async def test_usage_of_a_forbidden_command_is_not_explained(tmp_path: Path) -> None:
    """A wrongly written admin or crisis command gets the refusal, not its usage."""
    async with Harness.open(tmp_path) as harness:
        for text, key in (
            ("!admin runde a b c", "error.admins_only"),
            ("!admin gibtsnicht", "error.admins_only"),
            ("!werkennt", "error.crisis_only"),
            ("!anfrage", "error.crisis_only"),
        ):
            replies = await harness.say(STAFF, dm(STAFF), text)
            assert [r.body for r in replies] == [render(key, "de", prefix="!").plain], text
        replies = await harness.say(CRISIS, SHARED_ROOM, "!werkennt")
        assert [r.body for r in replies] == [
            render("error.crisis_room_only", "de", prefix="!").plain
        ]


@pytest.mark.parametrize("place", PLACES)
async def test_a_stranger_gets_nothing_and_leaves_no_trace(tmp_path: Path, place: str) -> None:
    async with Harness.open(tmp_path) as harness:
        before = await fingerprint(harness)
        for path, (_, sample) in EXPECTED.items():
            assert await harness.say(STRANGER, room_of(STRANGER, place), sample) == [], path
        assert await harness.say(STRANGER, room_of(STRANGER, place), "Hallo?") == []
        assert await fingerprint(harness) == before
        stored = await harness.db.fetchall(
            "SELECT COUNT(*) FROM processed_events UNION ALL SELECT COUNT(*) FROM outbox"
        )
        assert [r[0] for r in stored] == [0, 0]


def close_crisis_room(roles: RoleResolver, room_id: str) -> None:
    roles.observe(room_id, "m.room.join_rules", {"join_rule": "invite"})
    roles.observe(room_id, "m.room.power_levels", {"invite": 50})


async def test_crisis_room_membership_is_a_role(tmp_path: Path) -> None:
    """Joined members of the crisis room are crisis staff; invited ones are not yet (in a
    crisis room that is invite-only and where only moderators invite, review finding S-03,
    tests/services/test_crisis_room_safety.py)."""
    async with Harness.open(tmp_path) as harness:
        close_crisis_room(harness.dispatcher.roles, CRISIS_ROOM)
        room = harness.client.rooms[CRISIS_ROOM]
        room.users[STAFF] = object()
        room.invited_users[STAFF] = object()
        replies = await harness.say(STAFF, CRISIS_ROOM, "!anfragen")
        assert [r.body for r in replies] == [render("error.crisis_only", "de", prefix="!").plain]
        del room.invited_users[STAFF]
        replies = await harness.say(STAFF, CRISIS_ROOM, "!anfragen")
        assert replies and "Krisenstab" not in replies[0].body[:40]
        assert replies[0].body != render("error.crisis_only", "de", prefix="!").plain
