from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.dates import (
    MAX_DAYS_AHEAD,
    MAX_RANGE_DAYS,
    WEEKDAYS_DE,
    DateError,
    DateErrorCode,
    When,
    parse_when,
)

TODAY = date(2026, 11, 25)  # a Wednesday
DEC3 = date(2026, 12, 3)
DEC5 = date(2026, 12, 5)

future_dates = st.dates(TODAY, TODAY + timedelta(days=MAX_DAYS_AHEAD))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03", When(DEC3, DEC3)),
        ("03.12.2026", When(DEC3, DEC3)),
        ("3.12.2026", When(DEC3, DEC3)),
        ("3.12.26", When(DEC3, DEC3)),
        ("03.12.", When(DEC3, DEC3)),
        ("Do, 03.12.2026", When(DEC3, DEC3)),
        ("Donnerstag 3.12.2026", When(DEC3, DEC3)),
        ("am 03.12.2026", When(DEC3, DEC3)),
        ("03.12.2026 9-12", When(DEC3, DEC3, time(9), time(12))),
        ("03.12.2026 09:00-12:30", When(DEC3, DEC3, time(9), time(12, 30))),
        ("03.12.2026, 9.30–12 Uhr", When(DEC3, DEC3, time(9, 30), time(12))),
        ("03.12.2026 von 9 bis 12 Uhr", When(DEC3, DEC3, time(9), time(12))),
        ("2026-12-03 8:15 - 16:45", When(DEC3, DEC3, time(8, 15), time(16, 45))),
        ("03.12.2026-05.12.2026", When(DEC3, DEC5)),
        ("03.12.2026 - 05.12.2026", When(DEC3, DEC5)),
        ("2026-12-03 bis 2026-12-05", When(DEC3, DEC5)),
        ("2026-12-03 to 2026-12-05", When(DEC3, DEC5)),
        ("03.-05.12.2026", When(DEC3, DEC5)),
        ("3-5.12.2026", When(DEC3, DEC5)),
        ("03.12.-05.12.2026", When(DEC3, DEC5)),
        ("30.11.-02.12.2026", When(date(2026, 11, 30), date(2026, 12, 2))),
        ("28.12.-02.01.2027", When(date(2026, 12, 28), date(2027, 1, 2))),
        ("03.-05.12.2026 9-12", When(DEC3, DEC5, time(9), time(12))),
        ("Do 03.12. – Sa 05.12.2026", When(DEC3, DEC5)),
        ("25.11.2026", When(TODAY, TODAY)),
    ],
)
def test_accepted_forms(text: str, expected: When) -> None:
    assert parse_when(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("", DateErrorCode.EMPTY, ""),
        ("   ", DateErrorCode.EMPTY, ""),
        ("nächsten Dienstag", DateErrorCode.UNRECOGNISED, "nächsten Dienstag"),
        ("12/03/2026", DateErrorCode.UNRECOGNISED, "12/03/2026"),
        ("31.02.2026", DateErrorCode.INVALID_DATE, "31.02.2026"),
        ("2026-13-01", DateErrorCode.INVALID_DATE, "2026-13-01"),
        ("Fr, 03.12.2026", DateErrorCode.WEEKDAY_MISMATCH, "03.12.2026"),
        ("24.11.2026", DateErrorCode.IN_PAST, "24.11.2026"),
        ("2025-12-03", DateErrorCode.IN_PAST, "03.12.2025"),
        ("03.12.2029", DateErrorCode.TOO_FAR, "03.12.2029"),
        ("05.12.2026-03.12.2026", DateErrorCode.END_BEFORE_START, "05.12.2026-03.12.2026"),
        ("01.12.2026-31.12.2026", DateErrorCode.RANGE_TOO_LONG, "01.12.2026-31.12.2026"),
        ("03.12.2026 25-26", DateErrorCode.INVALID_TIME, "25-26"),
        ("03.12.2026 9:75-10", DateErrorCode.INVALID_TIME, "9:75-10"),
        ("03.12.2026 9", DateErrorCode.MISSING_END_TIME, "9"),
        ("03.12.2026 12-9", DateErrorCode.TIME_ORDER, "12-9"),
        ("03.12.2026 9-9", DateErrorCode.TIME_ORDER, "9-9"),
        ("03.12.2026 Morgens", DateErrorCode.UNRECOGNISED, "03.12.2026 Morgens"),
        ("03.12.2026 9-12 und 14-16", DateErrorCode.UNRECOGNISED, "03.12.2026 9-12 und 14-16"),
    ],
)
def test_refused_with_code(text: str, code: DateErrorCode, fragment: str) -> None:
    assert parse_when(text, TODAY) == DateError(code, fragment)


