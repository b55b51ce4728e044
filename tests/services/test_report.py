"""The network report end to end on a seeded store: rows written through the features' own
store modules, the report built by the service, posted through a recording messenger, and
written as files by the command line. Exact aggregates, k-anonymity, and no Matrix ID,
name or free text in anything produced."""

from __future__ import annotations

import csv
import functools
import io
import struct
import zipfile
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.__main__ import build_parser
from bot.config import Config, parse_config
from bot.domain.crisis import RequestState
from bot.domain.network.computation import network_report
from bot.domain.network.periods import Period, PeriodError, month_period
from bot.domain.network.report import NetworkReport
from bot.domain.network.ties import OTHER
from bot.i18n.render import Rendered
from bot.report.charts import PNG_SIGNATURE, heatmap_chart, png_size, ties_chart
from bot.services.report import (
    MONTHLY_KEY,
    PENDING_KEY,
    ReportCliError,
    ReportService,
    report_to_directory,
)
from bot.store.bot_state import BotState
from bot.store.coffee import CoffeeStore
from bot.store.coffee_breaks import CoffeeBreakStore, Placement
from bot.store.coffee_rows import NewGroup, NewMember
from bot.store.contacts import ContactStore, StoredContact
from bot.store.crisis import CrisisStore, StoredRequest
from bot.store.db import Database
from bot.store.hospitation_rows import HospitationTie
from bot.store.hospitations import HospitationStore
from bot.store.profiles import ProfileRepository
from tests.support.config import make_config
from tests.support.fakes import RecordingMessenger, Sent

BERLIN = ZoneInfo("Europe/Berlin")
SERVER = "rathaus.example"
ADMIN_ROOM = "!admins:rathaus.example"
DEPARTMENTS = ["Bauamt", "Kämmerei", "Ordnungsamt", "Standesamt", "Jugendamt", "Bauhof"]
MUNICIPALITIES = ["Musterstadt", "Beispieldorf"]

# short name: (department, municipality, confirmed, coffee on)
PEOPLE: dict[str, tuple[str, str, bool, bool]] = {
    **{f"b{i}": ("Bauamt", "Musterstadt", True, i != 5) for i in range(1, 6)},
    **{f"k{i}": ("Kämmerei", "Musterstadt", True, True) for i in range(1, 6)},
    "k6": ("Kämmerei", "Musterstadt", False, False),  # imported, not (yet) taking part
    "k7": ("Kämmerei", "Musterstadt", False, False),
    **{f"o{i}": ("Ordnungsamt", "Beispieldorf", True, True) for i in range(1, 6)},
    **{f"s{i}": ("Standesamt", "Musterstadt", True, False) for i in range(1, 6)},
    **{f"j{i}": ("Jugendamt", "Beispieldorf", True, True) for i in range(1, 4)},
    **{f"h{i}": ("Bauhof", "Beispieldorf", True, True) for i in range(1, 3)},
}
GONE = "gone"  # a coffee member who used !vergessen afterwards
GONE_TOO = "gonetoo"  # a hospitation participant who used !vergessen afterwards


def uid(name: str) -> str:
    return f"@{name}:{SERVER}"


def display_name(name: str) -> str:
    return f"Person {name.upper()} Mustermann"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


def report_config(**report: Any) -> Config:
    return make_config(
        bot={"admins": [uid("admin")], "admin_room": ADMIN_ROOM},
        directory={"departments": DEPARTMENTS, "municipalities": MUNICIPALITIES},
        report=report,
    )


def cli_config(db: Database) -> Config:
    """`report_config()` whose store is `db`, as the command line finds it: the SQLite file
    in `storage.data_dir`, or the PostgreSQL URL in `storage.database`."""
    base = report_config()
    storage: dict[str, Any]
    if isinstance(db.path, Path):
        storage = {"data_dir": db.path.parent}
    else:
        storage = {"database": str(db.path)}
    return base.model_copy(update={"storage": base.storage.model_copy(update=storage)})


