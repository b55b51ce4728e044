"""`!admin …`: the administrators' command group. Features add their subcommands with
`parent="admin"` (crisis drills: `übung`; matching: `runde`; network report: `bericht`)."""

from __future__ import annotations

from bot.commands.registry import REGISTRY
from bot.domain.roles import Role, Where

ADMIN = REGISTRY.group(
    "admin", "admin", roles=frozenset({Role.ADMIN}), section="admin", where=Where.ANY
)