def test_overlong_input_is_cut_in_the_error() -> None:
    result = parse_when("03.12.2026 " * 50, TODAY)
    assert isinstance(result, DateError)
    assert result.code is DateErrorCode.UNRECOGNISED
    assert len(result.fragment) < 100


def test_date_without_year_means_next_occurrence() -> None:
    assert parse_when("20.11.", TODAY) == When(date(2027, 11, 20), date(2027, 11, 20))
    assert parse_when("29.02.", date(2027, 3, 1)) == When(date(2028, 2, 29), date(2028, 2, 29))


@pytest.mark.parametrize(
    ("when", "german", "english"),
    [
        (When(DEC3, DEC3), "Do, 03.12.2026", "Thu, 2026-12-03"),
        (When(DEC3, DEC3, time(9), time(12)), "Do, 03.12.2026, 09:00–12:00", None),
        (When(DEC3, DEC5), "Do, 03.12.2026 – Sa, 05.12.2026", "Thu, 2026-12-03 – Sat, 2026-12-05"),
        (
            When(DEC3, DEC5, time(9), time(12, 30)),
            "Do, 03.12.2026 – Sa, 05.12.2026, jeweils 09:00–12:30",
            "Thu, 2026-12-03 – Sat, 2026-12-05, daily 09:00–12:30",
        ),
    ],
)
def test_rendering(when: When, german: str, english: str | None) -> None:
    assert when.render_de() == german
    if english is not None:
        assert when.render_en() == english


@pytest.mark.parametrize(
    "args",
    [
        (DEC5, DEC3, None, None),
        (DEC3, DEC3, time(9), None),
        (DEC3, DEC3, time(12), time(9)),
    ],
)
def test_when_rejects_inconsistent_values(
    args: tuple[date, date, time | None, time | None],
) -> None:
    with pytest.raises(ValueError):
        When(*args)


@given(future_dates)
def test_every_valid_date_parses_the_same_in_all_formats(day: date) -> None:
    expected = When(day, day)
    weekday = WEEKDAYS_DE[day.weekday()]
    for text in (
        day.isoformat(),
        day.strftime("%d.%m.%Y"),
        f"{day.day}.{day.month}.{day.year}",
        day.strftime("%d.%m.%y"),
        f"{weekday}, {day:%d.%m.%Y}",
    ):
        assert parse_when(text, TODAY) == expected, text


@given(st.dates(date(2000, 1, 1), TODAY - timedelta(days=1)))
def test_past_dates_are_refused(day: date) -> None:
    for text in (day.isoformat(), day.strftime("%d.%m.%Y")):
        result = parse_when(text, TODAY)
        assert isinstance(result, DateError)
        assert result.code is DateErrorCode.IN_PAST


@given(st.dates(TODAY + timedelta(days=MAX_DAYS_AHEAD + 1), date(2099, 12, 31)))
def test_dates_too_far_ahead_are_refused(day: date) -> None:
    result = parse_when(day.isoformat(), TODAY)
    assert isinstance(result, DateError)
    assert result.code is DateErrorCode.TOO_FAR


@st.composite
def valid_whens(draw: st.DrawFn) -> When:
    start = draw(future_dates)
    end = start + timedelta(days=draw(st.integers(0, MAX_RANGE_DAYS - 1)))
    if draw(st.booleans()):
        return When(start, end)
    minutes = sorted(draw(st.sets(st.integers(0, 24 * 60 - 1), min_size=2, max_size=2)))
    first, second = (time(m // 60, m % 60) for m in minutes)
    return When(start, end, first, second)


@given(valid_whens())
def test_rendered_text_parses_back(when: When) -> None:
    assert parse_when(when.render_de(), TODAY) == when
    assert parse_when(when.render_en(), TODAY) == when


@given(st.text(max_size=120))
def test_garbage_never_raises(text: str) -> None:
    assert isinstance(parse_when(text, TODAY), When | DateError)


@given(st.text(alphabet="0123456789.-:, bisUhrDoSa–", max_size=40))
def test_date_like_garbage_never_raises(text: str) -> None:
    result = parse_when(text, TODAY)
    if isinstance(result, When):
        assert TODAY <= result.start_date <= result.end_date
        assert result.days <= MAX_RANGE_DAYS
