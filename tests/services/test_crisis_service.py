"""Crisis routing use cases on a temporary SQLite with a recording Messenger and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from bot.domain.availability import AvailabilityError
from bot.domain.contacts import ContactError, ContactErrorCode
from bot.domain.crisis import AnswerOutcome, CloseOutcome
from bot.domain.crisis_meaning import kind_of
from bot.i18n import Lang
from bot.i18n.render import render
from bot.services.contact_vectors import CONTACT_KIND, REQUEST_KIND, contact_meaning_text
from bot.services.contacts import ContactService, normalise_id
from bot.services.crisis import CrisisService
from bot.services.crisis_fit import lexical_fits
from bot.services.crisis_replies import Access, RequestError
from bot.services.organisation_kinds import KINDS_FILE, kinds_in
from bot.services.ports import Say
from bot.services.vectors import VectorService
from bot.store.db import Database, StoreUnavailable
from tests.support.crisis_world import (
    BERLIN,
    CHIEF,
    CRISIS_ROOM,
    STAFF,
    START,
    TAFEL,
    CrisisWorld,
    WallClock,
    asked_people,
    asks,
    bridges,
    build_crisis,
    crisis_config,
    crisis_world,
    user,
)

ADMIN = "@admin:rathaus.example"
ADMINS = frozenset({"staff", "admin"})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[CrisisWorld]:
    async with crisis_world(tmp_path) as world:
        yield world


@pytest.fixture
async def meaning(tmp_path: Path) -> AsyncIterator[CrisisWorld]:
    """Like `world`, with the embedding model; tier 1 asks one person."""
    async with crisis_world(tmp_path, crisis_config(tier1_size=1), meaning=True) as world:
        yield world


def render_say(message: Say, lang: Lang) -> str:
    params = {
        k: (render(v.key, lang, **v.params).plain if isinstance(v, Say) else v)
        for k, v in message.params.items()
    }
    return render(message.key, lang, **params).plain


def rendered(w: CrisisWorld, lang: Lang = "de") -> list[str]:
    """Every recorded message rendered through the real catalogue (catches missing params)."""
    return [render_say(s.message, lang) for s in w.messenger.sent if s.message is not None]


# -- IDs ------------------------------------------------------------------------------------


def test_ids_are_read_forgivingly() -> None:
    assert normalise_id("k-7kqx", "K") == "K-7KQX"
    assert normalise_id("K7KQX", "K") == "K-7KQX"
    assert normalise_id("7kqx", "K") == "K-7KQX"
    assert normalise_id(" A-4MZP ", "A") == "A-4MZP"
    assert normalise_id("K-7KQ", "K") is None
    assert normalise_id("K-7K0X", "K") is None  # 0 is never used, so it is a typo
    assert normalise_id("A-7KQX", "K") is None


# -- bridge registry --------------------------------------------------------------------------


async def test_declare_list_and_delete_own_contacts_only(world: CrisisWorld) -> None:
    declared = await world.contacts.declare(user("anna"), "Tafel  Dresden", "soziale träger")
    assert not declared.existed
    contact = declared.contact
    assert normalise_id(contact.id, "K") == contact.id
    assert (contact.organisation, contact.sector) == ("Tafel Dresden", "Soziale Träger")
    again = await world.contacts.declare(user("anna"), "tafel dresden", "Soziale Träger")
    assert again.existed and again.contact.id == contact.id
    views = await world.contacts.list_own(user("anna"))
    assert [v.contact.id for v in views] == [contact.id]
    assert views[0].status == "live"
    # Someone else's ID is refused exactly like an unknown one.
    assert await world.contacts.delete(user("ben"), contact.id) is None
    assert await world.contacts.confirm(user("ben"), contact.id) is None
    assert await world.contacts.list_own(user("anna"))
    assert await world.contacts.delete(user("anna"), contact.id.lower()) == contact.id
    assert await world.contacts.list_own(user("anna")) == []


@pytest.mark.parametrize(
    ("organisation", "code"),
    [
        ("Tafel, Tel. 0351 1234567", ContactErrorCode.PHONE_NUMBER),
        ("Tafel info@tafel-dresden.de", ContactErrorCode.EMAIL_ADDRESS),
        ("Tafel, Frau Müller", ContactErrorCode.PERSON_NAME),
        ("@mueller:tafel.de", ContactErrorCode.MATRIX_ID),
    ],
)
async def test_personal_data_of_third_parties_is_refused(
    world: CrisisWorld, organisation: str, code: ContactErrorCode
) -> None:
    with pytest.raises(ContactError) as error:
        await world.contacts.declare(user("anna"), organisation, "Soziale Träger")
    assert error.value.code is code
    assert await world.contacts.list_own(user("anna")) == []


async def test_unknown_sector_gets_suggestions(world: CrisisWorld) -> None:
    with pytest.raises(ContactError) as error:
        await world.contacts.declare(user("anna"), "Tafel Dresden", "Träger")
    assert error.value.code is ContactErrorCode.SECTOR_UNKNOWN
    assert "Soziale Träger" in error.value.suggestions


async def test_availability_is_stored_and_read_back(world: CrisisWorld) -> None:
    view = await world.contacts.availability(user("anna"))
    assert view.is_default and view.availability.always
    await world.contacts.set_availability(user("anna"), "Mo-Fr  7-18")
    view = await world.contacts.availability(user("anna"))
    assert not view.is_default and view.availability.render_de() == "Mo-Fr 7-18"
    with pytest.raises(AvailabilityError):
        await world.contacts.set_availability(user("anna"), "Mx 7-18")


async def test_reconfirmation_reminder_then_expiry(world: CrisisWorld) -> None:
    contact = (
        await world.contacts.declare(user("anna"), "Tafel Dresden", "Soziale Träger")
    ).contact
    assert (await world.contacts.check_contacts()).reminded == 0
    world.clock.advance(days=181)
    assert (await world.contacts.check_contacts()).reminded == 1
    assert (await world.contacts.check_contacts()).reminded == 0  # asked once per period
    reminder = world.messenger.sent[-1]
    assert reminder.target == user("anna") and reminder.extra["reactions"] == ("👍",)
    assert reminder.effect_key.startswith(f"contact:{contact.id}:reconfirm:")
    views = await world.contacts.list_own(user("anna"))
    assert views[0].status == "needs_reconfirmation"
    # A 👍 on the reminder confirms; someone else's 👍 does nothing.
    assert await world.contacts.on_reaction(user("ben"), reminder.effect_key, "👍") is None
    assert await world.contacts.on_reaction(user("anna"), reminder.effect_key, "👍") is not None
    assert (await world.contacts.list_own(user("anna")))[0].status == "live"
    # Unconfirmed for the whole period: reminded again, then gone.
    world.clock.advance(days=181)
    assert (await world.contacts.check_contacts()).reminded == 1
    world.clock.advance(days=185)
    assert (await world.contacts.check_contacts()).expired == 1
    assert await world.contacts.list_own(user("anna")) == []
    assert world.messenger.sent[-1].message == Say(
        "contacts.expired_note",
        {
            "id": contact.id,
            "organisation": "Tafel Dresden",
            "sector": "Soziale Träger",
            "prefix": "!",
        },
    )
    assert all(rendered(world))


# -- starting requests ------------------------------------------------------------------------


async def test_only_crisis_staff_may_ask_and_only_admins_drill(world: CrisisWorld) -> None:
    for roles, drill in ((frozenset({"staff"}), False), (STAFF, True), (ADMINS, False)):
        with pytest.raises(RequestError) as error:
            await world.crisis.start(CHIEF, roles, "Wer kennt die Tafel?", drill=drill)
        assert error.value.code == "not_allowed"
    with pytest.raises(RequestError, match="empty"):
        await world.crisis.start(CHIEF, STAFF, "   ")
    with pytest.raises(RequestError, match="too_long"):
        await world.crisis.start(CHIEF, STAFF, "x" * 501)
    assert world.messenger.sent == []


async def test_tier_one_asks_the_best_fitting_with_reaction_buttons(world: CrisisWorld) -> None:
    await bridges(
        world,
        ("anna", "Tafel Dresden", "Soziale Träger"),
        ("ben", "Spedition Elbe", "Logistik"),
        ("cem", "Tafel Pirna", "Soziale Träger"),
        ("dora", "Uniklinik", "Gesundheitswesen"),
    )
    started = await world.crisis.start(
        CHIEF, STAFF, "Wer kennt jemanden bei der Tafel? Wir brauchen Lebensmittel."
    )
    assert started.id.startswith("A-") and started.asked == 2
    assert sorted(asked_people(world)) == [user("anna"), user("cem")]
    ask = asks(world)[0]
    assert ask.effect_key == f"crisis:{started.id}:ask:{ask.target}"
    assert ask.extra["reactions"] == ("👍", "👎")
    assert ask.message is not None
    text = render_say(ask.message, "de")
    assert "Tafel" in text and "Lebensmittel" in text and "Der Krisenstab" in text
    assert "Lagezentrum" in text  # the formal fallback
    assert f"!nein {started.id}" in text
    # The crisis room hears first; a large fan-out must not delay the staff's view.
    assert world.messenger.sent[0].kind == "post"
    status = [s for s in world.messenger.sent if s.kind == "post"]
    assert [(s.target, s.effect_key) for s in status] == [
        (CRISIS_ROOM, f"crisis:{started.id}:status")
    ]
    # Posted when the request is stored, brought up to date when tier 1 is asked.
    edits = [s for s in world.messenger.sent if s.kind == "edit"]
    assert [e.target for e in edits] == [f"crisis:{started.id}:status"]
    assert world.messenger.sent.index(edits[0]) < world.messenger.sent.index(asks(world)[0])
    assert "2 gefragt" in render_say(edits[0].message or Say(""), "de")
    assert all(rendered(world)) and all(rendered(world, "en"))


async def test_a_word_all_contacts_share_still_fits(world: CrisisWorld) -> None:
    # Many bridges in one sector: the shared word must not be dropped as too common.
    await bridges(world, *((f"p{i}", f"Tafel Ort {i}", "Soziale Träger") for i in range(120)))
    await bridges(world, ("ben", "Spedition Elbe", "Logistik"))
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei einer Tafel?")
    assert started.asked == 2 and user("ben") not in asked_people(world)


async def test_requester_is_never_asked_about_their_own_request(world: CrisisWorld) -> None:
    await world.contacts.declare(CHIEF, "Tafel Dresden", "Soziale Träger")
    await bridges(world, ("anna", "Tafel Pirna", "Soziale Träger"))
    await world.crisis.start(CHIEF, STAFF, "Wer kennt die Tafel?")
    assert asked_people(world) == [user("anna")]


async def test_a_request_that_fits_nobody_still_reaches_a_bridge(world: CrisisWorld) -> None:
    # Never a dead end: a wording that fits no contact still goes to the bridges there are.
    await bridges(world, ("ben", "Spedition Elbe", "Logistik"))
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    assert started.asked == 1 and asked_people(world) == [user("ben")]
    [routed] = [s for s in world.messenger.sent if s.effect_key.endswith(":routed")]
    assert routed.message is not None and routed.target == CHIEF
    text = render_say(routed.message, "de")
    # The requester sees what tier 1 covers (organisations, never persons), that it fits
    # weakly, how to sharpen the request, and the formal path.
    assert "Spedition Elbe (Logistik)" in text and user("ben") not in text
    assert "schwach" in text and "!werkennt" in text and f"!anfrage {started.id} erledigt" in text
    assert "Lagezentrum" in text
    assert "weakly" in render_say(routed.message, "en")


async def test_without_any_bridge_the_status_says_so(world: CrisisWorld) -> None:
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    assert started.asked == 0
    keys = [(s.kind, s.message.key) for s in world.messenger.sent if s.message]
    assert keys == [
        ("post", "crisis.status.searching"),
        ("edit", "crisis.status.nobody"),
        ("tell", "crisis.routed_nobody"),
    ]
    assert all("Lagezentrum" in t for t in rendered(world)[1:])


async def test_in_the_crisis_room_the_reply_is_posted_there(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3], ("ben", "Spedition Elbe", "Logistik"))
    started = await world.crisis.start(
        CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?", origin_room=CRISIS_ROOM
    )
    [routed] = [s for s in world.messenger.sent if s.effect_key.endswith(":routed")]
    assert (routed.kind, routed.target) == ("post", CRISIS_ROOM)
    assert routed.message is not None
    text = render_say(routed.message, "de")
    assert f"Anfrage {started.id} läuft" in text
    assert "Tafel" in text and "(Soziale Träger)" in text and "Spedition Elbe" not in text
    assert "schwach" not in text  # it names the organisation: a clear fit
    # Room messages before the DMs of the step.
    kinds = [s.kind for s in world.messenger.sent]
    assert kinds.index("tell") > max(i for i, k in enumerate(kinds) if k != "tell")
    # Without a crisis room the status lives in the DM the request was made in.
    world.config = crisis_config(room=None)
    world = world.restart()
    await world.crisis.start(CHIEF, STAFF, "Wer kennt die Tafel?", origin_room="!dm:x")
    posts = [s for s in world.messenger.sent if s.kind == "post"]
    assert [p.target for p in posts] == ["!dm:x", "!dm:x"]
    assert posts[1].effect_key.endswith(":routed")


async def test_the_command_path_routes_in_the_tick_after_the_commit(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3])
    woken: list[bool] = []
    world.crisis.wake = lambda: woken.append(True)
    async with world.db.transaction(
        "test.crisis_service.test_the_command_path_routes_in_the_tick_after_the_commit"
    ):  # as a command handler runs
        opened = await world.crisis.open_request(
            CHIEF, STAFF, "Wer kennt die Tafel?", origin_room="!dm-chief:x"
        )
    assert woken and asks(world) == []
    assert [s.message.key for s in world.messenger.sent if s.message] == ["crisis.status.searching"]
    assert await world.crisis.tick() == 1
    assert len(asks(world)) == 2
    [routed] = [s for s in world.messenger.sent if s.effect_key == f"crisis:{opened.id}:routed"]
    assert (routed.kind, routed.target) == ("tell", CHIEF)  # asked in a DM: answered there
    assert await world.crisis.tick() == 0


# -- answers ----------------------------------------------------------------------------------


async def test_first_yes_connects_and_the_others_are_told(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3])
    world.config = crisis_config(tier1_size=3)
    world = world.restart()
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    anna, ben, cem = user("anna"), user("ben"), user("cem")
    assert sorted(asked_people(world)) == [anna, ben, cem]
    await world.crisis.answer(ben, started.id, False)
    world.clock.advance(minutes=2)
    key = CrisisService.ask_key(started.id, cem)
    reply = await world.crisis.on_reaction(cem, key, "👍", withdrawn=False)
    assert reply is not None and reply.outcome is AnswerOutcome.CONNECTED
    rooms = [s for s in world.messenger.sent if s.kind == "open_room"]
    assert len(rooms) == 1
    assert rooms[0].target == f"crisis:{started.id}"
    assert sorted(rooms[0].extra["invite"]) == sorted([CHIEF, cem])
    settled = [
        s.target for s in world.messenger.sent if s.message and s.message.key == "crisis.settled"
    ]
    assert sorted(settled) == [anna, ben]
    edits = [s for s in world.messenger.sent if s.kind == "edit"]
    assert edits[-1].target == f"crisis:{started.id}:status"
    assert edits[-1].message is not None and edits[-1].message.key == "crisis.status.connected"
    assert len({e.effect_key for e in edits}) == len(edits)  # a new key per edit
    late = await world.crisis.answer(anna, started.id, True)
    assert late.outcome is AnswerOutcome.ALREADY_SETTLED
    assert len([s for s in world.messenger.sent if s.kind == "open_room"]) == 1
    assert all(rendered(world))


async def test_reactions_of_others_and_withdrawals_are_not_answers(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:2])
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    key = CrisisService.ask_key(started.id, user("anna"))
    assert await world.crisis.on_reaction(user("ben"), key, "👍", withdrawn=False) is None
    assert await world.crisis.on_reaction(user("anna"), key, "👍", withdrawn=True) is None
    assert await world.crisis.on_reaction(user("anna"), key, "🎉", withdrawn=False) is None
    assert not [s for s in world.messenger.sent if s.kind == "open_room"]


async def test_no_with_hint_reaches_the_requester_and_ends_the_tier_early(
    world: CrisisWorld,
) -> None:
    await bridges(world, *TAFEL)
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    first = asked_people(world)
    assert len(first) == 2
    reply = await world.crisis.answer(first[0], started.id, False, "Fragen Sie die Caritas.")
    assert reply.outcome is AnswerOutcome.DECLINED
    hints = [s for s in world.messenger.sent if s.message and s.message.key == "crisis.hint"]
    assert [h.target for h in hints] == [CHIEF]
    assert hints[0].message is not None
    assert "Fragen Sie die Caritas." in render_say(hints[0].message, "de")
    assert len(asked_people(world)) == 2  # one still thinking: tier 1 goes on
    await world.crisis.answer(first[1], started.id, False)
    assert len(asked_people(world)) == 4  # everybody said no: tier 2 at once
    assert not set(first) & set(asked_people(world)[2:])


async def test_unasked_people_and_unknown_ids_get_the_same_answer(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:1])
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    stranger = await world.crisis.answer(user("zoe"), started.id, True)
    unknown = await world.crisis.answer(user("zoe"), "A-ZZZZ", True)
    assert stranger.outcome is unknown.outcome is AnswerOutcome.NOT_ASKED


# -- escalation -------------------------------------------------------------------------------


async def test_escalation_tier_two_then_broadcast_asks_nobody_twice(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL)
    await bridges(world, ("fritz", "Tafel Riesa", "Soziale Träger"))
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    assert len(asked_people(world)) == 2
    world.clock.advance(minutes=9)
    assert await world.crisis.tick() == 0  # not due yet
    world.clock.advance(minutes=1)
    assert await world.crisis.tick() == 1
    assert len(asked_people(world)) == 4
    notes = [
        s for s in world.messenger.sent if s.message and s.message.key == "crisis.broadcast_note"
    ]
    assert notes == []
    world.clock.advance(minutes=10)
    await world.crisis.tick()
    assert sorted(asked_people(world)) == sorted(
        user(n) for n in ("anna", "ben", "cem", "dora", "emil", "fritz")
    )
    assert len(set(asked_people(world))) == 6
    notes = [
        s for s in world.messenger.sent if s.message and s.message.key == "crisis.broadcast_note"
    ]
    assert [(n.target, n.effect_key) for n in notes] == [
        (CRISIS_ROOM, f"crisis:{started.id}:broadcast")
    ]
    tiers = [s.effect_key for s in asks(world)]
    assert len(tiers) == len(set(tiers))
    # The broadcast says why someone whose contact may not fit is asked too.
    whys = [cast(Say, s.message.params["why"]).key for s in asks(world) if s.message]
    assert whys == ["crisis.ask.why.fit"] * 4 + ["crisis.ask.why.broadcast"] * 2
    # Nothing more to do until the request expires.
    world.clock.advance(minutes=20)
    assert await world.crisis.tick() == 0


async def test_urgent_requests_wait_half_as_long(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL)
    await world.crisis.start(CHIEF, STAFF, "dringend Tafel")  # the word is the command's job
    await world.crisis.start(CHIEF, STAFF, "Wer kennt die Tafel?", urgent=True)
    world.clock.advance(minutes=5)
    assert await world.crisis.tick() == 1


async def test_restart_mid_escalation_continues_without_asking_twice(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL)
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    first = set(asked_people(world))
    world.clock.advance(minutes=10)
    again = world.restart()
    await again.crisis.tick()
    await again.crisis.tick()
    second = set(asked_people(again))
    assert len(second) == 2 and not first & second
    # A replayed answer after the restart changes nothing twice either.
    person = next(iter(second))
    assert (await again.crisis.answer(person, started.id, True)).outcome is AnswerOutcome.CONNECTED
    assert (
        await again.crisis.answer(person, started.id, True)
    ).outcome is AnswerOutcome.ALREADY_SETTLED


async def test_out_of_window_people_only_when_nobody_else_fits(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3])
    for name in ("anna", "ben"):
        await world.contacts.set_availability(user(name), "Sa 10-12")  # START is a Wednesday
    await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    assert asked_people(world) == [user("cem")]
    world.clock.advance(minutes=30)
    await world.crisis.tick()
    await world.crisis.tick()
    assert asked_people(world) == [user("cem")]  # cem is available, so nobody is paged
    await world.contacts.set_availability(user("cem"), "nie")
    await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel? Zweite Anfrage")
    assert len(asked_people(world)) == 3  # now nobody is in their window: ask anyway


async def test_weekly_cap_prefers_people_with_fewer_requests(world: CrisisWorld) -> None:
    world.config = crisis_config(cap_per_week=1, tier1_size=1)
    world = world.restart()
    await bridges(world, *TAFEL[:2])
    await world.crisis.start(CHIEF, STAFF, "Wer kennt die Tafel? eins")
    await world.crisis.start(CHIEF, STAFF, "Wer kennt die Tafel? zwei")
    people = asked_people(world)
    assert len(people) == 2 and people[0] != people[1]


# -- expiry, closing, views, protocol -------------------------------------------------------


async def test_expiry_tells_requester_and_waiting_bridges(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:2])
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    await world.crisis.answer(user("anna"), started.id, False)
    world.clock.advance(minutes=61)
    await world.crisis.tick()
    keys = {(s.target, s.message.key) for s in world.messenger.sent if s.message}
    assert (CHIEF, "crisis.expired_requester") in keys
    assert (user("ben"), "crisis.settled") in keys
    assert (user("anna"), "crisis.settled") not in keys  # she answered already
    late = await world.crisis.answer(user("ben"), started.id, True)
    assert late.outcome is AnswerOutcome.REQUEST_EXPIRED
    assert await world.crisis.active_requests(STAFF) == []


async def test_close_lists_and_protocol(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3])
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    views = await world.crisis.active_requests(STAFF)
    assert [v.id for v in views] == [started.id]
    with pytest.raises(RequestError):
        await world.crisis.active_requests(frozenset({"staff"}))
    first = asked_people(world)
    world.clock.advance(seconds=30)
    await world.crisis.answer(first[0], started.id, False, "Versuchen Sie es beim DRK.")
    world.clock.advance(seconds=30)
    closed = await world.crisis.close_request(user("chef2"), STAFF, started.id.lower())
    assert closed.outcome is CloseOutcome.CLOSED
    assert (
        await world.crisis.close_request(CHIEF, STAFF, started.id)
    ).outcome is CloseOutcome.ALREADY_CLOSED
    assert (await world.crisis.close_request(CHIEF, STAFF, "A-ZZZZ")).outcome is Access.NOT_FOUND
    settled = [
        s.target for s in world.messenger.sent if s.message and s.message.key == "crisis.settled"
    ]
    assert settled == [first[1]]  # the one still waiting
    assert await world.crisis.active_requests(STAFF) == []
    protocol = await world.crisis.protocol(STAFF, started.id)
    assert protocol is not None
    kinds = [(e.kind, e.person) for e in protocol.timeline]
    assert kinds == [
        ("created", CHIEF),
        ("tier", None),
        ("asked", first[0]),
        ("asked", first[1]),
        ("no", first[0]),
        ("hint_forwarded", CHIEF),
        ("closed", user("chef2")),
        ("settled", first[1]),
    ]
    assert [e.at for e in protocol.timeline] == sorted(e.at for e in protocol.timeline)
    assert protocol.timeline[4].detail == "Versuchen Sie es beim DRK."
    assert await world.crisis.protocol(frozenset({"staff", "admin"}), started.id) is None


async def test_connected_requests_are_filed_when_they_would_expire(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:1])
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    await world.crisis.answer(user("anna"), started.id, True)
    assert [v.id for v in await world.crisis.active_requests(STAFF)] == [started.id]
    world.clock.advance(minutes=61)
    await world.crisis.tick()
    assert await world.crisis.active_requests(STAFF) == []
    protocol = await world.crisis.protocol(STAFF, started.id)
    assert protocol is not None and protocol.timeline[-1].kind == "filed"


# -- drills -----------------------------------------------------------------------------------


async def test_drills_are_labelled_everywhere_and_reported_apart(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:3])
    drill = await world.crisis.start(ADMIN, ADMINS, "Wer kennt eine Tafel?", drill=True)
    assert drill.drill
    person = asked_people(world)[0]
    world.clock.advance(seconds=90)
    await world.crisis.answer(person, drill.id, True)
    real = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel Pirna?")
    for sent in world.messenger.sent:
        assert sent.message is not None
        is_drill = drill.id in sent.effect_key
        assert (sent.message.params.get("label") == Say("crisis.label.drill")) is is_drill, sent
    drill_texts = [
        render_say(s.message, "de")
        for s in world.messenger.sent
        if s.message and drill.id in s.effect_key
    ]
    assert drill_texts and all("ÜBUNG" in t for t in drill_texts)
    # Admins see drills but not real requests; crisis staff see both.
    assert [v.id for v in await world.crisis.active_requests(ADMINS)] == [drill.id]
    assert {v.id for v in await world.crisis.active_requests(STAFF)} == {drill.id, real.id}
    with pytest.raises(RequestError):
        await world.crisis.report(STAFF)
    report = await world.crisis.report(ADMINS)
    assert report.drills.requests == 1 and report.drills.connected == 1
    assert report.drills.first_answer.median == timedelta(seconds=90)
    assert report.real.requests == 1 and report.real.answered == 0
    assert "Soziale Träger" not in report.thin_sectors and "Logistik" in report.thin_sectors


# -- personal data ----------------------------------------------------------------------------


async def test_export_and_forget_a_bridge(world: CrisisWorld, tmp_path: Path) -> None:
    await bridges(world, *TAFEL[:2])
    await world.contacts.set_availability(user("anna"), "Mo-Fr 7-18")
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    await world.crisis.answer(user("anna"), started.id, False, "Geheimtipp Annas")
    exported = await world.contacts.export(user("anna"))
    assert exported["availability"] == "Mo-Fr 7-18" and len(exported["contacts"]) == 1
    requests = await world.crisis.export(user("anna"))
    assert [e["event"] for e in requests["requests_received"]] == ["asked", "no"]
    async with world.db.transaction("test"):
        await world.contacts.forget(user("anna"))
        await world.crisis.forget(user("anna"))
    assert await world.contacts.list_own(user("anna")) == []
    protocol = await world.crisis.protocol(STAFF, started.id)
    assert protocol is not None
    people = {e.person for e in protocol.timeline if e.kind in ("asked", "no")}
    assert user("anna") not in people and len(people) == 2
    # The request goes on: ben can still say yes, and anna is not asked again.
    assert (
        await world.crisis.answer(user("ben"), started.id, True)
    ).outcome is AnswerOutcome.CONNECTED
    await world.db.close()
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("crisis.db*")))  # noqa: ASYNC240
    assert b"@anna:rathaus.example" not in raw and b"Geheimtipp" not in raw
    await world.db.open()


async def test_forgetting_the_requester_closes_their_requests(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL[:2])
    started = await world.crisis.start(CHIEF, STAFF, "Vertraulich: wer kennt die Tafel?")
    async with world.db.transaction(
        "test.crisis_service.test_forgetting_the_requester_closes_their_requests"
    ):
        await world.crisis.forget(CHIEF)
    settled = [
        s.target for s in world.messenger.sent if s.message and s.message.key == "crisis.settled"
    ]
    assert sorted(settled) == [user("anna"), user("ben")]
    assert await world.crisis.active_requests(STAFF) == []
    protocol = await world.crisis.protocol(STAFF, started.id)
    assert protocol is not None
    assert protocol.request.text == "" and protocol.request.requester.startswith("~former-")
    assert all(
        e.person != CHIEF and "Vertraulich" not in (e.detail or "") for e in protocol.timeline
    )
    assert (
        await world.crisis.answer(user("anna"), started.id, True)
    ).outcome is AnswerOutcome.REQUEST_CLOSED


# -- routing by meaning -----------------------------------------------------------------------

COLD_CHAIN = "Kühlfahrzeug für Impfstoff benötigt"
REGISTRY = [
    ("anna", "Tafel Dresden", "Soziale Träger"),
    ("ben", "Spedition Kühne", "Logistik"),
    ("cem", "Bahnhofsmission Dresden", "Wohnungslosenhilfe"),
    ("dora", "Uniklinik Dresden", "Gesundheitswesen"),
    ("emil", "Messe Dresden", "Veranstaltungswirtschaft"),
]
PLAIN_SECTORS = [
    "Soziale Träger",
    "Logistik",
    "Wohnungslosenhilfe",
    "Gesundheitswesen",
    "Veranstaltungswirtschaft",
]


async def test_a_request_without_any_contacts_words_asks_the_right_bridge_first(
    meaning: CrisisWorld,
) -> None:
    # Sectors without descriptions: the request shares no word at all with any contact.
    meaning.config = crisis_config(tier1_size=1, sectors=PLAIN_SECTORS)
    world = meaning.restart()
    await bridges(world, *REGISTRY)
    contacts = await world.contacts.live_contacts(world.clock())
    assert lexical_fits(COLD_CHAIN, contacts, {}) == [0.0] * len(REGISTRY)
    assert world.vectors is not None
    assert await world.vectors.refresh() == len(REGISTRY)
    started = await world.crisis.start(CHIEF, STAFF, COLD_CHAIN)
    assert started.asked == 1 and asked_people(world) == [user("ben")]
    [routed] = [s for s in world.messenger.sent if s.effect_key.endswith(":routed")]
    assert routed.message is not None
    assert "Spedition Kühne (Logistik)" in render_say(routed.message, "de")
    # The request's vector is stored for the later steps, owned by the requester.
    rows = await world.db.fetchall(
        "SELECT owner, user_id FROM text_vectors WHERE kind = ?", (REQUEST_KIND,)
    )
    assert [tuple(r) for r in rows] == [(started.id, CHIEF)]


async def test_the_kind_of_organisation_tells_what_a_bridge_can_help_with(
    meaning: CrisisWorld,
) -> None:
    """No contact's words, and by e5 alone the hall came first: the shipped glossary of
    organisation kinds knows that a DEHOGA has hotel beds."""
    meaning.config = crisis_config(tier1_size=1)
    world = meaning.restart()
    await bridges(
        world,
        ("anna", "DEHOGA Kreisverband Nord", "Wirtschaft"),
        ("ben", "Zeltverleih Brandt", "Veranstaltungswirtschaft"),
        ("cem", "Stadthalle Nord", "Veranstaltungswirtschaft"),
        ("dora", "Hausarztpraxis Dr. Lenz", "Gesundheitswesen"),
    )
    assert world.vectors is not None
    await world.vectors.refresh()
    await world.crisis.start(
        CHIEF, STAFF, "Übernachtung für 60 Feuerwehrleute aus dem Nachbarkreis, zwei Nächte"
    )
    assert asked_people(world) == [user("anna")]


async def test_an_operators_own_kinds_of_organisation_join_the_shipped_ones(
    meaning: CrisisWorld, tmp_path: Path
) -> None:
    own = tmp_path / "kinds.yaml"
    own.write_text(
        "- names: [Kesselflickerzunft, Zunft der Kesselflicker]\n"
        "  requests: [Undichte Kupferkessel in der Feldküche abdichten]\n",
        encoding="utf-8",
    )
    meaning.config = crisis_config(organisation_kinds=str(own))
    world = meaning.restart()
    await bridges(world, ("anna", "Kesselflickerzunft Talheim", "Wirtschaft"))
    assert world.vectors is not None
    await world.vectors.refresh()
    background = await world.crisis.meaning.background()
    assert background is not None
    shipped = len(kinds_in(KINDS_FILE))
    assert int(background.kinds.name_kind.max()) == shipped  # one kind more, numbered last
    contact = (await world.contacts.list_own(user("anna")))[0].contact
    text = (contact_meaning_text(contact),)
    stored = await world.vectors.vectors(CONTACT_KIND, {contact.id: text})
    assert kind_of(stored[contact.id], [contact.organisation], background.kinds).tolist() == [
        shipped
    ]


async def test_a_store_outage_while_contacts_are_encoded_is_left_to_the_routing_tick(
    meaning: CrisisWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The tick waits for the store and tries again; the encoder did not fail, so no error
    with a traceback is logged for it."""
    await bridges(meaning, *REGISTRY)
    started = await meaning.crisis.start(CHIEF, STAFF, COLD_CHAIN)
    req = await meaning.crisis.store.get(started.id)
    assert req is not None and meaning.vectors is not None

    async def unavailable(kind: str) -> int:
        raise StoreUnavailable("the database is gone")

    monkeypatch.setattr(meaning.vectors, "refresh_kind", unavailable)
    with pytest.raises(StoreUnavailable):
        await meaning.crisis.meaning.query(req)
    assert "could not encode" not in caplog.text


