"""Per-person limits on commands (review finding S-11), through the real dispatcher:
someone over the limit is told once and nothing they send is carried out; others, reads,
crisis staff and admins are not held up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.commands import load_all
from bot.commands.registry import READS, REGISTRY
from bot.i18n.render import render
from tests.support.harness import ADMIN, CRISIS, CRISIS_ROOM, STAFF, Harness, dm, harness_config

SLOW_DOWN = render("limits.slow_down", "de", seconds=0).plain.split("{")[0][:40]


def tight(**bot: Any) -> Any:
    """Three changes, then (practically) nothing for the rest of the test."""
    limits = {
        "enabled": True,
        "changes_burst": 3,
        "changes_per_minute": 0.01,
        "reads_burst": 5,
        "reads_per_minute": 0.01,
    }
    return harness_config(bot={"admins": [ADMIN], "limits": limits, **bot})


def told(replies: list[Any]) -> int:
    return sum(r.body.startswith(SLOW_DOWN) for r in replies)


async def contacts_of(harness: Harness, user: str) -> int:
    row = await harness.db.fetchone(
        "SELECT COUNT(*) FROM crisis_contacts WHERE user_id = ?", (user,)
    )
    assert row is not None
    return int(row[0])


async def test_over_the_limit_is_told_once_and_nothing_is_stored(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, tight()) as harness:
        replies = []
        for i in range(10):
            replies.append(
                await harness.say(STAFF, dm(STAFF), f"!kontakt Tafel {i} | Soziale Träger")
            )
        assert all(len(r) == 1 and not told(r) for r in replies[:3])
        assert told(replies[3]) == 1 and "Sekunden" in replies[3][0].body
        assert all(r == [] for r in replies[4:]), "told once per episode, not per message"
        assert await contacts_of(harness, STAFF) == 3
        # Reads have their own allowance: looking at one's contacts still works.
        [listing] = await harness.say(STAFF, dm(STAFF), "!kontakte")
        assert "Tafel 0" in listing.body and not told([listing])
        # Somebody else is not affected by STAFF's flood.
        other = "@kollegin:rathaus.example"
        room = await harness.add_person(other)
        [reply] = await harness.say(other, room, "!kontakt Tafel X | Soziale Träger")
        assert not told([reply]) and await contacts_of(harness, other) == 1


async def test_dialog_answers_and_unknown_commands_count_too(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, tight()) as harness:
        flood = [await harness.say(STAFF, dm(STAFF), f"!gibtsnicht{i}") for i in range(8)]
        assert [told(r) for r in flood] == [0] * 5 + [1, 0, 0]
        assert flood[6] == flood[7] == []


async def test_crisis_staff_and_admins_are_never_limited_in_their_role(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, tight()) as harness:
        for i in range(8):
            replies = await harness.say(
                CRISIS, CRISIS_ROOM, f"!werkennt Wer kennt jemanden bei der Tafel {i}?"
            )
            assert replies and not told(replies), i
        row = await harness.db.fetchone("SELECT COUNT(*) FROM crisis_requests")
        assert row is not None and row[0] == 8
        for _ in range(8):
            replies = await harness.say(ADMIN, dm(ADMIN), "!admin fragen")
            assert replies and not told(replies)
        # Their ordinary commands are limited like everybody's.
        flood = [await harness.say(CRISIS, dm(CRISIS), "!kontakte") for _ in range(7)]
        assert sum(told(r) for r in flood) == 1


async def test_defaults_let_a_busy_person_through(tmp_path: Path) -> None:
    """A person setting up their profile and looking around, as fast as one can type and
    faster: twenty changes and forty reads in a row never meet the default limits."""
    cfg = harness_config(bot={"admins": [ADMIN], "limits": {"enabled": True}})
    async with Harness.open(tmp_path, cfg) as harness:
        for i in range(20):
            replies = await harness.say(STAFF, dm(STAFF), f"!profil themen Thema {i}")
            assert replies and not told(replies), i
        for _ in range(40):
            replies = await harness.say(STAFF, dm(STAFF), "!hilfe")
            assert replies and not told(replies)


def test_every_read_names_a_command() -> None:
    load_all()
    paths = {c.path for c in REGISTRY.commands.values()} | {
        s.path for c in REGISTRY.commands.values() for s in c.subcommands.values()
    }
    assert paths >= READS, READS - paths
