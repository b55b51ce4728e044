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
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import combinations

from bot.domain.network.ties import Member, Tie
from bot.store.contacts import ContactStore
from bot.store.crisis import state_from_json
from bot.store.db import Database, Row

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


def _tie(
    kind: str,
    row_id: object,
    a: tuple[str, object],
    b: tuple[str, object],
    day: date,
    units: tuple[object, object, object, object] = (None, None, None, None),
) -> Tie:
    """The tie of table row `row_id`. `a`/`b` are (side, person); a person the table keeps
    as NULL (forgotten) becomes `~former:<kind>:<row_id>:<side>`. `units`: department and
    municipality of a, then of b, as stored with the tie (None: take the profile's)."""

    def person(side: str, who: object) -> str:
        return str(who) if who is not None else f"~former:{kind}:{row_id}:{side}"

    return Tie(kind, person(*a), person(*b), day, *(_blank(unit) for unit in units))


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
            "SELECT g.id AS group_id, r.kind, r.started_at, m.person, m.department, "
            "m.municipality, m.met "
            "FROM coffee_groups g JOIN coffee_rounds r ON r.id = g.round_id "
            "JOIN coffee_members m ON m.group_id = g.id "
            "WHERE r.started_at >= ? AND r.started_at < ? AND EXISTS "
            "(SELECT 1 FROM coffee_members y WHERE y.group_id = g.id AND y.met = 1) "
            "ORDER BY g.id, m.rowid",
            (start, end),
        )
        groups: dict[int, list[Row]] = {}
        for row in rows:
            groups.setdefault(int(row["group_id"]), []).append(row)
        ties: list[Tie] = []
        for group_id, members in groups.items():
            kind = "circle" if members[0]["kind"] == "circle" else "coffee"
            day = self._day(float(members[0]["started_at"]))
            for a, b in _coffee_pairs(members):
                units = (a["department"], a["municipality"], b["department"], b["municipality"])
                ties.append(
                    _tie(kind, group_id, ("a", a["person"]), ("b", b["person"]), day, units)
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
            _tie(
                "break",
                r["break_id"],
                ("a", r["user_a"]),
                ("b", r["user_b"]),
                self._day(float(r["confirmed_at"])),
                (r["department_a"], r["municipality_a"], r["department_b"], r["municipality_b"]),
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
            _tie(
                "hospitation",
                r["id"],
                ("host", r["host"]),
                ("participant", r["participant"]),
                date.fromisoformat(str(r["happened_on"])),
                (
                    r["host_department"],
                    r["host_municipality"],
                    r["participant_department"],
                    r["participant_municipality"],
                ),
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
            state = state_from_json(str(row["state"]))
            if state.connected_to is None or state.connected_at is None:
                continue
            day = state.connected_at.astimezone(self.timezone).date()
            if not first <= day <= last:
                continue
            requester = ("requester", row["requester"])
            ties.append(_tie("crisis", row["id"], requester, ("bridge", state.connected_to), day))
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
                replace(
                    t,
                    department_a=t.department_a or dept_a,
                    municipality_a=t.municipality_a or muni_a,
                    department_b=t.department_b or dept_b,
                    municipality_b=t.municipality_b or muni_b,
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
            found.update(
                {
                    str(r["user_id"]): (_blank(r["department"]), _blank(r["municipality"]))
                    for r in rows
                }
            )
        return found

    # -- participation and bridges --------------------------------------------------------

    async def members(self) -> list[Member]:
        """Every profile as (department, municipality, takes part, coffee on) — no IDs."""
        rows = await self.db.fetchall(
            "SELECT department, municipality, confirmed, coffee FROM profiles ORDER BY id"
        )
        return [
            Member(
                _blank(r["department"]),
                _blank(r["municipality"]),
                bool(r["confirmed"]),
                bool(r["coffee"]),
            )
            for r in rows
        ]

    async def live_bridges(self, confirmed_since: datetime) -> dict[str, int]:
        """Distinct people per sector holding a contact confirmed since then (not expired)."""
        return await ContactStore(self.db).live_per_sector(confirmed_since.timestamp())


def _coffee_pairs(members: list[Row]) -> list[tuple[Row, Row]]:
    """The ties of a group that met (somebody answered yes): every pair of its members,
    leaving out members who answered no themselves (in a circle: they did not come; in a
    pair: the two disagree, and a tie needs both not to deny it)."""
    present = [m for m in members if m["met"] is None or int(m["met"]) == 1]
    return list(combinations(present, 2))