async def test_with_sector_descriptions_the_right_bridge_is_in_tier_one(
    meaning: CrisisWorld,
) -> None:
    """With the default tier size of three (the measure of bench/semantic.py: a fitting
    bridge among the first three asked)."""
    meaning.config = crisis_config(tier1_size=3)
    meaning = meaning.restart()
    await bridges(meaning, *REGISTRY)
    assert meaning.vectors is not None
    await meaning.vectors.refresh()
    for request, expected in (
        (COLD_CHAIN, "ben"),
        ("Wir brauchen heute Nacht Schlafplätze für 30 Menschen ohne Wohnung", "cem"),
        ("Wer kann uns eine große Halle für ein Impfzentrum stellen?", "emil"),
    ):
        meaning.messenger.sent.clear()
        await meaning.crisis.start(CHIEF, STAFF, request)
        asked = asked_people(meaning)
        assert len(asked) == 3 and user(expected) in asked, request


async def test_contacts_are_encoded_when_declared_and_descriptions_only_once_in_memory(
    meaning: CrisisWorld,
) -> None:
    assert meaning.vectors is not None
    woken: list[bool] = []
    meaning.vectors.wake = lambda: woken.append(True)
    await bridges(meaning, *REGISTRY[:2])
    assert len(woken) == 2
    assert await meaning.vectors.refresh() == 2
    assert await meaning.vectors.refresh() == 0
    # Sector descriptions are configuration: they are encoded in memory, per configuration,
    # and a new description changes the routing without encoding any contact again.
    sectors = [
        {"name": "Logistik", "description": "Transport und Lagerhallen"},
        *[s for s in PLAIN_SECTORS if s != "Logistik"],
    ]
    meaning.config = crisis_config(tier1_size=1, sectors=sectors)
    world = meaning.restart()
    assert world.vectors is not None
    assert await world.vectors.refresh() == 0
    background = await world.crisis.meaning.background()
    assert background is not None
    assert len(background.sectors["Logistik"]) == 3  # the name, "Transport", "Lagerhallen"
    assert len(background.sectors["Soziale Träger"]) == 1  # the name only
    # A deleted contact's vector goes at the next refresh.
    own = await world.contacts.list_own(user("ben"))
    await world.contacts.delete(user("ben"), own[0].contact.id)
    await world.vectors.refresh()
    rows = await world.db.fetchall(
        "SELECT COUNT(*) FROM text_vectors WHERE kind = ?", (CONTACT_KIND,)
    )
    assert rows[0][0] == 1


