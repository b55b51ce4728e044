"""Gathering ties from the feature tables: which rows are ties, their dates in local time,
units from the snapshot or else the current profile, placeholders for forgotten people,
drills left out, and nothing written."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.crisis import RequestState
from bot.domain.network.ties import Member, Tie
from bot.store.coffee import CoffeeStore
from bot.store.coffee_breaks import CoffeeBreakStore, Placement
from bot.store.coffee_rows import NewGroup, NewMember, RoundKind
from bot.store.contacts import ContactStore, StoredContact
from bot.store.crisis import CrisisStore, StoredRequest
from bot.store.db import Database
from bot.store.hospitation_rows import HospitationTie
from bot.store.hospitations import HospitationStore
from bot.store.profiles import ProfileRepository
from bot.store.ties import TieStore, is_placeholder

BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def uid(name: str) -> str:
    return f"@{name}:rathaus.example"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


@pytest.fixture
async def db(db: Database) -> Database:
    """The kit's store with five colleagues (emil unconfirmed, anna in coffee)."""
    profiles = ProfileRepository(db)
    for name, department, municipality in (
        ("anna", "Bauamt", "Musterstadt"),
        ("bernd", "Kämmerei", "Musterstadt"),
        ("cem", "Ordnungsamt", "Beispieldorf"),
        ("dora", "Jugendamt", "Beispieldorf"),
        ("emil", None, "Beispieldorf"),
    ):
        await profiles.create(uid(name), at(2026, 1, 1), confirmed=name != "emil")
        await profiles.update(
            uid(name), department=department, municipality=municipality, coffee=name == "anna"
        )
    return db


async def coffee_round(
    db: Database,
    kind: RoundKind,
    key: str,
    started: float,
    groups: list[list[tuple[str, str, str, bool | None]]],
) -> None:
    store = CoffeeStore(db)
    row = await store.insert_round(
        kind,
        key,
        trigger="admin",
        started_at=started,
        people=9,
        groups=len(groups),
        unmatched=0,
    )
    assert row is not None
    await store.insert_groups(
        row.id,
        [
            NewGroup(
                idx=i,
                kind="circle" if kind == "circle" else ("pair" if len(members) == 2 else "trio"),
                members=tuple(NewMember(uid(p), d, m) for p, d, m, _ in members),
                room_key=f"{key}/{i}",
                intro_key=f"{key}/{i}:intro",
                followup_key=f"{key}/{i}:followup",
                followup_due_at=started + 86400,
            )
            for i, members in enumerate(groups)
        ],
        started,
    )
    for group, members in zip(await store.groups_of_round(row.id), groups, strict=True):
        for person, _, _, met in members:
            if met is not None:
                await store.set_answer(group.id, uid(person), met, "👍", started + 3600)


async def test_coffee_groups_that_met_are_ties_between_members_who_did_not_deny(
    db: Database,
) -> None:
    # 00:30 in Berlin on 1 November is still 31 October in UTC: the local date counts.
    await coffee_round(
        db,
        "coffee",
        "coffee:2026-W44",
        at(2026, 11, 1, 0, 30),
        [
            [("anna", "Bauamt", "Musterstadt", True), ("cem", "Ordnungsamt", "Beispieldorf", None)],
            [("bernd", "", "", True), ("dora", "Jugendamt", "Beispieldorf", False)],  # denied
            [("anna", "Bauamt", "Musterstadt", None), ("dora", "Jugendamt", "Beispieldorf", None)],
            [
                ("bernd", "", "", True),  # no snapshot: the current profile
                ("cem", "Ordnungsamt", "Beispieldorf", None),
                ("dora", "Jugendamt", "Beispieldorf", None),
            ],
        ],
    )
    await coffee_round(
        db,
        "circle",
        "circle:2026-11",
        at(2026, 11, 4, 10),
        [
            [
                ("anna", "Bauamt", "Musterstadt", None),
                ("bernd", "Kämmerei", "Musterstadt", False),  # did not come
                ("cem", "Ordnungsamt", "Beispieldorf", True),
            ]
        ],
    )
    await coffee_round(  # before the range
        db,
        "coffee",
        "coffee:2026-W43",
        at(2026, 10, 31, 23, 30),
        [[("anna", "Bauamt", "Musterstadt", True), ("bernd", "", "", None)]],
    )
    ties = await TieStore(db, BERLIN).ties(*NOVEMBER)
    first = date(2026, 11, 1)
    assert ties == [
        Tie(
            "coffee",
            uid("anna"),
            uid("cem"),
            first,
            "Bauamt",
            "Musterstadt",
            "Ordnungsamt",
            "Beispieldorf",
        ),
        Tie(
            "coffee",
            uid("bernd"),
            uid("cem"),
            first,
            "Kämmerei",
            "Musterstadt",
            "Ordnungsamt",
            "Beispieldorf",
        ),
        Tie(
            "coffee",
            uid("bernd"),
            uid("dora"),
            first,
            "Kämmerei",
            "Musterstadt",
            "Jugendamt",
            "Beispieldorf",
        ),
        Tie(
            "coffee",
            uid("cem"),
            uid("dora"),
            first,
            "Ordnungsamt",
            "Beispieldorf",
            "Jugendamt",
            "Beispieldorf",
        ),
        Tie(
            "circle",
            uid("anna"),
            uid("cem"),
            date(2026, 11, 4),
            "Bauamt",
            "Musterstadt",
            "Ordnungsamt",
            "Beispieldorf",
        ),
    ]
    october = await TieStore(db, BERLIN).ties(date(2026, 10, 31), date(2026, 10, 31))
    assert [(t.kind, t.on) for t in october] == [("coffee", date(2026, 10, 31))]


