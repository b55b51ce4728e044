"""The network report says nothing about single persons (review finding S-07): whole,
completed months as the smallest period, every count below k suppressed, and a coffee-break
partner never named in a shared room."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.network.computation import network_report
from bot.domain.network.periods import Period, PeriodError, month_period, parse_period
from bot.domain.network.ties import Member, Tie
from bot.report.csv_tables import csv_files
from bot.report.summary import chat_message
from bot.store.db import Database
from tests.support.harness import ADMIN, SHARED_ROOM, STAFF, Harness, dm

TODAY = date(2026, 11, 17)


def appendix_f() -> tuple[list[Tie], list[Member]]:
    """3 units x 5 participants (the first of each opted in to coffee), one `break` tie
    Bauamt - Ordnungsamt."""
    members = [
        Member(unit, "Musterstadt", True, i == 0)
        for unit in ("Bauamt", "Ordnungsamt", "Jugendamt")
        for i in range(5)
    ]
    ties = [
        Tie("break", "@anna", "@ben", date(2026, 10, 17), "Bauamt", "Musterstadt",
            "Ordnungsamt", "Musterstadt")
    ]  # fmt: skip
    return ties, members


@pytest.mark.parametrize("text", ["1", "1 Tag", "7", "30 Tage", "14 days", "90"])
def test_day_windows_are_refused(text: str) -> None:
    """S-07: `!admin bericht 1` gave a one-day window; overlapping N-day windows could be
    subtracted from each other. Only whole months (and quarters, years) remain."""
    assert parse_period(text, TODAY) is PeriodError.WHOLE_MONTHS


@pytest.mark.parametrize("text", ["2026-11", "11.2026", "2026-Q4", "Q4 2026", "2026"])
def test_periods_that_have_not_ended_are_refused(text: str) -> None:
    """S-07: a running month grows by a day each day: two reports a day apart would give
    that day's figures."""
    assert parse_period(text, TODAY) is PeriodError.RUNNING


def test_the_default_is_the_last_complete_month() -> None:
    assert parse_period(None, TODAY) == month_period(date(2026, 10, 1))
    assert parse_period("2026-10", TODAY) == Period("month", date(2026, 10, 1), date(2026, 10, 31))


def test_the_refusal_names_the_allowed_forms() -> None:
    from bot.i18n import template

    text = template("report.period.whole_months", "de")
    for form in ("{month}", "monat", "quartal", "{year}-Q1", "{year}"):
        assert form in text, form


def test_small_counts_are_suppressed_everywhere() -> None:
    """S-07 (appendix F): one break between two named departments in a month. No table
    shows a 1: matrix cells, per-kind counts, E/I inputs and opted-in counts below k are
    replaced by `<5`."""
    ties, members = appendix_f()
    report = network_report(ties, members, month_period(date(2026, 10, 1)), k=5)
    files = {name: data.decode("utf-8-sig") for name, data in csv_files(report, "de").items()}

    matrix = files["department_matrix.csv"].splitlines()
    assert matrix[1:] == ["Bauamt;0;0;<5", "Jugendamt;0;0;0", "Ordnungsamt;<5;0;0"]
    summary = dict(line.split(";", 1) for line in files["summary.csv"].splitlines())
    assert summary["ties_break"] == "<5;0"
    assert summary["ties"] == "<5;0"
    assert summary["coffee_opted_in"] == "<5;"
    assert summary["cross_department"] == "<5;0"
    departments = files["departments.csv"].splitlines()
    assert departments[1] == "Bauamt;5;5;1.000;<5;<5;0;;;0"
    months = files["months.csv"].splitlines()
    assert months[-1].startswith("2026-10;<5;0;0;<5;0;0;<5;0")
    unit_counts = ("isolated_", "separate_groups_", "merged_", "thin_sectors", "suppressed")
    for name, text in files.items():
        for line in text.splitlines()[1:]:
            cells = line.split(";")[1:]
            if name == "summary.csv" and line.startswith(unit_counts):
                continue  # numbers of departments, not of people or ties
            if name in ("departments.csv", "municipalities.csv"):
                cells = cells[:-1]  # the last column is the 0/1 flag "isolated"
            assert not any(cell in ("1", "2", "3", "4") for cell in cells), (name, line)

    message = chat_message(report, "de", max_rows=25, csv_command=None)
    assert "< 5" in message.plain
    assert "| Bauamt | 5 | 100 % | < 5 | 0 | – | – |" in message.plain


def test_a_lone_small_kind_cannot_be_recovered_from_the_total() -> None:
    """S-07: with the total shown, one suppressed kind would be the total minus the others:
    a second kind is suppressed with it."""
    _, members = appendix_f()
    day = date(2026, 10, 5)
    ties = [Tie("coffee", f"@a{i}", f"@b{i}", day, "Bauamt", "M", "Bauamt", "M") for i in range(6)]
    ties.append(Tie("break", "@x", "@y", day, "Bauamt", "M", "Bauamt", "M"))
    report = network_report(ties, members, month_period(day), k=5)
    assert report.current.ties == 7
    assert report.current.by_kind["break"] is None
    assert report.current.by_kind["coffee"] is None
    assert report.months[0].by_kind["coffee"] is None


