"""The hospitation repository, on both store backends."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from bot.domain.dates import When
from bot.domain.hospitation import Seats
from bot.store.db import Database
from bot.store.hospitation_rows import HospitationDialog, HospitationOffer, HospitationTie
from bot.store.hospitations import HospitationStore
from tests.support.offers import stored_offer

ANNA = "@anna:rathaus.example"
BEN = "@ben:rathaus.example"
CEM = "@cem:rathaus.example"
DEC3 = date(2026, 12, 3)


@pytest.fixture
def store(db: Database) -> HospitationStore:
    """On the kit's store: SQLite and PostgreSQL."""
    return HospitationStore(db)


def offer(
    offer_id: str = "H-7KQX", *, host: str = ANNA, day: date = DEC3, **kw: Any
) -> HospitationOffer:
    values: dict[str, Any] = {
        "id": offer_id,
        "host": host,
        "host_name": "Anna Schmidt",
        "description": "Treffpunkt Foyer",
        "when": When(day, day, time(9), time(12, 30)),
        "created_at": 1.0,
    }
    return stored_offer(**(values | kw))


async def test_offer_round_trip_keeps_dates_and_times(store: HospitationStore) -> None:
    await store.insert_offer(offer())
    await store.insert_offer(offer("H-2222", when=When(DEC3, date(2026, 12, 5))))
    assert await store.offer("H-7KQX") == offer()
    all_day = await store.offer("H-2222")
    assert all_day is not None and all_day.when == When(DEC3, date(2026, 12, 5))
    assert await store.offer_id_taken("H-7KQX")
    assert not await store.offer_id_taken("H-9999")
    assert await store.offer("H-9999") is None


async def test_seats_keep_sign_up_order_and_states(store: HospitationStore) -> None:
    await store.insert_offer(offer())
    await store.add_seat("H-7KQX", BEN, "confirmed", 1.0)
    await store.add_seat("H-7KQX", CEM, "confirmed", 2.0)
    await store.add_seat("H-7KQX", "@dora:rathaus.example", "waiting", 3.0)
    seats = await store.seats("H-7KQX", 2)
    assert seats == Seats(2, (BEN, CEM), ("@dora:rathaus.example",))
    await store.remove_seat("H-7KQX", BEN)
    await store.confirm_seat("H-7KQX", "@dora:rathaus.example")
    assert await store.seats("H-7KQX", 2) == Seats(2, (CEM, "@dora:rathaus.example"))
    mine = await store.seats_of_user(CEM)
    assert [(o.id, state) for o, state in mine] == [("H-7KQX", "confirmed")]


async def test_version_counter_and_cancellation(store: HospitationStore) -> None:
    await store.insert_offer(offer())
    assert await store.bump_version("H-7KQX") == 1
    assert await store.bump_version("H-7KQX") == 2
    await store.cancel_offer("H-7KQX", "host", 5.0)
    cancelled = await store.offer("H-7KQX")
    assert cancelled is not None and cancelled.cancelled and cancelled.cancelled_by == "host"
    assert await store.open_offers_from(date(2026, 11, 1)) == []


async def test_open_offers_from_a_day_soonest_first(store: HospitationStore) -> None:
    await store.insert_offer(offer("H-3333", day=date(2026, 12, 10)))
    await store.insert_offer(offer("H-2222", day=date(2026, 12, 1)))
    await store.insert_offer(offer("H-4444", day=date(2026, 11, 20)))
    found = await store.open_offers_from(date(2026, 11, 25))
    assert [o.id for o in found] == ["H-2222", "H-3333"]


async def test_on_one_day_all_day_offers_come_before_timed_ones(store: HospitationStore) -> None:
    """SQLite sorts the missing start time first; PostgreSQL must not put it last."""
    await store.insert_offer(offer("H-LATE", when=When(DEC3, DEC3, time(14), time(15))))
    await store.insert_offer(offer("H-EARLY"))  # 9:00
    await store.insert_offer(offer("H-ALLDAY", when=When(DEC3, DEC3)))
    found = await store.open_offers_from(DEC3)
    assert [o.id for o in found] == ["H-ALLDAY", "H-EARLY", "H-LATE"]


