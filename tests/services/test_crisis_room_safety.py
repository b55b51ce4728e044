"""The crisis role from room membership only in a crisis room nobody can walk into
(review finding S-03): join rule `invite` and an invite power level of at least 50.
Otherwise only the configured `crisis.staff` keep the role, a WARNING is logged and the
admin room hears it once.

The real `SyncLoop`, `RoleResolver` and dispatcher, a temporary store and a fake
homeserver (`tests/support/chat_fakes.py`) with nio's own `MatrixRoom`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bot.chat.roles import RoleResolver
from bot.domain.roles import Role
from tests.support.chat_fakes import connect, running, sync_loop, sync_response
from tests.support.harness import CRISIS, CRISIS_ROOM, SERVER, Harness, harness_config

ADMIN_ROOM = f"!admins:{SERVER}"
MEMBER = f"@mitglied:{SERVER}"


def state(event_type: str, content: dict[str, Any], n: int = 0) -> dict[str, Any]:
    return {
        "type": event_type,
        "state_key": "",
        "sender": CRISIS,
        "event_id": f"${event_type}{n}",
        "origin_server_ts": int(time.time() * 1000),
        "content": content,
    }


def join_rules(rule: str, n: int = 0) -> dict[str, Any]:
    return state("m.room.join_rules", {"join_rule": rule}, n)


def power_levels(invite: int | None, n: int = 0) -> dict[str, Any]:
    content: dict[str, Any] = {"users": {CRISIS: 100}}
    if invite is not None:
        content["invite"] = invite
    return state("m.room.power_levels", content, n)


def crisis_state(*events: dict[str, Any]) -> dict[str, Any]:
    return {CRISIS_ROOM: {"state": {"events": list(events)}}}


def crisis_timeline(*events: dict[str, Any]) -> dict[str, Any]:
    return {CRISIS_ROOM: {"timeline": {"events": list(events), "limited": False}}}


async def admin_notices(bot: Harness) -> list[str]:
    rows = await bot.db.fetchall(
        "SELECT payload FROM outbox WHERE target = ? ORDER BY id", (ADMIN_ROOM,)
    )
    return [json.loads(r[0])["content"]["body"] for r in rows]


def test_membership_counts_only_in_a_closed_room() -> None:
    """S-03: the unit rule. Unknown state (no event seen yet) is unsafe."""
    resolver = RoleResolver(None, [], [CRISIS], CRISIS_ROOM)
    assert resolver.crisis_room_problem() is not None
    resolver.observe(CRISIS_ROOM, "m.room.join_rules", {"join_rule": "invite"})
    resolver.observe(CRISIS_ROOM, "m.room.power_levels", {"users": {}})  # invite: default 0
    assert resolver.crisis_room_problem() is not None
    resolver.observe(CRISIS_ROOM, "m.room.power_levels", {"invite": 50})
    assert resolver.crisis_room_problem() is None
    for rule in ("public", "knock", "restricted", "knock_restricted"):
        resolver.observe(CRISIS_ROOM, "m.room.join_rules", {"join_rule": rule})
        assert resolver.crisis_room_problem() is not None, rule
    resolver.observe(CRISIS_ROOM, "m.room.join_rules", {"join_rule": "invite"})
    resolver.observe(CRISIS_ROOM, "m.room.power_levels", {"invite": 49})
    assert resolver.crisis_room_problem() is not None


async def test_no_crisis_role_from_an_open_crisis_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S-03: a public crisis room (or one where anybody may invite) gives its members no
    crisis role; the configured staff keep it; a WARNING and one admin notice; closing the
    room again restores the role."""
    async with Harness.open(tmp_path, harness_config(bot={"admin_room": ADMIN_ROOM})) as bot:
        home = connect(bot)
        home.add_room(CRISIS_ROOM, CRISIS, MEMBER)
        home.add_room(ADMIN_ROOM)
        roles = bot.dispatcher.roles
        roles.messenger = bot.messenger
        roles.admin_room = ADMIN_ROOM
        home.script = [
            sync_response("s1", join=crisis_state(join_rules("invite"), power_levels(50))),
            sync_response("s2", join=crisis_timeline(join_rules("public", 1))),
            sync_response("s3", join=crisis_timeline(join_rules("public", 2))),
        ]
        loop = sync_loop(bot, home)
        with caplog.at_level(logging.WARNING, logger="bot.chat.roles"):
            async with running(loop, home):
                pass
        assert Role.CRISIS not in roles.roles_of(MEMBER)
        assert Role.CRISIS in roles.roles_of(CRISIS)  # configured in crisis.staff
        assert any(
            r.levelno == logging.WARNING and CRISIS_ROOM in r.getMessage() for r in caplog.records
        )
        notices = await admin_notices(bot)
        assert len(notices) == 1 and "Krisenraum" in notices[0], notices

        home.idle.clear()
        home.script = [sync_response("s4", join=crisis_timeline(join_rules("invite", 3)))]
        async with running(sync_loop(bot, home), home):
            pass
        assert Role.CRISIS in roles.roles_of(MEMBER)
        home.idle.clear()
        home.script = [sync_response("s5", join=crisis_timeline(power_levels(0, 4)))]
        async with running(sync_loop(bot, home), home):
            pass
        assert Role.CRISIS not in roles.roles_of(MEMBER)
        assert len(await admin_notices(bot)) == 2


async def test_a_safe_crisis_room_gives_the_role(tmp_path: Path) -> None:
    """S-03: invite-only with invite power level 50: members are crisis staff, and nobody
    is bothered."""
    async with Harness.open(tmp_path, harness_config(bot={"admin_room": ADMIN_ROOM})) as bot:
        home = connect(bot)
        home.add_room(CRISIS_ROOM, CRISIS, MEMBER)
        roles = bot.dispatcher.roles
        roles.messenger = bot.messenger
        roles.admin_room = ADMIN_ROOM
        home.script = [
            sync_response("s1", join=crisis_state(join_rules("invite"), power_levels(50)))
        ]
        async with running(sync_loop(bot, home), home):
            pass
        assert Role.CRISIS in roles.roles_of(MEMBER)
        assert await admin_notices(bot) == []
