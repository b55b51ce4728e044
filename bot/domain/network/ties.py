"""The input of the network report: ties (recorded encounters of two people) and members
(profiles reduced to their unit and participation flags), and the names shared by every
part of the report (tie kinds, levels, the OTHER and UNKNOWN units)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

KINDS = ("coffee", "circle", "break", "hospitation", "crisis")
"""Tie kinds: weekly coffee match, topic circle, spontaneous coffee break, hospitation,
crisis connection (real requests only; drills are exercises, not ties)."""

OTHER = "~other"  # units with fewer than k participants, merged ("Sonstige")
UNKNOWN = "~unknown"  # no department / municipality given ("ohne Angabe")
Level = Literal["department", "municipality"]
LEVELS: tuple[Level, ...] = ("department", "municipality")


@dataclass(frozen=True)
class Tie:
    """One tie. `person_a`/`person_b` are opaque keys (a Matrix ID or a placeholder for a
    forgotten person); they are only used to count distinct pairs and people."""

    kind: str
    person_a: str
    person_b: str
    on: date
    department_a: str | None = None
    municipality_a: str | None = None
    department_b: str | None = None
    municipality_b: str | None = None

    def unit(self, level: Level, side: Literal["a", "b"]) -> str | None:
        if level == "department":
            return self.department_a if side == "a" else self.department_b
        return self.municipality_a if side == "a" else self.municipality_b


@dataclass(frozen=True)
class Member:
    """One profile, reduced to what participation needs. `confirmed`: takes part (acted in
    chat); `opted_in`: weekly coffee matching switched on."""

    department: str | None
    municipality: str | None
    confirmed: bool
    opted_in: bool

    def unit(self, level: Level) -> str | None:
        return self.department if level == "department" else self.municipality