async def test_forgotten_people_are_placeholders_with_the_kept_units(db: Database) -> None:
    await coffee_round(
        db,
        "coffee",
        "coffee:2026-W45",
        at(2026, 11, 2, 9),
        [
            [("gone", "Bauamt", "Musterstadt", None), ("cem", "Ordnungsamt", "Beispieldorf", True)],
            [
                ("typed", "Mein Büro", "Musterstadt", True),
                ("dora", "Jugendamt", "Beispieldorf", None),
            ],
        ],
    )
    coffee = CoffeeStore(db)
    await coffee.forget(uid("gone"), keep_places=["Bauamt", "Musterstadt", "Beispieldorf"])
    await coffee.forget(uid("typed"), keep_places=["Bauamt", "Musterstadt", "Beispieldorf"])
    ties = await TieStore(db, BERLIN).ties(*NOVEMBER)
    assert len(ties) == 2
    gone, typed = ties
    assert is_placeholder(gone.person_a) and gone.person_a.startswith("~forgotten:")
    assert (gone.department_a, gone.municipality_a) == ("Bauamt", "Musterstadt")
    assert is_placeholder(typed.person_a)
    # A department the person typed in is gone with them: unknown, not looked up anywhere.
    assert (typed.department_a, typed.municipality_a) == (None, "Musterstadt")
    assert not any("gone" in t.person_a + t.person_b for t in ties)


