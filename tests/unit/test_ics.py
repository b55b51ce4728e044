from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Event, vRecur

from bot.domain.dates import When
from bot.domain.ics import offer_to_ics

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DEC3 = date(2026, 12, 3)
BERLIN = ZoneInfo("Europe/Berlin")


def only_event(data: bytes) -> Event:
    events = Calendar.from_ical(data).events
    assert len(events) == 1
    return events[0]


def make(when: When, **kwargs: str) -> bytes:
    args = {"offer_id": "H-7KQX", "title": "Bauaufsicht", **kwargs}
    return offer_to_ics(when=when, dtstamp=NOW, **args)


def test_all_day_offer_uses_date_values() -> None:
    data = make(When(DEC3, DEC3), description="Treffpunkt Foyer")
    event = only_event(data)
    assert event.decoded("dtstart") == DEC3
    assert not isinstance(event.decoded("dtstart"), datetime)
    assert event.decoded("dtend") == DEC3 + timedelta(days=1)
    assert b"DTSTART;VALUE=DATE:20261203" in data
    assert str(event["summary"]) == "Bauaufsicht"
    assert str(event["description"]) == "Treffpunkt Foyer"
    assert "rrule" not in event
    assert b"VTIMEZONE" not in data


def test_multi_day_all_day_offer_ends_after_last_day() -> None:
    event = only_event(make(When(DEC3, date(2026, 12, 5))))
    assert event.decoded("dtend") == date(2026, 12, 6)


def test_timed_offer_uses_berlin_local_time() -> None:
    data = make(When(DEC3, DEC3, time(9), time(12, 30)))
    event = only_event(data)
    assert event.decoded("dtstart") == datetime(2026, 12, 3, 9, 0, tzinfo=BERLIN)
    assert event.decoded("dtend") == datetime(2026, 12, 3, 12, 30, tzinfo=BERLIN)
    assert event["dtstart"].params["TZID"] == "Europe/Berlin"
    assert b"DTSTART;TZID=Europe/Berlin:20261203T090000" in data
    timezones = Calendar.from_ical(data).walk("VTIMEZONE")
    assert [str(tz["tzid"]) for tz in timezones] == ["Europe/Berlin"]


def test_summer_time_is_respected() -> None:
    event = only_event(make(When(date(2027, 7, 1), date(2027, 7, 1), time(9), time(12))))
    assert event.decoded("dtstart").utcoffset() == timedelta(hours=2)


def test_timed_multi_day_offer_repeats_daily() -> None:
    event = only_event(make(When(DEC3, date(2026, 12, 5), time(9), time(12))))
    assert event.decoded("dtend") == datetime(2026, 12, 3, 12, 0, tzinfo=BERLIN)
    rrule = event["rrule"]
    assert isinstance(rrule, vRecur)
    assert rrule["FREQ"] == ["DAILY"]
    assert rrule["COUNT"] == [3]


def test_uid_is_stable_per_offer() -> None:
    when = When(DEC3, DEC3)
    first = only_event(make(when))
    again = only_event(offer_to_ics(offer_id="H-7KQX", title="Neu", when=when, dtstamp=NOW))
    other = only_event(make(when, offer_id="H-ABCD"))
    assert str(first["uid"]) == str(again["uid"]) == "h-7kqx@flurfunk"
    assert str(other["uid"]) != str(first["uid"])
    assert str(only_event(make(when, uid_domain="example.org"))["uid"]) == "h-7kqx@example.org"


@pytest.mark.parametrize(
    ("department", "municipality", "location"),
    [
        ("Bauamt", "Musterstadt", "Bauamt, Musterstadt"),
        ("Bauamt", None, "Bauamt"),
        (None, "Musterstadt", "Musterstadt"),
        (None, None, None),
    ],
)
def test_location_from_host(
    department: str | None, municipality: str | None, location: str | None
) -> None:
    data = offer_to_ics(
        offer_id="H-7KQX",
        title="Bauaufsicht",
        when=When(DEC3, DEC3),
        dtstamp=NOW,
        department=department,
        municipality=municipality,
    )
    event = only_event(data)
    if location is None:
        assert "location" not in event
    else:
        assert str(event["location"]) == location


def test_calendar_has_required_properties() -> None:
    calendar = Calendar.from_ical(make(When(DEC3, DEC3)))
    assert str(calendar["version"]) == "2.0"
    assert "prodid" in calendar
    assert only_event(make(When(DEC3, DEC3))).decoded("dtstamp") == NOW


def test_naive_dtstamp_is_rejected() -> None:
    with pytest.raises(ValueError):
        offer_to_ics(offer_id="H-1", title="x", when=When(DEC3, DEC3), dtstamp=datetime(2026, 1, 1))


def test_control_characters_are_dropped() -> None:
    event = only_event(make(When(DEC3, DEC3), title="a\x00b\x0bc", description="x\r\ny\rz\tw"))
    assert str(event["summary"]) == "abc"
    assert str(event["description"]) == "x\ny\nz\tw"


def without_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or not (c < " " or "\x7f" <= c <= "\x9f"))


user_text = st.text(st.characters(codec="utf-8") | st.sampled_from(',;:\\"\r\n'))


@given(user_text, user_text, user_text)
def test_any_user_text_survives_the_round_trip(
    title: str, description: str, department: str
) -> None:
    data = offer_to_ics(
        offer_id="H-7KQX",
        title=title,
        when=When(DEC3, DEC3),
        dtstamp=NOW,
        description=description,
        department=department,
    )
    event = only_event(data)
    assert str(event.get("summary", "")) == without_controls(title)
    assert str(event.get("description", "")) == without_controls(description)
    assert str(event.get("location", "")) == without_controls(department)