async def seed_network(db: Database) -> None:
    """The scenario of the expectations below (tie numbers T1… as in test_network.py)."""
    profiles = ProfileRepository(db)
    for name, (department, municipality, confirmed, coffee) in PEOPLE.items():
        await profiles.create(uid(name), at(2026, 1, 5), confirmed=confirmed)
        await profiles.update(
            uid(name),
            display_name=display_name(name),
            department=department,
            municipality=municipality,
            tasks=f"Aufgaben von {display_name(name)}",
            coffee=coffee,
        )

    rounds = CoffeeStore(db)

    async def round_with(
        kind: str, key: str, started: float, groups: list[list[tuple[str, bool | None]]]
    ) -> None:
        row = await rounds.insert_round(
            kind,  # type: ignore[arg-type]
            key,
            trigger="schedule",
            started_at=started,
            people=sum(len(g) for g in groups),
            groups=len(groups),
            unmatched=0,
        )
        assert row is not None
        new = []
        for idx, members in enumerate(groups):
            group_kind = "circle" if kind == "circle" else ("pair" if len(members) == 2 else "trio")
            new.append(
                NewGroup(
                    idx=idx,
                    kind=group_kind,  # type: ignore[arg-type]
                    members=tuple(
                        NewMember(uid(m), *PEOPLE.get(m, ("Bauamt", "Musterstadt"))[:2])
                        for m, _ in members
                    ),
                    room_key=f"{key}/{idx}",
                    intro_key=f"{key}/{idx}:intro",
                    followup_key=f"{key}/{idx}:followup",
                    followup_due_at=started + 3 * 86400,
                    shared=("Bauleitplanung", display_name(members[0][0])),
                )
            )
        await rounds.insert_groups(row.id, new, started)
        for group, members in zip(await rounds.groups_of_round(row.id), groups, strict=True):
            for person, met in members:
                if met is not None:
                    await rounds.set_answer(group.id, uid(person), met, None, started + 86400)

    # September (chart only) — a coffee break b1–o1, below.
    # October (the previous period): T11 b1–k2 met.
    await round_with(
        "coffee", "coffee:2026-W41", at(2026, 10, 5, 9), [[("b1", True), ("k2", None)]]
    )
    # November: T1 b1–o1 met; k1–b2 (b2 says no: no tie); k2–o2 (no answer: no tie);
    # T13 gone–o2 (o2 says yes; gone is forgotten later).
    await round_with(
        "coffee",
        "coffee:2026-W45",
        at(2026, 11, 2, 9),
        [
            [("b1", True), ("o1", None)],
            [("k1", True), ("b2", False)],
            [("k2", None), ("o2", None)],
            [(GONE, None), ("o2", True)],
        ],
    )
    # T4: a circle o3, j1, h1, k3 that met; h1 answered no and is left out.
    await round_with(
        "circle",
        "circle:2026-11",
        at(2026, 11, 4, 10),
        [[("o3", True), ("j1", None), ("h1", False), ("k3", None)]],
    )
    await rounds.forget(uid(GONE), keep_places=[*DEPARTMENTS, *MUNICIPALITIES])

    breaks = CoffeeBreakStore(db)

    async def coffee_break(a: str, b: str, when: float, *, snapshot: bool) -> None:
        break_id = await breaks.add_break(uid(a), uid(b), 15, when, when + 1200)
        item = await breaks.get_break(break_id)
        assert item is not None
        places = (
            (Placement(*PEOPLE[a][:2]), Placement(*PEOPLE[b][:2]))
            if snapshot
            else (Placement(), Placement())
        )
        await breaks.record_tie(item, *places, when + 1500)

    await coffee_break("b1", "o1", at(2026, 9, 15, 10), snapshot=True)  # September: chart only
    await coffee_break("b3", "b4", at(2026, 11, 10, 10), snapshot=True)  # T5
    await coffee_break("k4", "k5", at(2026, 11, 12, 10), snapshot=False)  # T6 (from profiles)
    await coffee_break("s1", "s2", at(2026, 11, 13, 10), snapshot=True)  # T14

    hospitations = HospitationStore(db)
    await hospitations.save_tie(  # T7
        HospitationTie(
            "H-AAAA",
            uid("o4"),
            uid("b5"),
            date(2026, 11, 20),
            "Ordnungsamt",
            "Beispieldorf",
            "Bauamt",
            "Musterstadt",
        ),
        at(2026, 11, 21, 10),
    )
    await hospitations.save_tie(  # T8: the participant is forgotten later
        HospitationTie(
            "H-BBBB",
            uid("k1"),
            uid(GONE_TOO),
            date(2026, 11, 24),
            "Kämmerei",
            "Musterstadt",
            "Bauamt",
            "Musterstadt",
        ),
        at(2026, 11, 25, 10),
    )
    await hospitations.forget_participant(uid(GONE_TOO))

    crisis = CrisisStore(db)

    async def request(
        request_id: str, requester: str, bridge: str | None, when: datetime, drill: bool
    ) -> None:
        state = RequestState(
            created_at=when,
            drill=drill,
            connected_to=None if bridge is None else uid(bridge),
            connected_at=None if bridge is None else when + timedelta(minutes=12),
        )
        stored = StoredRequest(
            request_id,
            uid(requester),
            f"Wer kennt jemanden? fragt {display_name(requester)}",
            False,
            drill,
            None,
            state,
        )
        assert await crisis.create(stored)
        await crisis.save_state(request_id, state, None)

    await request("A-AAAA", "o5", "j2", datetime(2026, 11, 25, 14, tzinfo=BERLIN), False)  # T9
    await request("A-BBBB", "o5", "k5", datetime(2026, 11, 26, 14, tzinfo=BERLIN), True)  # drill
    await request("A-CCCC", "o4", None, datetime(2026, 11, 27, 14, tzinfo=BERLIN), False)

    contacts = ContactStore(db)
    now = at(2026, 12, 1, 9)
    for contact_id, person, sector, confirmed_at in (
        ("K-AAAA", "o1", "Logistik", now),
        ("K-BBBB", "o2", "Logistik", now),
        ("K-CCCC", "o2", "Logistik", now),  # the same person twice: still two bridges
        ("K-DDDD", "j1", "Soziale Träger", now),
        ("K-EEEE", "b1", "Wissenschaft", at(2024, 6, 1)),  # expired
    ):
        await contacts.add(
            StoredContact(
                contact_id,
                uid(person),
                f"Firma von {display_name(person)}",
                sector,
                confirmed_at,
                confirmed_at,
            )
        )


