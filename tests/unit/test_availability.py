from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.availability import (
    ALL_DAYS,
    ALWAYS,
    NEVER,
    Availability,
    AvailabilityError,
    AvailabilityErrorCode,
    TimeWindow,
    parse_availability,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 23, tzinfo=BERLIN)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("Mo-Fr 7-18", [TimeWindow(frozenset(range(5)), 420, 1080)]),
        ("mo-fr 07:00 - 18:00 Uhr", [TimeWindow(frozenset(range(5)), 420, 1080)]),
        ("Mo.–Fr.: 7–18", [TimeWindow(frozenset(range(5)), 420, 1080)]),
        ("Mon-Fri 7 to 18", [TimeWindow(frozenset(range(5)), 420, 1080)]),
        ("Montag bis Freitag 7 bis 18", [TimeWindow(frozenset(range(5)), 420, 1080)]),
        ("Mo,Mi,Fr 8:30-12", [TimeWindow(frozenset({0, 2, 4}), 510, 720)]),
        ("Mo, Mi, Fr 8.30-12", [TimeWindow(frozenset({0, 2, 4}), 510, 720)]),
        (
            "Sa 10-14; So 10-12",
            [TimeWindow(frozenset({6}), 600, 720), TimeWindow(frozenset({5}), 600, 840)],
        ),
        (
            "Mo-Fr 7-18, Sa 9-12",
            [TimeWindow(frozenset({5}), 540, 720), TimeWindow(frozenset(range(5)), 420, 1080)],
        ),
        (
            "Mo-Fr 7-12, 14-18",
            [TimeWindow(frozenset(range(5)), 420, 720), TimeWindow(frozenset(range(5)), 840, 1080)],
        ),
        ("22-6", [TimeWindow(ALL_DAYS, 1320, 360)]),
        ("täglich 0-24", [TimeWindow(ALL_DAYS, 0, 1440)]),
        ("Fr-Mo 18-0", [TimeWindow(frozenset({4, 5, 6, 0}), 1080, 1440)]),
        ("Sun 9-11", [TimeWindow(frozenset({6}), 540, 660)]),
    ],
)
def test_parses_windows(text: str, windows: list[TimeWindow]) -> None:
    assert parse_availability(text) == Availability.of(windows)


@pytest.mark.parametrize("text", ["immer", "Always", "jederzeit"])
def test_always(text: str) -> None:
    assert parse_availability(text) == ALWAYS
    assert ALWAYS.contains(at(6, 3))


@pytest.mark.parametrize("text", ["nie", "NEVER", "niemals"])
def test_never(text: str) -> None:
    assert parse_availability(text) == NEVER
    assert not NEVER.contains(at(0, 12))


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("", AvailabilityErrorCode.EMPTY, ""),
        ("   ", AvailabilityErrorCode.EMPTY, ""),
        ("Mx-Fr 7-18", AvailabilityErrorCode.UNKNOWN_DAY, "Mx"),
        ("Mo-Fr", AvailabilityErrorCode.MISSING_TIME, "Mo-Fr"),
        ("Mo-Fr 7-18, Sa", AvailabilityErrorCode.MISSING_TIME, "Sa"),
        ("Mo-Fr 7-25", AvailabilityErrorCode.BAD_TIME, "25"),
        ("Mo 7:75-9", AvailabilityErrorCode.BAD_TIME, "7:75"),
        ("Mo 24-6", AvailabilityErrorCode.BAD_TIME, "24"),
        ("Mo 24:30-6", AvailabilityErrorCode.BAD_TIME, "24:30"),
        ("Mo 7-7", AvailabilityErrorCode.EMPTY_WINDOW, "7-7"),
        ("Mo-Fr 7", AvailabilityErrorCode.SYNTAX, "Mo-Fr 7"),
        ("Mo 7 8-12", AvailabilityErrorCode.SYNTAX, "Mo 7 8-12"),
        ("Mo-Di-Mi 8-12", AvailabilityErrorCode.SYNTAX, "Mo-Di-Mi"),
        ("x" * 300, AvailabilityErrorCode.TOO_LONG, "x" * 200),
    ],
)
def test_errors_carry_code_and_fragment(
    text: str, code: AvailabilityErrorCode, fragment: str
) -> None:
    with pytest.raises(AvailabilityError) as caught:
        parse_availability(text)
    assert (caught.value.code, caught.value.fragment) == (code, fragment)


def test_contains_respects_days_and_half_open_bounds() -> None:
    weekdays = parse_availability("Mo-Fr 7-18")
    assert weekdays.contains(at(0, 7))
    assert weekdays.contains(at(4, 17, 59))
    assert not weekdays.contains(at(4, 18))
    assert not weekdays.contains(at(0, 6, 59))
    assert not weekdays.contains(at(5, 12))


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    friday_night = parse_availability("Fr 22-6")
    assert friday_night.contains(at(4, 23))
    assert friday_night.contains(at(5, 5, 59))
    assert not friday_night.contains(at(5, 6))
    assert not friday_night.contains(at(0, 3))  # Sunday night into Monday is not Friday's window
    assert not friday_night.contains(at(4, 3))


def test_render() -> None:
    availability = parse_availability("Mo-Fr 7-18, Sa 9:30-12; So,Di 22-6")
    assert availability.render_de() == "Mo-Fr 7-18; Di,So 22-6; Sa 9:30-12"
    assert availability.render_en() == "Mon-Fri 7-18; Tue,Sun 22-6; Sat 9:30-12"
    assert parse_availability("Mo,Di,Mi,Fr 8-12").render_de() == "Mo-Mi,Fr 8-12"
    assert parse_availability("0-24").render_en() == "daily 0-24"
    assert (ALWAYS.render_de(), NEVER.render_en()) == ("immer", "never")


availabilities = st.one_of(
    st.just(ALWAYS),
    st.just(NEVER),
    st.lists(
        st.tuples(
            st.frozensets(st.integers(0, 6), min_size=1),
            st.integers(0, 1439),
            st.integers(1, 1440),
        ).filter(lambda t: t[1] != t[2]),
        max_size=4,
    ).map(lambda ws: Availability.of(TimeWindow(d, s, e) for d, s, e in ws)),
)


@given(availabilities, st.integers(0, 7 * 1440 - 1))
def test_rendering_parses_back_to_the_same_schedule(
    availability: Availability, minute: int
) -> None:
    for rendered in (availability.render_de(), availability.render_en()):
        again = parse_availability(rendered)
        assert again == availability
        moment = MONDAY + timedelta(minutes=minute)
        assert again.contains(moment) == availability.contains(moment)


@given(st.text(max_size=60))
def test_parser_never_fails_other_than_with_its_error(text: str) -> None:
    try:
        parse_availability(text)
    except AvailabilityError as error:
        assert isinstance(error.code, AvailabilityErrorCode)


@given(st.integers(0, 1439), st.integers(1, 1440), st.integers(0, 7 * 1440 - 1))
def test_every_day_window_covers_its_length_each_day(start: int, end: int, minute: int) -> None:
    if start == end:
        return
    window = Availability.of([TimeWindow(ALL_DAYS, start, end)])
    length = (end - start) % 1440 or 1440
    moment = MONDAY + timedelta(minutes=minute)
    offset = (moment.hour * 60 + moment.minute - start) % 1440
    assert window.contains(moment) == (offset < length)