async def test_contacts_not_encoded_yet_are_encoded_when_a_request_routes(
    meaning: CrisisWorld,
) -> None:
    """Compared by their words only, they would lose to contacts whose lifts are taken
    relative to the best of those with a vector (a Tafel for "Wer kennt eine Spedition?",
    found by bench/fanout.py while the refresh was busy)."""
    meaning.config = crisis_config(tier1_size=1, sectors=PLAIN_SECTORS)
    world = meaning.restart()
    await bridges(world, *REGISTRY)
    assert world.vectors is not None
    await world.vectors.refresh()
    await bridges(world, ("fritz", "Kühlhaus Nord", "Logistik"))
    world.messenger.sent.clear()
    # No refresh since fritz declared the contact, and no word in common with the request.
    started = await world.crisis.start(CHIEF, STAFF, "Wo lagern wir 2 Tonnen Tiefkühlware?")
    assert started.asked == 1 and asked_people(world) == [user("fritz")]
    rows = await world.db.fetchall(
        "SELECT COUNT(*) FROM text_vectors WHERE kind = ?", (CONTACT_KIND,)
    )
    assert rows[0][0] == len(REGISTRY) + 1


async def test_without_the_model_the_words_and_descriptions_route(tmp_path: Path) -> None:
    db = Database(tmp_path / "words.db")
    await db.open()
    try:
        config = crisis_config(tier1_size=1)
        world = build_crisis(db, WallClock(START), config)
        messenger = world.messenger
        vectors = VectorService(db, None)
        contacts = ContactService(db, messenger, config.crisis, BERLIN, vectors=vectors)
        crisis = CrisisService(db, messenger, config, contacts, clock=world.clock, vectors=vectors)
        for name, organisation, sector in REGISTRY:
            await contacts.declare(user(name), organisation, sector)
        assert await vectors.refresh() == 0
        started = await crisis.start(CHIEF, STAFF, COLD_CHAIN)
        assert started.asked == 1
        keys = [(s.target, s.message.key) for s in messenger.sent if s.message]
        assert [target for target, key in keys if key == "crisis.ask"] == [user("ben")]
    finally:
        await db.close()