NOW = datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(db: Database) -> Database:
    """The kit's store with the network of `seed_network`."""
    await seed_network(db)
    return db


def make_service(
    db: Database, clock: Clock | None = None, **report: Any
) -> tuple[ReportService, RecordingMessenger]:
    messenger = RecordingMessenger()
    return ReportService(db, report_config(**report), messenger, clock or Clock()), messenger


NOVEMBER = month_period(date(2026, 11, 1))


def forbidden_strings() -> list[str]:
    """What must never appear in a report: Matrix IDs, names, free text."""
    names = [*PEOPLE, GONE, GONE_TOO]
    return [
        "@",
        SERVER,
        "~forgotten",
        "~former",
        "Mustermann",
        "Aufgaben von",
        "Firma von",
        "Wer kennt",
        "Bauleitplanung",
        *(uid(n) for n in names),
        *(display_name(n) for n in names),
    ]


def assert_anonymous(blob: bytes | str, what: str) -> None:
    """Text (and CSV, Markdown, HTML) must not contain any forbidden string. A PNG: its
    text chunks must not; its compressed pixels are searched for the long ones (Matrix IDs,
    names — the labels drawn in the picture are checked in an SVG rendering instead)."""
    if isinstance(blob, bytes) and blob.startswith(PNG_SIGNATURE):
        for chunk in png_text(blob):
            assert_anonymous(chunk, f"text chunk of {what}")
        raw = blob.decode("latin-1")
        for needle in forbidden_strings():
            assert len(needle) < 8 or needle not in raw, f"{needle!r} in {what}"
        return
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    for needle in forbidden_strings():
        assert needle not in text, f"{needle!r} in {what}"
    for unit in ("Jugendamt", "Bauhof"):  # fewer than k participants: merged
        assert unit not in text, f"{unit!r} in {what}"


