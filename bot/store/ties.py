"""The ties of the network, gathered read-only from the tables of the features that make
them (for the network report, `bot.domain.network`).

| kind          | table(s)                                        | a tie is                      |
|---------------|-------------------------------------------------|-------------------------------|
| `coffee`      | coffee_rounds (kind coffee) / coffee_groups /   | two members of a group that   |
| `circle`      | coffee_members (kind circle)                    | met (see `_coffee_pairs`)     |
| `break`       | coffee_break_ties                               | one row (both confirmed)      |
| `hospitation` | hospitation_ties                                | one row (host, participant)   |
| `crisis`      | crisis_requests (not drills)                    | requester and connected bridge|

Units: the department/municipality stored with the tie (a snapshot at the time) where the
table has one, else the person's current profile. A forgotten person is a placeholder
(`~forgotten:…`, `~former-…`, or `~former:<kind>:<row>:<side>` where the table keeps NULL),
which counts into the aggregates like anybody else and never names anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import combinations
from typing import Any

from bot.domain.network.ties import Member, Tie
from bot.store.contacts import ContactStore
from bot.store.crisis import state_from_json
from bot.store.db import Database

PLACEHOLDER_PREFIXES = ("~forgotten:", "~former")
# A crisis request connects within its expiry (a day by default, configurable); look this
# far before the period for requests created earlier and connected inside it.
CRISIS_LOOKBACK = timedelta(days=30)


def is_placeholder(person: str) -> bool:
    return person.startswith(PLACEHOLDER_PREFIXES)


def _blank(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


class TieStore:
    """Read-only: nothing here writes to the database."""

    def __init__(self, db: Database, timezone: tzinfo = UTC) -> None:
        self.db = db
        self.timezone = timezone

    def _bounds(self, first: date, last: date) -> tuple[float, float]:
        """Epoch seconds from the start of `first` to the end of `last`, local time."""
        start = datetime.combine(first, time(0), self.timezone).timestamp()
        end = datetime.combine(last + timedelta(days=1), time(0), self.timezone).timestamp()
        return start, end

    def _day(self, epoch: float) -> date:
        return datetime.fromtimestamp(epoch, self.timezone).date()

    async def ties(self, first: date, last: date) -> list[Tie]:
        """Every tie dated from `first` to `last` (inclusive), all kinds, oldest first."""
        raw = [
            *await self._coffee(first, last),
            *await self._breaks(first, last),
            *await self._hospitations(first, last),
            *await self._crisis(first, last),
        ]
        filled = await self._fill_from_profiles(raw)
        return sorted(filled, key=lambda t: (t.on, t.kind))

    # -- coffee matches and topic circles --------------------------------------------------

    async def _coffee(self, first: date, last: date) -> list[Tie]:
        start, end = self._bounds(first, last)
        rows = await self.db.fetchall(
            "SELECT g.id, r.kind, r.started_at, m.person, m.department, m.municipality, m.met "
            "FROM coffee_groups g JOIN coffee_rounds r ON r.id = g.round_id "
            "JOIN coffee_members m ON m.group_id = g.id "
            "WHERE r.started_at >= ? AND r.started_at < ? AND EXISTS "
            "(SELECT 1 FROM coffee_members y WHERE y.group_id = g.id AND y.met = 1) "
            "ORDER BY g.id, m.rowid",
            (start, end),
        )
        groups: dict[int, list[Any]] = {}
        for row in rows:
            groups.setdefault(int(row[0]), []).append(row)
        ties: list[Tie] = []
        for members in groups.values():
            kind = "circle" if members[0][1] == "circle" else "coffee"
            day = self._day(float(members[0][2]))
            for a, b in _coffee_pairs(members):
                ties.append(
                    Tie(
                        kind,
                        str(a[3]),
                        str(b[3]),
                        day,
                        _blank(a[4]),
                        _blank(a[5]),
                        _blank(b[4]),
                        _blank(b[5]),
                    )
                )
        return ties

    # -- spontaneous coffee breaks --------------------------------------------------------

    async def _breaks(self, first: date, last: date) -> list[Tie]:
        start, end = self._bounds(first, last)
        rows = await self.db.fetchall(
            "SELECT break_id, user_a, user_b, department_a, municipality_a, department_b, "
            "municipality_b, confirmed_at FROM coffee_break_ties "
            "WHERE confirmed_at >= ? AND confirmed_at < ? ORDER BY break_id",
            (start, end),
        )
        return [
            Tie(
                "break",
                r[1] if r[1] is not None else f"~former:break:{r[0]}:a",
                r[2] if r[2] is not None else f"~former:break:{r[0]}:b",
                self._day(float(r[7])),
                _blank(r[3]),
                _blank(r[4]),
                _blank(r[5]),
                _blank(r[6]),
            )
            for r in rows
        ]

    # -- hospitations ---------------------------------------------------------------------

    async def _hospitations(self, first: date, last: date) -> list[Tie]:
        rows = await self.db.fetchall(
            "SELECT id, host, participant, happened_on, host_department, host_municipality, "
            "participant_department, participant_municipality FROM hospitation_ties "
            "WHERE happened_on >= ? AND happened_on <= ? ORDER BY id",
            (first.isoformat(), last.isoformat()),
        )
        return [
            Tie(
                "hospitation",
                r[1] if r[1] is not None else f"~former:hospitation:{r[0]}:host",
                r[2] if r[2] is not None else f"~former:hospitation:{r[0]}:participant",
                date.fromisoformat(str(r[3])),
                _blank(r[4]),
                _blank(r[5]),
                _blank(r[6]),
                _blank(r[7]),
            )
            for r in rows
        ]

    # -- crisis connections ---------------------------------------------------------------

    async def _crisis(self, first: date, last: date) -> list[Tie]:
        start, end = self._bounds(first, last)
        rows = await self.db.fetchall(
            "SELECT id, requester, state FROM crisis_requests "
            "WHERE drill = 0 AND created_at >= ? AND created_at < ? ORDER BY created_at, id",
            (start - CRISIS_LOOKBACK.total_seconds(), end),
        )
        ties = []
        for row in rows:
            state = state_from_json(str(row[2]))
            if state.connected_to is None or state.connected_at is None:
                continue
            day = state.connected_at.astimezone(self.timezone).date()
            if not first <= day <= last:
                continue
            requester = row[1] if row[1] is not None else f"~former:crisis:{row[0]}:requester"
            ties.append(Tie("crisis", str(requester), str(state.connected_to), day))
        return ties

    # -- units from the profiles ------------------------------------------------------------

    async def _fill_from_profiles(self, ties: list[Tie]) -> list[Tie]:
        """Where a tie kept no department/municipality, take the person's current profile."""
        wanted = set()
        for t in ties:
            if t.department_a is None or t.municipality_a is None:
                wanted.add(t.person_a)
            if t.department_b is None or t.municipality_b is None:
                wanted.add(t.person_b)
        wanted = {person for person in wanted if not is_placeholder(person)}
        units = await self._units_of(wanted)
        if not units:
            return ties
        filled = []
        for t in ties:
            dept_a, muni_a = units.get(t.person_a, (None, None))
            dept_b, muni_b = units.get(t.person_b, (None, None))
            filled.append(
                Tie(
                    t.kind,
                    t.person_a,
                    t.person_b,
                    t.on,
                    t.department_a or dept_a,
                    t.municipality_a or muni_a,
                    t.department_b or dept_b,
                    t.municipality_b or muni_b,
                )
            )
        return filled

    async def _units_of(self, people: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        wanted = sorted(set(people))
        found: dict[str, tuple[str | None, str | None]] = {}
        for offset in range(0, len(wanted), 500):
            chunk = wanted[offset : offset + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT user_id, department, municipality FROM profiles "
                f"WHERE user_id IN ({marks})",
                chunk,
            )
            found.update({str(r[0]): (_blank(r[1]), _blank(r[2])) for r in rows})
        return found

    # -- participation and bridges --------------------------------------------------------

    async def members(self) -> list[Member]:
        """Every profile as (department, municipality, takes part, coffee on) — no IDs."""
        rows = await self.db.fetchall(
            "SELECT department, municipality, confirmed, coffee FROM profiles ORDER BY id"
        )
        return [Member(_blank(r[0]), _blank(r[1]), bool(r[2]), bool(r[3])) for r in rows]

    async def live_bridges(self, confirmed_since: datetime) -> dict[str, int]:
        """Distinct people per sector holding a contact confirmed since then (not expired)."""
        return await ContactStore(self.db).live_per_sector(confirmed_since.timestamp())


def _coffee_pairs(members: list[Any]) -> list[tuple[Any, Any]]:
    """The ties of a group that met (somebody answered yes): every pair of its members,
    leaving out members who answered no themselves (in a circle: they did not come; in a
    pair: the two disagree, and a tie needs both not to deny it)."""
    present = [m for m in members if m[6] is None or int(m[6]) == 1]
    return list(combinations(present, 2))