async def test_a_no_routes_tier_two_from_the_stored_vector(meaning: CrisisWorld) -> None:
    await bridges(meaning, *REGISTRY)
    assert meaning.vectors is not None
    await meaning.vectors.refresh()
    started = await meaning.crisis.start(CHIEF, STAFF, COLD_CHAIN)
    assert asked_people(meaning) == [user("ben")]
    # The only one asked says no: tier 2 at once, inside the answer's transaction, from the
    # stored vector (nothing is encoded there).
    await meaning.crisis.answer(user("ben"), started.id, False)
    assert len(asked_people(meaning)) == 3
    # Without a stored vector the answer leaves the next tier to the tick, which encodes.
    again = await meaning.crisis.start(CHIEF, STAFF, "Dolmetscher für Ukrainisch gesucht")
    first = asked_people(meaning)[3:]
    assert len(first) == 1
    await meaning.db.execute(
        "DELETE FROM text_vectors WHERE kind = ? AND owner = ?",
        (REQUEST_KIND, again.id),
        name="test.drop_vectors",
    )
    woken: list[bool] = []
    meaning.crisis.wake = lambda: woken.append(True)
    await meaning.crisis.answer(first[0], again.id, False)
    assert woken and len(asked_people(meaning)) == 4
    assert await meaning.crisis.tick() == 1
    assert len(asked_people(meaning)) == 6