async def test_coffee_breaks_hospitations_and_crisis_connections(db: Database) -> None:
    breaks = CoffeeBreakStore(db)
    for a, b, when, places in (
        (
            "anna",
            "bernd",
            at(2026, 11, 10, 10),
            (Placement("Bauamt", "Musterstadt"), Placement("Kämmerei", "Musterstadt")),
        ),
        ("cem", "emil", at(2026, 11, 11, 10), (Placement(), Placement())),  # from profiles
        ("anna", "dora", at(2026, 12, 1, 10), (Placement(), Placement())),  # after the range
    ):
        break_id = await breaks.add_break(uid(a), uid(b), 15, when, when + 600)
        item = await breaks.get_break(break_id)
        assert item is not None
        await breaks.record_tie(item, *places, when + 900)
    await breaks.forget(uid("emil"))

    hospitations = HospitationStore(db)
    await hospitations.save_tie(
        HospitationTie(
            "H-AAAA",
            uid("dora"),
            uid("host-gone"),
            date(2026, 11, 20),
            "Jugendamt",
            "Beispieldorf",
            "Bauamt",
            "Musterstadt",
        ),
        at(2026, 11, 21),
    )
    await hospitations.forget_participant(uid("host-gone"))

    crisis = CrisisStore(db)
    for request_id, requester, bridge, created, drill in (
        ("A-AAAA", "bernd", "cem", datetime(2026, 11, 30, 23, 50, tzinfo=BERLIN), False),
        ("A-BBBB", "bernd", "dora", datetime(2026, 11, 5, 9, tzinfo=BERLIN), True),  # drill
        ("A-CCCC", "bernd", None, datetime(2026, 11, 6, 9, tzinfo=BERLIN), False),  # no yes
        ("A-DDDD", "~former-1", "anna", datetime(2026, 10, 31, 23, 58, tzinfo=BERLIN), False),
    ):
        state = RequestState(
            created_at=created,
            drill=drill,
            connected_to=None if bridge is None else uid(bridge),
            connected_at=None if bridge is None else created + timedelta(minutes=5),
        )
        requester_id = requester if requester.startswith("~") else uid(requester)
        assert await crisis.create(
            StoredRequest(request_id, requester_id, "Wer kennt wen?", False, drill, None, state)
        )

    ties = await TieStore(db, BERLIN).ties(*NOVEMBER)
    by_kind = {(t.kind, t.on): t for t in ties}
    assert len(ties) == 5
    assert by_kind["break", date(2026, 11, 10)] == Tie(
        "break",
        uid("anna"),
        uid("bernd"),
        date(2026, 11, 10),
        "Bauamt",
        "Musterstadt",
        "Kämmerei",
        "Musterstadt",
    )
    emil = by_kind["break", date(2026, 11, 11)]
    assert (emil.person_a, emil.department_a, emil.municipality_a) == (
        uid("cem"),
        "Ordnungsamt",
        "Beispieldorf",
    )
    assert is_placeholder(emil.person_b) and emil.department_b is None
    hospitation = by_kind["hospitation", date(2026, 11, 20)]
    assert hospitation.person_a == uid("dora")
    assert hospitation.person_b.startswith("~former:hospitation:")
    assert (hospitation.department_b, hospitation.municipality_b) == ("Bauamt", "Musterstadt")
    # Connected at 23:55 on 30 November in Berlin (already 1 December in no time zone here).
    late = by_kind["crisis", date(2026, 11, 30)]
    assert (late.person_a, late.person_b) == (uid("bernd"), uid("cem"))
    assert (late.department_a, late.department_b) == ("Kämmerei", "Ordnungsamt")
    # Created on 31 October, connected on 1 November: counts for November.
    early = by_kind["crisis", date(2026, 11, 1)]
    assert early.person_a == "~former-1" and early.department_a is None
    assert early.department_b == "Bauamt"


async def test_reading_ties_writes_nothing(db: Database) -> None:
    await coffee_round(
        db,
        "coffee",
        "coffee:2026-W46",
        at(2026, 11, 9, 9),
        [[("anna", "", "", True), ("bernd", "", "", None)]],
    )
    before = await every_row(db)
    store = TieStore(db, BERLIN)
    assert len(await store.ties(*NOVEMBER)) == 1
    await store.members()
    await store.live_bridges(datetime(2026, 1, 1, tzinfo=BERLIN))
    assert await every_row(db) == before


async def every_row(db: Database) -> dict[str, list[str]]:
    """Every row of every table, per table (both backends: the catalogues differ)."""
    tables = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if db.dialect == "sqlite"
        else "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    )
    found = {}
    for table in [str(r["name"]) for r in await db.fetchall(tables)]:
        rows = await db.fetchall(f"SELECT * FROM {table}")
        found[table] = sorted(repr([r[k] for k in r.keys()]) for r in rows)  # noqa: SIM118
    return found


async def test_members_and_live_bridges(db: Database) -> None:
    members = await TieStore(db, BERLIN).members()
    assert members[0] == Member("Bauamt", "Musterstadt", True, True)
    assert members[-1] == Member(None, "Beispieldorf", False, False)
    assert len(members) == 5

    contacts = ContactStore(db)
    for contact_id, person, sector, confirmed in (
        ("K-AAAA", "anna", "Logistik", at(2026, 11, 1)),
        ("K-BBBB", "anna", "Logistik", at(2026, 11, 2)),
        ("K-CCCC", "bernd", "Logistik", at(2026, 11, 3)),
        ("K-DDDD", "cem", "Wissenschaft", at(2024, 1, 1)),  # expired
    ):
        await contacts.add(
            StoredContact(contact_id, uid(person), "Firma", sector, confirmed, confirmed)
        )
    live = await TieStore(db, BERLIN).live_bridges(datetime(2025, 11, 1, tzinfo=BERLIN))
    assert live == {"Logistik": 2}