def test_the_domain_refuses_a_day_window() -> None:
    ties, members = appendix_f()
    with pytest.raises(ValueError, match="whole months"):
        network_report(ties, members, Period("days", TODAY, TODAY), k=5)  # type: ignore[arg-type]


async def test_a_coffee_break_partner_is_named_only_in_the_dm(tmp_path: Path) -> None:
    """S-07: `!kaffeepause` typed in a shared room does not name the partner there (the
    room and the 1-day report would tell who met whom); the partner's name goes to the DM."""
    async with Harness.open(tmp_path) as bot:
        await bot.say(ADMIN, dm(ADMIN), "!kaffeepause")
        replies = await bot.say(STAFF, SHARED_ROOM, "!kaffeepause")
        in_room = [r for r in replies if r.target == SHARED_ROOM]
        assert in_room and all(ADMIN not in r.body and "it-admin" not in r.body for r in in_room)
        rows = await bot.db.fetchall(
            "SELECT target_kind, target, payload FROM outbox WHERE key LIKE 'coffeebreak:%:matched'"
        )
        assert [(r[0], r[1]) for r in rows] == [("dm", STAFF)]
        assert ADMIN in rows[0][2]
        # In the DM itself the answer names the partner, as before.
        await bot.say(ADMIN, dm(ADMIN), "!kaffeepause abbrechen")


UNITS = ["Bauamt", "Kämmerei", "Ordnungsamt", None]
TOWNS = ["Musterstadt", "Beispieldorf", None]
KINDS = ["coffee", "circle", "break", "hospitation", "crisis"]


@st.composite
def networks(draw: st.DrawFn) -> tuple[list[Member], list[Tie], int]:
    people = draw(
        st.lists(
            st.tuples(st.sampled_from(UNITS), st.sampled_from(TOWNS), st.booleans()),
            min_size=2,
            max_size=40,
        )
    )
    ties = []
    for _ in range(draw(st.integers(0, 60))):
        a, b = draw(st.sampled_from(range(len(people)))), draw(st.sampled_from(range(len(people))))
        day = date(2026, draw(st.integers(7, 9)), draw(st.integers(1, 28)))
        (da, ma, _), (db_, mb, _) = people[a], people[b]
        ties.append(Tie(draw(st.sampled_from(KINDS)), f"p{a}", f"p{b}", day, da, ma, db_, mb))
    members = [Member(d, m, c, draw(st.booleans())) for d, m, c in people]
    return members, ties, draw(st.integers(2, 6))


@given(networks())
@settings(max_examples=80, deadline=None)
def test_no_count_from_1_to_k_minus_1_is_ever_shown(
    network: tuple[list[Member], list[Tie], int],
) -> None:
    """S-07, as a property: whatever the network, every count of people or ties in the
    report is 0, at least k, or suppressed."""
    members, ties, k = network
    report = network_report(
        ties, members, Period("quarter", date(2026, 7, 1), date(2026, 9, 30)), k=k
    )

    def ok(value: int | None) -> bool:
        return value is None or value == 0 or value >= k

    counts: list[int | None] = [report.opted_in]
    for figures in (report.current, report.before):
        counts += [figures.ties, figures.pairs, figures.people, *figures.by_kind.values()]
    for row in (*report.months, *report.chart):
        counts += [row.ties, *row.by_kind.values(), row.cross_department, row.cross_municipality]
    for level in (report.departments, report.municipalities):
        for figures_ in (level.current, level.previous):
            counts += [figures_.cross, figures_.internal, figures_.unclassified]
        for unit in level.units:
            counts += [
                unit.profiles,
                unit.participants,
                unit.opted_in,
                unit.external,
                unit.internal,
            ]
        counts += [cell for row in level.matrix for cell in row]
    assert all(ok(value) for value in counts), [c for c in counts if not ok(c)]


async def test_a_stored_day_window_request_is_dropped(db: Database) -> None:
    """S-07: a `!admin bericht 7` stored before the upgrade is not answered with a day
    window; the other pending requests still are."""
    import json

    from bot.services.report import PENDING_KEY, ReportService
    from bot.store.bot_state import BotState
    from tests.support.config import make_config
    from tests.support.fakes import RecordingMessenger

    old = {
        "event": "$old",
        "room": "!r",
        "lang": "de",
        "period": ["days", "2026-11-10", "2026-11-16"],
    }
    new = {
        "event": "$new",
        "room": "!r",
        "lang": "de",
        "period": ["month", "2026-10-01", "2026-10-31"],
    }
    await BotState(db).set(PENDING_KEY, json.dumps([old, new]))
    service = ReportService(db, make_config(), RecordingMessenger())
    assert [r.event_id for r in await service.pending()] == ["$new"]
