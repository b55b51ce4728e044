import random
import re
from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.dates import DateErrorCode, When
from bot.domain.hospitation import (
    DESCRIPTION_MAX,
    ID_ALPHABET,
    PLACES_MAX,
    TITLE_MAX,
    WISH_MAX,
    OfferDraft,
    OfferError,
    OfferErrorCode,
    OfferState,
    Seats,
    matching_wishes,
    new_short_id,
    normalise_short_id,
    offer_match_text,
    parse_offer,
    parse_wish,
)

TODAY = date(2026, 11, 25)
DEC3 = date(2026, 12, 3)


def test_parse_full_offer() -> None:
    parts = [" Einblick  in die Bauaufsicht ", "03.12.2026 9-12", "3", " Treffpunkt Foyer "]
    assert parse_offer(parts, TODAY) == OfferDraft(
        "Einblick in die Bauaufsicht", When(DEC3, DEC3, time(9), time(12)), 3, "Treffpunkt Foyer"
    )


def test_description_is_optional_and_may_contain_the_separator() -> None:
    assert parse_offer(["Kasse", "2026-12-03", "2 Plätze"], TODAY) == OfferDraft(
        "Kasse", When(DEC3, DEC3), 2
    )
    draft = parse_offer(["Kasse", "2026-12-03", "2", " Ein- | Auszahlung ", " Tresor"], TODAY)
    assert isinstance(draft, OfferDraft)
    assert draft.description == "Ein- | Auszahlung | Tresor"
    assert parse_offer(["Kasse", "2026-12-03", "2", "  "], TODAY) == OfferDraft(
        "Kasse", When(DEC3, DEC3), 2
    )


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        (["Kasse", "03.12.2026"], OfferError(OfferErrorCode.MISSING_PARTS, "2")),
        (["  ", "03.12.2026", "2"], OfferError(OfferErrorCode.EMPTY_TITLE)),
        (["x" * 121, "03.12.2026", "2"], OfferError(OfferErrorCode.TITLE_TOO_LONG, "121")),
        (["Kasse", "01.01.2026", "2"], OfferError(DateErrorCode.IN_PAST, "01.01.2026")),
        (["Kasse", "bald", "2"], OfferError(DateErrorCode.UNRECOGNISED, "bald")),
        (["Kasse", "03.12.2026", "zwei"], OfferError(OfferErrorCode.PLACES_NOT_A_NUMBER, "zwei")),
        (["Kasse", "03.12.2026", "0"], OfferError(OfferErrorCode.PLACES_OUT_OF_RANGE, "0")),
        (["Kasse", "03.12.2026", "-1"], OfferError(OfferErrorCode.PLACES_OUT_OF_RANGE, "-1")),
        (["Kasse", "03.12.2026", "51"], OfferError(OfferErrorCode.PLACES_OUT_OF_RANGE, "51")),
        (
            ["Kasse", "03.12.2026", "2", "y" * 1001],
            OfferError(OfferErrorCode.DESCRIPTION_TOO_LONG, "1001"),
        ),
    ],
)
def test_refused_offers(parts: list[str], error: OfferError) -> None:
    assert parse_offer(parts, TODAY) == error


def test_limits_are_inclusive() -> None:
    draft = parse_offer(["t" * TITLE_MAX, "03.12.2026", "50", "d" * DESCRIPTION_MAX], TODAY)
    assert isinstance(draft, OfferDraft)


@given(st.integers(-1000, 1000))
def test_places_accepted_exactly_in_range(places: int) -> None:
    result = parse_offer(["Kasse", "03.12.2026", f"{places} Plätze"], TODAY)
    if 1 <= places <= PLACES_MAX:
        assert isinstance(result, OfferDraft)
        assert result.places == places
    else:
        assert result == OfferError(OfferErrorCode.PLACES_OUT_OF_RANGE, str(places))


@given(st.lists(st.text(max_size=30), max_size=6))
def test_parse_offer_never_raises(parts: list[str]) -> None:
    assert isinstance(parse_offer(parts, TODAY), OfferDraft | OfferError)


# Seats


def test_join_until_full_then_wait() -> None:
    seats = Seats[str](2)
    first = seats.join("anna")
    assert first.outcome == "confirmed"
    second = first.seats.join("ben")
    assert second.outcome == "confirmed"
    third = second.seats.join("cem")
    assert (third.outcome, third.position) == ("waiting", 1)
    assert third.seats.confirmed == ("anna", "ben")
    assert third.seats.free == 0
    assert third.seats.join("anna").outcome == "already_confirmed"
    again = third.seats.join("cem")
    assert (again.outcome, again.position, again.seats) == ("already_waiting", 1, third.seats)


