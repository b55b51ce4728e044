"""Network statistics as pure functions: periods, E-I index, k-anonymity, exact aggregates
on a known tie list, and properties over random networks."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.network.computation import network_report
from bot.domain.network.periods import Period, PeriodError, chart_months, month_period, parse_period
from bot.domain.network.report import Count, ei_index
from bot.domain.network.ties import OTHER, UNKNOWN, Member, Tie
from bot.domain.network.units import unit_map

TODAY = date(2026, 11, 25)


# -- periods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, Period("month", date(2026, 10, 1), date(2026, 10, 31))),  # last complete month
        ("", Period("month", date(2026, 10, 1), date(2026, 10, 31))),
        ("2026-10", Period("month", date(2026, 10, 1), date(2026, 10, 31))),
        ("2026-02", Period("month", date(2026, 2, 1), date(2026, 2, 28))),
        ("10.2026", Period("month", date(2026, 10, 1), date(2026, 10, 31))),
        ("10/2026", Period("month", date(2026, 10, 1), date(2026, 10, 31))),
        ("Monat", Period("month", date(2026, 10, 1), date(2026, 10, 31))),
        ("quartal", Period("quarter", date(2026, 7, 1), date(2026, 9, 30))),
        ("Quarter", Period("quarter", date(2026, 7, 1), date(2026, 9, 30))),
        ("2026-Q1", Period("quarter", date(2026, 1, 1), date(2026, 3, 31))),
        ("q2 2026", Period("quarter", date(2026, 4, 1), date(2026, 6, 30))),
        ("Q4/2025", Period("quarter", date(2025, 10, 1), date(2025, 12, 31))),
        ("3. Quartal 2026", Period("quarter", date(2026, 7, 1), date(2026, 9, 30))),
        ("jahr", Period("year", date(2025, 1, 1), date(2025, 12, 31))),
        ("2025", Period("year", date(2025, 1, 1), date(2025, 12, 31))),
    ],
)
def test_periods(text: str | None, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("gestern", PeriodError.UNREADABLE),
        ("2026-13", PeriodError.UNREADABLE),
        ("0", PeriodError.WHOLE_MONTHS),
        ("7", PeriodError.WHOLE_MONTHS),
        ("90 Tage", PeriodError.WHOLE_MONTHS),
        ("5000", PeriodError.WHOLE_MONTHS),
        ("2026-11", PeriodError.RUNNING),
        ("2026", PeriodError.RUNNING),
        ("2026-12", PeriodError.FUTURE),
        ("2027", PeriodError.FUTURE),
        ("2027-Q1", PeriodError.FUTURE),
    ],
)
def test_unusable_periods(text: str, error: PeriodError) -> None:
    assert parse_period(text, TODAY) is error


def test_previous_periods_and_keys() -> None:
    with pytest.raises(ValueError, match="whole months"):
        Period("days", date(2026, 10, 27), date(2026, 11, 25))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole months"):
        Period("month", date(2026, 10, 2), date(2026, 10, 31))
    january = month_period(date(2026, 1, 15))
    assert january.previous() == Period("month", date(2025, 12, 1), date(2025, 12, 31))
    assert january.key == "2026-01"
    q1 = parse_period("2026-Q1", TODAY)
    assert isinstance(q1, Period)
    assert q1.previous() == Period("quarter", date(2025, 10, 1), date(2025, 12, 31))
    assert q1.key == "2026-Q1"
    year = parse_period("2025", TODAY)
    assert isinstance(year, Period) and year.key == "2025"
    assert q1.months() == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert chart_months(january, 3) == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]
    year = parse_period("2025", TODAY)
    assert isinstance(year, Period)
    assert len(chart_months(year, 6)) == 12  # at least the months of the period


def test_ei_index() -> None:
    assert ei_index(3, 1) == 0.5
    assert ei_index(0, 4) == -1.0
    assert ei_index(2, 0) == 1.0
    assert ei_index(0, 0) is None


# -- k-anonymity -------------------------------------------------------------------------


def members(**sizes: int) -> list[Member]:
    return [Member(unit, "Musterstadt", True, True) for unit, n in sizes.items() for _ in range(n)]


def test_small_units_are_merged_until_other_reaches_k() -> None:
    units = unit_map(members(Bauamt=6, Kaemmerei=5, Jugendamt=2), [], "department", 5)
    # Jugendamt alone would be a "Sonstige" of 2 (readable as total minus the rest): the
    # smallest named unit joins it.
    assert units.shown("Jugendamt") == OTHER
    assert units.shown("Kaemmerei") == OTHER
    assert units.shown("Bauamt") == "Bauamt"
    assert units.merged == 2

    units = unit_map(members(Bauamt=6, Kaemmerei=5, Jugendamt=2, Bauhof=3), [], "department", 5)
    assert units.shown("Kaemmerei") == "Kaemmerei"  # Sonstige has 5 already
    assert units.shown("Bauhof") == OTHER and units.shown("Jugendamt") == OTHER

    everyone = unit_map(members(Bauamt=5, Kaemmerei=5), [], "department", 5)
    assert everyone.merged == 0


def test_a_unit_known_only_from_ties_is_merged() -> None:
    tie = Tie("break", "a", "b", TODAY, "Altes Amt", "X", "Bauamt", "X")
    units = unit_map(members(Bauamt=5, Kaemmerei=5), [tie], "department", 5)
    assert units.shown("Altes Amt") == OTHER
    # ... and so OTHER (0 participants, but ties) pulls in the smallest named unit.
    assert units.merged == 2


def test_unit_names_compare_like_profiles_and_use_the_configured_spelling() -> None:
    people = [
        *(Member("buergeramt", None, True, True) for _ in range(3)),
        *(Member("Bürgeramt ", None, True, True) for _ in range(2)),
        *(Member(None, None, True, False) for _ in range(5)),
    ]
    units = unit_map(people, [], "department", 5, preferred=["Bürgeramt"])
    assert units.shown("BÜRGERAMT") == "Bürgeramt"
    assert units.shown(None) == UNKNOWN  # five without a department: shown as such
    assert unit_map(people, [], "department", 5).shown("Bürgeramt") == "buergeramt"


# -- exact aggregates ----------------------------------------------------------------------

NOV = month_period(date(2026, 11, 1))
BAU = ("Bauamt", "Musterstadt")
KAE = ("Kämmerei", "Musterstadt")
ORD = ("Ordnungsamt", "Beispieldorf")
JUG = ("Jugendamt", "Beispieldorf")


def tie(
    kind: str,
    a: str,
    b: str,
    day: date,
    unit_a: tuple[str, str] | None,
    unit_b: tuple[str, str] | None,
) -> Tie:
    ua, ub = unit_a or (None, None), unit_b or (None, None)
    return Tie(kind, a, b, day, ua[0], ua[1], ub[0], ub[1])


PEOPLE = [
    *(Member(*BAU, True, True) for _ in range(5)),
    *(Member(*KAE, True, i < 2) for i in range(5)),
    *(Member(*KAE, False, False) for _ in range(5)),
    *(Member(*ORD, True, True) for _ in range(6)),
    *(Member(*JUG, True, True) for _ in range(4)),
    Member("Bauhof", "Beispieldorf", True, True),  # with Jugendamt: a "Sonstige" of 5
]
TIES = [
    tie("coffee", "b1", "k1", date(2026, 11, 2), BAU, KAE),  # cross dept, internal municipality
    tie("coffee", "b1", "o1", date(2026, 11, 2), BAU, ORD),  # cross, cross
    tie("break", "b2", "b3", date(2026, 11, 10), BAU, BAU),  # internal, internal
    tie("hospitation", "o1", "j1", date(2026, 11, 30), ORD, JUG),  # cross, internal (J -> OTHER)
    tie("crisis", "k2", "~former-1", date(2026, 11, 15), KAE, None),  # unclassified
    tie("circle", "o2", "o3", date(2026, 11, 4), ORD, ORD),  # internal, internal
    tie("coffee", "b1", "k1", date(2026, 10, 5), BAU, KAE),  # October (previous)
    tie("coffee", "b4", "k3", date(2026, 12, 1), BAU, KAE),  # after the period
]


def test_exact_aggregates() -> None:
    report = network_report(
        TIES,
        PEOPLE,
        NOV,
        k=5,
        sectors=["Logistik", "Wissenschaft"],
        live_bridges={"Logistik": 3},
        smallest_count=1,  # the arithmetic; what people see is suppressed (see below)
    )
    assert not report.suppressed
    assert (report.participants, report.profiles, report.opted_in) == (21, 26, 18)
    assert report.current.ties == 6 and report.before.ties == 1
    assert report.current.by_kind == {
        "coffee": 2,
        "circle": 1,
        "break": 1,
        "hospitation": 1,
        "crisis": 1,
    }
    assert (report.current.pairs, report.current.people) == (6, 10)

    dep = report.departments
    assert (dep.current.cross, dep.current.internal, dep.current.unclassified) == (3, 2, 1)
    assert dep.current.ei == pytest.approx(0.2)
    assert dep.current.cross_share == pytest.approx(0.6)
    rows = {r.unit: r for r in dep.units}
    assert [r.unit for r in dep.units] == ["Ordnungsamt", "Bauamt", "Kämmerei", OTHER]
    assert (rows["Bauamt"].external, rows["Bauamt"].internal) == (2, 1)
    assert rows["Bauamt"].ei == pytest.approx(1 / 3)
    assert rows["Bauamt"].ei_previous == 1.0
    assert (rows["Ordnungsamt"].external, rows["Ordnungsamt"].internal) == (2, 1)
    assert (rows["Kämmerei"].external, rows["Kämmerei"].internal) == (1, 0)
    assert (rows[OTHER].external, rows[OTHER].participants) == (1, 5)  # Jugendamt, Bauhof
    assert rows["Kämmerei"].share == pytest.approx(0.5)  # 5 of 10 profiles take part
    assert rows["Kämmerei"].opted_in == 2
    assert dep.isolated == ()
    assert dep.matrix_units == ("Ordnungsamt", "Bauamt", "Kämmerei", OTHER)
    assert dep.matrix == ((1, 1, 0, 1), (1, 1, 1, 0), (0, 1, 0, 0), (1, 0, 0, 0))
    assert dep.components == 1

    mun = report.municipalities
    assert (mun.current.cross, mun.current.internal, mun.current.unclassified) == (1, 4, 1)
    assert mun.current.ei == pytest.approx(-0.6)
    assert [(m.month, m.ties, m.cross_department, m.cross_municipality) for m in report.months] == [
        (date(2026, 11, 1), 6, 3, 1)
    ]
    assert [(s.sector, s.live_bridges, s.thin) for s in report.sectors] == [
        ("Logistik", 3, False),
        ("Wissenschaft", 0, True),
    ]


def test_isolated_units_and_separate_groups() -> None:
    people = [
        *(Member(*BAU, True, True) for _ in range(5)),
        *(Member(*ORD, True, True) for _ in range(5)),
    ]
    ties = [tie("break", "b1", "b2", date(2026, 11, 3), BAU, BAU)]
    report = network_report(ties, people, NOV, k=5, smallest_count=1)
    assert report.departments.isolated == ("Bauamt", "Ordnungsamt")
    assert report.departments.components == 2
    assert report.municipalities.isolated == ("Beispieldorf", "Musterstadt")
    # One municipality alone has no outside to reach: it is not called isolated.
    alone = network_report(ties, [Member(*BAU, True, True) for _ in range(5)], NOV, k=5)
    assert alone.municipalities.isolated == () and alone.departments.isolated == ()


def test_fewer_than_k_participants_means_no_figures_at_all() -> None:
    report = network_report(TIES, PEOPLE[:4], NOV, k=5)
    assert report.suppressed
    assert report.current.ties == 0
    assert report.departments.units == () and report.months == () and report.sectors == ()


# -- properties ----------------------------------------------------------------------------

UNITS = ["Bauamt", "Kämmerei", "Ordnungsamt", "Jugendamt", "Bauhof", None]
TOWNS = ["Musterstadt", "Beispieldorf", "Kleinhausen", None]


@st.composite
def networks(draw: st.DrawFn) -> tuple[list[Member], list[Tie], int]:
    people = draw(
        st.lists(
            st.tuples(st.sampled_from(UNITS), st.sampled_from(TOWNS), st.booleans()),
            min_size=0,
            max_size=40,
        )
    )
    members = [Member(d, m, c, c) for d, m, c in people]
    ties = []
    for _ in range(draw(st.integers(0, 40)) if people else 0):
        a, b = draw(st.sampled_from(range(len(people)))), draw(st.sampled_from(range(len(people))))
        if a == b:
            continue
        day = date(2026, draw(st.integers(9, 12)), draw(st.integers(1, 28)))
        kind = draw(st.sampled_from(["coffee", "circle", "break", "hospitation", "crisis"]))
        da, ma, _ = people[a]
        db_, mb, _ = people[b]
        ties.append(
            Tie(kind, f"@p{a}:secret.example", f"@p{b}:secret.example", day, da, ma, db_, mb)
        )
    return members, ties, draw(st.integers(2, 6))


def shown_count(count: Count) -> int:
    """With `smallest_count=1` nothing is suppressed: every count is a number."""
    assert count is not None, "a count was suppressed although smallest_count is 1"
    return count


@given(networks())
@settings(max_examples=80, deadline=None)
def test_no_unit_below_k_and_counts_add_up(network: tuple[list[Member], list[Tie], int]) -> None:
    people, ties, k = network
    report = network_report(ties, people, NOV, k=k, smallest_count=1)
    assert "secret.example" not in repr(report) and "@p" not in repr(report)
    if report.suppressed:
        assert report.departments.units == ()
        return
    for level in (report.departments, report.municipalities):
        shown = {r.unit: shown_count(r.participants) for r in level.units}
        # Every unit that is shown at all stands for at least k participants.
        assert all(n >= k for n in shown.values()), shown
        current = [t for t in ties if NOV.contains(t.on)]
        figures = level.current
        cross, internal = shown_count(figures.cross), shown_count(figures.internal)
        assert sum(shown_count(r.external) for r in level.units) == 2 * cross
        assert sum(shown_count(r.internal) for r in level.units) == internal
        assert cross + internal + shown_count(figures.unclassified) == len(current)
        size = len(level.matrix_units)
        assert all(
            level.matrix[i][j] == level.matrix[j][i] for i in range(size) for j in range(size)
        )
        upper = sum(shown_count(level.matrix[i][j]) for i in range(size) for j in range(i, size))
        assert upper == cross + internal
        for row in level.units:
            if row.ei is not None:
                assert -1.0 <= row.ei <= 1.0
