"""`!admin …`: the administrators' command group. Features add their subcommands with
`parent=ADMIN` (crisis drills: `übung`; matching: `runde`; network report: `bericht`)."""

from __future__ import annotations

from bot.commands.registry import REGISTRY, Section
from bot.domain.roles import Role, Where

ADMIN = REGISTRY.group(
    "admin", "admin", roles=frozenset({Role.ADMIN}), section=Section.ADMIN, where=Where.ANY
)