def test_cancellation_promotes_first_waiting() -> None:
    seats = Seats(1, ("anna",), ("ben", "cem"))
    result = seats.cancel("anna")
    assert (result.outcome, result.promoted) == ("left_confirmed", "ben")
    assert result.seats == Seats(1, ("ben",), ("cem",))
    assert seats.cancel("cem").seats == Seats(1, ("anna",), ("ben",))
    assert seats.cancel("cem").promoted is None
    assert seats.cancel("dora").outcome == "not_registered"
    assert Seats(2, ("anna",)).cancel("anna").seats == Seats(2)


def test_everyone_for_host_cancellation() -> None:
    assert Seats(1, ("anna",), ("ben",)).everyone == ("anna", "ben")


@pytest.mark.parametrize(
    ("capacity", "confirmed", "waiting"),
    [(0, (), ()), (1, ("a", "b"), ()), (2, ("a",), ("b",)), (2, ("a",), ("a",))],
)
def test_inconsistent_seats_are_rejected(
    capacity: int, confirmed: tuple[str, ...], waiting: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        Seats(capacity, confirmed, waiting)


def test_announcement_state() -> None:
    when = When(DEC3, date(2026, 12, 4))
    assert Seats(2, (1,)).state(cancelled=False, when=when, today=TODAY) is OfferState.OPEN
    assert Seats(1, (1,)).state(cancelled=False, when=when, today=TODAY) is OfferState.FULL
    assert Seats(1, (1,)).state(cancelled=True, when=when, today=TODAY) is OfferState.CANCELLED
    late = date(2026, 12, 5)
    assert Seats(2, (1,)).state(cancelled=False, when=when, today=late) is OfferState.PAST
    on_last_day = date(2026, 12, 4)
    assert Seats(2).state(cancelled=False, when=when, today=on_last_day) is OfferState.OPEN


operations = st.lists(st.tuples(st.sampled_from(["join", "cancel"]), st.integers(0, 7)))


@given(st.integers(1, 4), operations)
def test_seats_behave_like_a_queue(capacity: int, ops: list[tuple[str, int]]) -> None:
    seats = Seats[int](capacity)
    arrivals: list[int] = []  # everyone signed up, in the order they joined
    for op, person in ops:
        if op == "join":
            result = seats.join(person)
            if person not in arrivals:
                arrivals.append(person)
            seats = result.seats
        else:
            before = seats
            cancelled = seats.cancel(person)
            seats = cancelled.seats
            if person in before.confirmed and before.waiting:
                assert cancelled.promoted == before.waiting[0]
                assert seats.waiting == before.waiting[1:]
            else:
                assert cancelled.promoted is None
            if person in arrivals:
                arrivals.remove(person)
        assert len(seats.confirmed) <= capacity
        # First come, first served: the earliest arrivals hold the places, the rest wait in order.
        assert seats.confirmed + seats.waiting == tuple(arrivals)
        assert not seats.waiting or seats.free == 0


# Short IDs


def test_short_ids_are_typeable_and_reproducible() -> None:
    ids = [new_short_id(random.Random(7)) for _ in range(3)]
    assert len(set(ids)) == 1
    assert re.fullmatch(r"H-[2-9A-HJKMNP-Z]{4}", ids[0])
    assert not set("01OIL") & set(ID_ALPHABET)
    assert new_short_id(random.Random(7), prefix="K").startswith("K-")


@given(st.randoms(use_true_random=False))
def test_typed_variants_normalise_to_the_id(rng: random.Random) -> None:
    short_id = new_short_id(rng)
    body = short_id[2:]
    for typed in (
        short_id,
        short_id.lower(),
        f"h {body}",
        body.lower(),
        f" H - {body} ",
        f"H{body}",
    ):
        assert normalise_short_id(typed) == short_id


@pytest.mark.parametrize(
    "typed", ["H-0ABC", "H-ABC", "H-ABCDE", "K-ABCD", "", "H-", "HO1L", "AB CD"]
)
def test_impossible_ids_are_none(typed: str) -> None:
    assert normalise_short_id(typed) is None


# Wishes


def test_parse_wish() -> None:
    assert parse_wish("  Bau aufsicht ") == "Bau aufsicht"
    assert parse_wish(" ") == "wish_empty"
    assert parse_wish("x" * (WISH_MAX + 1)) == "wish_too_long"


def test_matching_wishes_uses_the_given_score_and_threshold() -> None:
    def overlap(a: str, b: str) -> float:
        words_a, words_b = set(a.lower().split()), set(b.lower().split())
        return len(words_a & words_b) / len(words_b)

    draft = OfferDraft("Bauaufsicht Praxis", When(DEC3, DEC3), 2, "Ortstermin Baustelle")
    text = offer_match_text(draft, "Bauamt Musterstadt")
    assert text == "Bauaufsicht Praxis Ortstermin Baustelle Bauamt Musterstadt"
    wishes = [(1, "Kita"), (2, "Bauamt Baustelle"), (3, "Baustelle Friedhof"), (4, "Baustelle")]
    assert matching_wishes(text, wishes, overlap, 0.5) == [(2, 1.0), (4, 1.0), (3, 0.5)]
    assert matching_wishes(text, wishes, overlap, 1.01) == []