async def test_reminder_candidates_only_with_someone_left_to_remind(
    store: HospitationStore,
) -> None:
    await store.insert_offer(offer())
    window = (date(2026, 12, 2), date(2026, 12, 3))
    assert [o.id for o in await store.offers_needing_reminders(*window)] == ["H-7KQX"]
    await store.mark_host_reminded("H-7KQX")
    assert await store.host_reminded("H-7KQX")
    assert await store.offers_needing_reminders(*window) == []
    await store.add_seat("H-7KQX", BEN, "confirmed", 1.0)
    await store.add_seat("H-7KQX", CEM, "waiting", 1.0)
    assert [o.id for o in await store.offers_needing_reminders(*window)] == ["H-7KQX"]
    await store.mark_seat_reminded("H-7KQX", BEN)
    # Waiting people are not reminded: they have no place.
    assert await store.offers_needing_reminders(*window) == []
    assert await store.offers_needing_reminders(date(2026, 12, 4), date(2026, 12, 5)) == []


async def test_feedback_answers_and_ties(store: HospitationStore) -> None:
    await store.insert_offer(offer())
    assert [o.id for o in await store.offers_needing_feedback(DEC3)] == ["H-7KQX"]
    await store.ask_feedback("H-7KQX", ANNA, "host", 1.0)
    await store.ask_feedback("H-7KQX", BEN, "participant", 1.0)
    await store.mark_feedback_asked("H-7KQX")
    assert await store.offers_needing_feedback(DEC3) == []
    assert await store.set_feedback("H-7KQX", BEN, True, 2.0)
    assert not await store.set_feedback("H-7KQX", CEM, True, 2.0)
    answers = {f.user_id: (f.role, f.took_place) for f in await store.feedback("H-7KQX")}
    assert answers == {ANNA: ("host", None), BEN: ("participant", True)}
    tie = HospitationTie(
        "H-7KQX", ANNA, BEN, DEC3, "Bauamt", "Musterstadt", "Jugendamt", "Musterstadt"
    )
    await store.save_tie(tie, 3.0)
    await store.save_tie(tie, 4.0)  # idempotent
    assert await store.ties() == [tie]
    await store.delete_tie("H-7KQX", BEN)
    assert await store.ties() == []


async def test_wishes_and_dialogs(store: HospitationStore) -> None:
    assert await store.add_wish(BEN, "Bauaufsicht", 1.0)
    assert not await store.add_wish(BEN, "Bauaufsicht", 2.0)
    assert await store.add_wish(BEN, "Jugendamt", 2.0)
    wishes = await store.wishes_of(BEN)
    assert [w.area for w in wishes] == ["Bauaufsicht", "Jugendamt"]
    assert await store.delete_wish(BEN, wishes[0].id)
    assert not await store.delete_wish(CEM, wishes[1].id)  # not theirs
    assert [w.area for w in await store.all_wishes()] == ["Jugendamt"]

    dialog = HospitationDialog(BEN, "date", "Kasse", None, None, 5.0)
    await store.save_dialog(dialog)
    assert await store.dialog(BEN) == dialog
    await store.save_dialog(HospitationDialog(BEN, "places", "Kasse", "03.12.2026", None, 6.0))
    moved = await store.dialog(BEN)
    assert moved is not None and moved.step == "places" and moved.when_text == "03.12.2026"
    assert await store.delete_dialog(BEN)
    assert await store.dialog(BEN) is None


async def test_forgetting_wipes_the_person_and_keeps_the_shells(
    store: HospitationStore,
) -> None:
    await store.insert_offer(offer())
    await store.add_seat("H-7KQX", BEN, "confirmed", 1.0)
    await store.ask_feedback("H-7KQX", BEN, "participant", 1.0)
    await store.add_wish(BEN, "Bauaufsicht", 1.0)
    await store.save_tie(HospitationTie("H-7KQX", ANNA, BEN, DEC3), 1.0)

    await store.forget_participant(BEN)
    assert await store.seats_of_user(BEN) == []
    assert await store.wishes_of(BEN) == []
    assert await store.feedback_of_user(BEN) == []
    assert await store.ties() == [HospitationTie("H-7KQX", ANNA, None, DEC3)]

    await store.wipe_host(ANNA)
    await store.forget_participant(ANNA)
    shell = await store.offer("H-7KQX")
    assert shell is not None
    assert (shell.host, shell.host_name, shell.title, shell.description) == (None, None, "", None)
    assert shell.department == "Bauamt" and shell.when.start_date == DEC3
    assert await store.ties() == [HospitationTie("H-7KQX", None, None, DEC3)]