def png_text(data: bytes) -> list[str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, decompressed."""
    found, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            found.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            found.append(key.decode("latin-1") + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            found.append(body.decode("utf-8", "replace"))
        offset += 12 + length
    return found


def assert_pictures_anonymous(report: NetworkReport) -> None:
    """Every label drawn in the charts, read from an SVG rendering (text kept as text)."""
    for lang in ("de", "en"):
        for svg in (ties_chart(report, lang, "svg"), heatmap_chart(report, lang, fmt="svg")):
            text = svg.decode("utf-8")
            assert "<svg" in text
            assert_anonymous(text, f"SVG chart ({lang})")
    assert "Ordnungsamt" in heatmap_chart(report, "de", fmt="svg").decode("utf-8")


# -- the aggregates ----------------------------------------------------------------------


async def test_exact_aggregates_of_the_seeded_month(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The arithmetic, without suppressing counts below k (what the tests below check).
    monkeypatch.setattr(
        "bot.services.report.network_report", functools.partial(network_report, smallest_count=1)
    )
    service, _ = make_service(db)
    report = await service.build(NOVEMBER)
    assert not report.suppressed
    assert report.previous == month_period(date(2026, 10, 1))
    assert (report.participants, report.profiles, report.opted_in) == (25, 27, 19)

    now, before = report.current, report.before
    assert now.ties == 11
    assert dict(now.by_kind) == {
        "coffee": 2,
        "circle": 3,
        "break": 3,
        "hospitation": 2,
        "crisis": 1,
    }
    assert (now.pairs, now.people) == (11, 19)
    assert (before.ties, before.by_kind["coffee"]) == (1, 1)

    dep, mun = report.departments, report.municipalities
    assert (dep.current.cross, dep.current.internal, dep.current.unclassified) == (8, 3, 0)
    assert dep.current.ei == pytest.approx(5 / 11)
    assert (mun.current.cross, mun.current.internal) == (5, 6)
    assert mun.current.ei == pytest.approx(-1 / 11)
    assert (dep.previous.cross, dep.previous.internal, dep.previous.ei) == (1, 0, 1.0)

    rows = {r.unit: r for r in dep.units}
    assert [r.unit for r in dep.units] == ["Bauamt", "Kämmerei", "Ordnungsamt", "Standesamt", OTHER]
    expected = {  # unit: (external, internal, E-I, E-I before, participants, profiles)
        "Bauamt": (4, 1, 0.6, 1.0, 5, 5),
        "Kämmerei": (3, 1, 0.5, 1.0, 5, 7),
        "Ordnungsamt": (6, 0, 1.0, None, 5, 5),
        "Standesamt": (0, 1, -1.0, None, 5, 5),
        OTHER: (3, 0, 1.0, None, 5, 5),
    }
    for unit, (ext, inside, ei, ei_before, participants, profiles) in expected.items():
        row = rows[unit]
        assert (row.external, row.internal, row.participants, row.profiles) == (
            ext,
            inside,
            participants,
            profiles,
        ), unit
        assert row.ei == pytest.approx(ei), unit
        assert row.ei_previous == (None if ei_before is None else pytest.approx(ei_before)), unit
    assert rows["Kämmerei"].share == pytest.approx(5 / 7)
    assert rows["Bauamt"].opted_in == 4
    assert dep.isolated == ("Standesamt",)
    assert dep.isolated_previous == 3
    assert dep.components == 2
    assert dep.merged == 2
    assert dep.matrix_units == ("Bauamt", "Kämmerei", "Ordnungsamt", "Standesamt", OTHER)
    assert dep.matrix == (
        (1, 1, 3, 0, 0),
        (1, 1, 1, 0, 1),
        (3, 1, 0, 0, 2),
        (0, 0, 0, 1, 0),
        (0, 1, 2, 0, 0),
    )

    munis = {r.unit: r for r in mun.units}
    assert [r.unit for r in mun.units] == ["Musterstadt", "Beispieldorf"]
    assert (munis["Musterstadt"].external, munis["Musterstadt"].internal) == (5, 4)
    assert munis["Musterstadt"].ei == pytest.approx(1 / 9)
    assert (munis["Beispieldorf"].external, munis["Beispieldorf"].internal) == (5, 2)
    assert munis["Beispieldorf"].ei == pytest.approx(3 / 7)
    assert mun.isolated == ()

    assert [(m.month, m.ties, m.cross_department, m.cross_municipality) for m in report.months] == [
        (date(2026, 11, 1), 11, 8, 5)
    ]
    chart = {m.month: m.ties for m in report.chart}
    assert len(report.chart) == 12 and report.chart[0].month == date(2025, 12, 1)
    assert (chart[date(2026, 9, 1)], chart[date(2026, 10, 1)], chart[date(2026, 11, 1)]) == (
        1,
        1,
        11,
    )

    sectors = {s.sector: (s.live_bridges, s.thin) for s in report.sectors}
    assert sectors["Logistik"] == (2, False)
    assert sectors["Soziale Träger"] == (1, True)
    assert sectors["Wissenschaft"] == (0, True)


async def test_units_under_k_are_merged_and_a_small_total_shows_nothing(db: Database) -> None:
    service, _ = make_service(db, k_anonymity=6)
    report = await service.build(NOVEMBER)
    # Nobody has 6 participants: every unit is merged, and so one "Sonstige" row remains.
    assert [r.unit for r in report.departments.units] == [OTHER]
    assert report.departments.units[0].participants == 25
    assert report.departments.isolated == ()

    service, _ = make_service(db, k_anonymity=26)
    report = await service.build(NOVEMBER)
    assert report.suppressed
    assert report.current.ties == 0 and report.departments.units == ()


# -- chat ------------------------------------------------------------------------------


def rendered_document(sent: Sent) -> Rendered:
    assert sent.message is not None and sent.message.key == "report.document"
    document = sent.message.params["document"]
    assert isinstance(document, Rendered)
    return document


async def test_admin_request_posts_summary_and_two_pictures_once(db: Database) -> None:
    service, messenger = make_service(db)
    room = "!office:rathaus.example"
    accepted = await service.request(
        uid("admin"), {"admin"}, event_id="$e1", room_id=room, lang="de", period=NOVEMBER
    )
    assert accepted
    assert await BotState(db).get(PENDING_KEY) is not None
    await service.tick()
    await service.tick()  # nothing left to do: nothing twice
    assert await BotState(db).get(PENDING_KEY) is None
    sent = messenger.to(room)
    assert [s.effect_key for s in sent] == [
        "report:$e1:summary",
        "report:$e1:ties.png",
        "report:$e1:heatmap.png",
    ]
    document = rendered_document(sent[0])
    assert "Netzwerkbericht: November 2026" in document.plain
    assert "<table>" in document.html and "<td>Sonstige</td>" in document.html
    assert "Standesamt" in document.plain  # the isolated department is named
    assert "Soziale Träger (1)" in document.plain
    assert document.plain.endswith("!admin bericht csv")  # November is the default now
    # Counts below k are suppressed (review finding S-07): 4 and 1 ties of the Bauamt.
    assert "| Bauamt | 5 | 100 % | < 5 | < 5 | – | – |" in document.plain
    assert_anonymous(document.plain, "plain body")
    assert_anonymous(document.html, "HTML body")
    for image in sent[1:]:
        attachment = image.extra["attachment"]
        assert attachment.mimetype == "image/png"
        assert attachment.data.startswith(PNG_SIGNATURE)
        width, height = png_size(attachment.data)
        assert image.extra["picture"] == (width, height)  # shown inline as a picture
        assert width >= 500 and height >= 400
        assert len(attachment.data) > 10_000  # a real chart, not an empty canvas
        assert_anonymous(attachment.data, attachment.filename)
    assert_pictures_anonymous(await service.build(NOVEMBER))


async def test_english_and_csv_archive(db: Database) -> None:
    service, messenger = make_service(db)
    await service.request(
        uid("admin"),
        {"admin"},
        event_id="$e2",
        room_id="!r",
        lang="en",
        period=NOVEMBER,
        csv=True,
    )
    await service.tick()
    caption, archive = messenger.to("!r")
    assert "CSV" in rendered_document(caption).plain
    attachment = archive.extra["attachment"]
    assert archive.extra["picture"] is None  # a file to download, not a picture
    assert attachment.filename == "flurfunk-netzwerkbericht-2026-11.zip"
    with zipfile.ZipFile(io.BytesIO(attachment.data)) as files:
        names = set(files.namelist())
        assert names == {
            "summary.csv",
            "months.csv",
            "departments.csv",
            "municipalities.csv",
            "department_matrix.csv",
            "municipality_matrix.csv",
            "sectors.csv",
        }
        contents = {name: files.read(name) for name in names}
    for name, data in contents.items():
        assert_anonymous(data, name)
    departments = list(
        csv.DictReader(io.StringIO(contents["departments.csv"].decode("utf-8-sig")), delimiter=";")
    )
    by_unit = {row["unit"]: row for row in departments}
    assert set(by_unit) == {"Bauamt", "Kämmerei", "Ordnungsamt", "Standesamt", "Other"}
    assert by_unit["Ordnungsamt"]["ei_index"] == "1.000"
    assert (by_unit["Bauamt"]["external_ties"], by_unit["Bauamt"]["ei_index"]) == ("<5", "")
    assert by_unit["Standesamt"]["isolated"] == "1"
    assert by_unit["Kämmerei"]["participation_share"] == "0.714"


async def test_non_admins_are_refused_and_nothing_is_stored(db: Database) -> None:
    service, messenger = make_service(db, monthly=False)
    accepted = await service.request(
        uid("b1"), {"staff", "crisis"}, event_id="$e3", room_id="!r", lang="de", period=NOVEMBER
    )
    assert not accepted
    await service.tick()
    assert messenger.sent == [] and await BotState(db).get(PENDING_KEY) is None


async def test_pending_request_survives_a_restart(db: Database) -> None:
    first, lost = make_service(db)
    await first.request(
        uid("admin"), {"admin"}, event_id="$e4", room_id="!r", lang="de", period=NOVEMBER
    )
    # The bot dies before the job ran: a new service (after the restart) answers it.
    second, messenger = make_service(db)
    await second.tick()
    assert lost.sent == []
    assert messenger.sent[0].effect_key == "report:$e4:summary"


# -- the monthly report ------------------------------------------------------------------


async def test_monthly_report_once_per_month_in_its_window(db: Database) -> None:
    clock = Clock(datetime(2026, 12, 1, 8, 59, tzinfo=BERLIN))
    service, messenger = make_service(db, clock)
    assert not await service.monthly_if_due()  # not yet
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    assert await service.monthly_if_due()
    assert not await service.monthly_if_due()
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=BERLIN)  # within the grace time, posted
    await service.tick()
    assert [s.effect_key for s in messenger.sent] == [
        "report:monthly:2026-11:summary",
        "report:monthly:2026-11:ties.png",
        "report:monthly:2026-11:heatmap.png",
    ]
    assert {s.target for s in messenger.sent} == {ADMIN_ROOM}
    assert "November 2026" in rendered_document(messenger.sent[0]).plain
    assert await BotState(db).get(MONTHLY_KEY) == "2026-11"
    # A bot that was down for longer than the grace time skips the month.
    clock.now = datetime(2027, 1, 5, 9, 0, tzinfo=BERLIN)
    assert not await service.monthly_if_due()


async def test_no_monthly_report_without_admin_room(tmp_path: Path) -> None:
    database = Database(tmp_path / "empty.db")
    await database.open()
    try:
        config = report_config()
        config = config.model_copy(
            update={"bot": config.bot.model_copy(update={"admin_room": None})}
        )
        service = ReportService(
            database, config, RecordingMessenger(), Clock(datetime(2026, 12, 1, 9, tzinfo=BERLIN))
        )
        assert not await service.monthly_if_due()
        report = await service.build(NOVEMBER)
        assert report.suppressed and report.participants == 0
    finally:
        await database.close()


# -- periods -----------------------------------------------------------------------------


async def test_period_words_are_relative_to_the_clock(db: Database) -> None:
    service, _ = make_service(db)
    assert service.parse_period(None) == NOVEMBER  # the last complete month
    assert service.parse_period("monat") == NOVEMBER
    assert service.parse_period("2026-12") is PeriodError.RUNNING
    assert service.parse_period("30") is PeriodError.WHOLE_MONTHS
    assert service.parse_period("quartal") == Period("quarter", date(2026, 7, 1), date(2026, 9, 30))
    assert service.parse_period("2027") is PeriodError.FUTURE
    assert service.parse_period("irgendwann") is PeriodError.UNREADABLE


# -- the command line --------------------------------------------------------------------


async def test_command_line_writes_every_file_without_personal_data(
    db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    written = await report_to_directory(cli_config(db), out, "2026-11", "de")
    names = {p.name for p in written}
    assert {
        "summary.md",
        "summary.html",
        "ties.png",
        "heatmap.png",
        "departments.csv",
        "months.csv",
        "sectors.csv",
        "summary.csv",
    } <= names
    for path in written:
        assert_anonymous(path.read_bytes(), path.name)
    for picture in ("ties.png", "heatmap.png"):
        data = (out / picture).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        width, height = png_size(data)
        assert width >= 500 and height >= 400 and len(data) > 10_000
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| Bauamt | 5 | 100 % | < 5 | < 5 | – | – |" in summary
    assert "| Ordnungsamt | 5 | 100 % | 6 | 0 | +1,00 | – |" in summary
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert '<img src="ties.png"' in page and "<table>" in page


async def test_command_line_refuses_a_missing_database(tmp_path: Path) -> None:
    config = parse_config(
        {
            "homeserver": {
                "url": "http://127.0.0.1:8008",
                "user_id": f"@flurfunk:{SERVER}",
                "password": "secret",
                "allowed_homeservers": [SERVER],
            },
            "storage": {"data_dir": str(tmp_path / "nothing")},
        },
        "test",
        environ={},
    )
    with pytest.raises(ReportCliError, match="no database"):
        await report_to_directory(config, tmp_path / "out", None)
    assert not (tmp_path / "nothing").exists()


def test_parser_knows_the_report_command() -> None:
    args = build_parser().parse_args(
        ["report", "--out", "/tmp/x", "--period", "quartal", "-c", "f.yaml"]
    )
    assert args.func.__name__ == "cmd_report"
    assert (str(args.out), args.period, str(args.config), args.lang) == (
        "/tmp/x",
        "quartal",
        "f.yaml",
        None,
    )


# -- typed unit names ------------------------------------------------------------------


def test_typed_unit_names_are_escaped_neutralised_and_drawn_as_typed() -> None:
    from bot.domain.network.computation import network_report
    from bot.domain.network.ties import Member
    from bot.domain.network.ties import Tie as NetworkTie
    from bot.report.csv_tables import csv_files
    from bot.report.summary import chat_message

    html_name, formula, dollars = "<b>Amt</b> & Co", "=HYPERLINK(1)", "$x$ Amt"
    people = [Member(name, "Musterstadt", True, True) for name in (html_name, formula, dollars)]
    people = people * 5
    ties = [
        NetworkTie("break", "a", "b", date(2026, 11, 3), html_name, "M", formula, "M"),
        NetworkTie("break", "c", "d", date(2026, 11, 4), dollars, "M", formula, "M"),
    ]
    report = network_report(ties, people, NOVEMBER, k=5)
    message = chat_message(report, "de", max_rows=2, csv_command=None)
    assert "&lt;b&gt;Amt&lt;/b&gt; &amp; Co" in message.html and "<b>Amt" not in message.html
    assert "… und 1 weitere" in message.plain  # three departments, two rows shown
    departments = csv_files(report, "de")["departments.csv"].decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in departments
    assert "\n=" not in departments.replace("\r", "")
    svg = heatmap_chart(report, "de", fmt="svg").decode("utf-8")
    assert "$x$ Amt" in svg  # no mathtext: drawn as typed
    assert ties_chart(report, "de").startswith(PNG_SIGNATURE)


async def test_command_line_refuses_an_unreadable_period(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ReportCliError, match="gestern"):
        await report_to_directory(cli_config(db), tmp_path / "out", "gestern")