async def test_only_a_request_too_vague_to_route_hears_how_to_sharpen_it(
    meaning: CrisisWorld,
) -> None:
    """The hint says the bot did not understand the request well: clear requests, worded
    without the contacts' words, do not get it; requests that name no need do."""
    meaning.config = crisis_config(tier1_size=3)
    meaning = meaning.restart()
    await bridges(meaning, *REGISTRY)
    assert meaning.vectors is not None
    await meaning.vectors.refresh()

    async def hinted(request: str) -> bool:
        meaning.messenger.sent.clear()
        await meaning.crisis.start(CHIEF, STAFF, request)
        [routed] = [s for s in meaning.messenger.sent if s.effect_key.endswith(":routed")]
        assert routed.message is not None
        return "schwach" in render_say(routed.message, "de")

    for clear in (
        COLD_CHAIN,
        "Dialyseplätze für 20 Patienten aus dem Sperrgebiet",
        "Kältewelle: wo können Menschen von der Straße heute Nacht schlafen?",
        "Wer kann uns eine große Halle für ein Impfzentrum stellen?",
    ):
        assert not await hinted(clear), clear
    for vague in (
        "Wer kann uns heute noch helfen? Bitte melden.",
        "Dringend: wer hat Kontakte? Details gebe ich am Telefon durch.",
    ):
        assert await hinted(vague), vague
