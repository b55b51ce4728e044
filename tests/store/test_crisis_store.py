"""Crisis repositories on a temporary SQLite: requests, their state and timeline, contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.crisis import Answer, Asked, RequestState, Timing, next_step, record_answer
from bot.store.contacts import ContactStore, StoredContact
from bot.store.crisis import CrisisStore, StoredRequest, state_from_json, state_to_json
from bot.store.db import Database

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)


# UTC: a wall-clock time inside a DST gap never compares equal across zones (PEP 495).
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
people = st.sampled_from(["@a:x.de", "@b:x.de", "~former-1a2b", "@c:y.de"])


@st.composite
def states(draw: st.DrawFn) -> RequestState:
    created = draw(moments)
    timing = Timing(
        tier1_size=draw(st.integers(1, 5)),
        tier1_timeout=timedelta(seconds=draw(st.integers(1, 10_000))),
        tier2_size=draw(st.integers(1, 5)),
        tier2_timeout=timedelta(seconds=draw(st.integers(1, 10_000))),
        urgent_factor=draw(st.sampled_from([0.25, 0.5, 1.0])),
        expire_after=timedelta(hours=draw(st.integers(1, 48))),
    )
    return RequestState(
        created_at=created,
        timing=timing,
        urgent=draw(st.booleans()),
        drill=draw(st.booleans()),
        tier_started=tuple(draw(st.lists(moments, max_size=3))),
        asked=tuple(
            Asked(p, t, at)
            for p, t, at in draw(st.lists(st.tuples(people, st.integers(1, 3), moments)))
        ),
        answers=tuple(
            Answer(p, yes, at, hint)
            for p, yes, at, hint in draw(
                st.lists(st.tuples(people, st.booleans(), moments, st.none() | st.text()))
            )
        ),
        connected_to=draw(st.none() | people),
        connected_at=draw(st.none() | moments),
        closed_at=draw(st.none() | moments),
        expired_at=draw(st.none() | moments),
    )


@given(states())
def test_state_survives_json(state: RequestState) -> None:
    text = state_to_json(state)
    assert state_from_json(text) == state
    assert state_to_json(state_from_json(text)) == text


def request(
    rid: str, state: RequestState | None = None, requester: str = "@chief:x.de"
) -> StoredRequest:
    return StoredRequest(
        rid,
        requester,
        "Wer kennt die Tafel?",
        False,
        False,
        "!room:x.de",
        state or RequestState(NOW),
    )


async def test_requests_are_created_once_and_found_when_due(db: Database) -> None:
    store = CrisisStore(db)
    assert await store.create(request("A-2345"))
    assert not await store.create(request("A-2345"))  # the caller draws another ID
    assert await store.due(NOW) == ["A-2345"]  # a new request is due at once
    state = next_step(RequestState(NOW), ["@a:x.de"], NOW)
    await store.save_state("A-2345", state.state, state.next_check_at)
    assert await store.due(NOW) == []
    assert state.next_check_at is not None
    assert await store.due(state.next_check_at) == ["A-2345"]
    loaded = await store.get("A-2345")
    assert loaded is not None and loaded.state == state.state and loaded.active
    assert [r.id for r in await store.active()] == ["A-2345"]
    assert await store.next_status_edit("A-2345") == 1
    assert await store.next_status_edit("A-2345") == 2


async def test_timeline_and_load(db: Database) -> None:
    store = CrisisStore(db)
    await store.create(request("A-2345"))
    await store.add_event("A-2345", NOW, "created", "@chief:x.de", detail="Wer kennt die Tafel?")
    await store.add_event("A-2345", NOW, "asked", "@a:x.de", 1, detail="Tafel | Soziale Träger")
    await store.add_event("A-2345", NOW + timedelta(days=8), "asked", "@a:x.de", 3)
    await store.add_event("A-2345", NOW + timedelta(days=8), "asked", "@b:x.de", 3)
    timeline = await store.timeline("A-2345")
    assert [(e.kind, e.person, e.tier) for e in timeline] == [
        ("created", "@chief:x.de", None),
        ("asked", "@a:x.de", 1),
        ("asked", "@a:x.de", 3),
        ("asked", "@b:x.de", 3),
    ]
    later = NOW + timedelta(days=9)
    assert await store.asks_since(later - timedelta(days=7)) == {
        "@a:x.de": (1, (NOW + timedelta(days=8)).timestamp()),
        "@b:x.de": (1, (NOW + timedelta(days=8)).timestamp()),
    }
    last = await store.last_asked(["@a:x.de", "@c:x.de"])
    assert set(last) == {"@a:x.de"}
    assert await store.asked_detail("A-2345", "@a:x.de") == "Tafel | Soziale Träger"
    assert [r.id for r in await store.involving("@b:x.de")] == ["A-2345"]
    assert await store.involving("@c:x.de") == []


async def test_replace_person_and_prune(db: Database) -> None:
    store = CrisisStore(db)
    state = RequestState(NOW, asked=(Asked("@a:x.de", 1, NOW),))
    await store.create(request("A-2345", state))
    await store.add_event("A-2345", NOW, "no", "@a:x.de", detail="privater Hinweis")
    result = record_answer(state, "@a:x.de", False, "privater Hinweis", NOW)
    forgotten = RequestState(NOW, asked=(Asked("~former-1", 1, NOW),))
    await store.replace_person("A-2345", "@a:x.de", "~former-1", forgotten, None)
    loaded = await store.get("A-2345")
    assert loaded is not None and loaded.state == forgotten and result.state != forgotten
    assert [(e.person, e.detail) for e in await store.timeline("A-2345")] == [("~former-1", None)]
    closed = RequestState(NOW, closed_at=NOW + timedelta(hours=1))
    await store.save_state("A-2345", closed, None)
    assert await store.active() == []
    assert await store.prune(NOW) == 0
    assert await store.prune(NOW + timedelta(days=1)) == 1
    assert await store.timeline("A-2345") == []  # cascades


async def test_contacts_store(db: Database) -> None:
    store = ContactStore(db)
    contact = StoredContact("K-2345", "@a:x.de", "Tafel", "Soziale Träger", 100.0, 100.0)
    assert await store.add(contact)
    assert not await store.add(contact)
    assert await store.find_same("@a:x.de", "TAFEL", "Soziale Träger") == contact
    assert await store.confirmed_since(50.0) == [contact]
    assert await store.confirmed_since(150.0) == []
    assert await store.confirmed_before(150.0) == [contact]
    assert not await store.confirm("K-2345", "@b:x.de", 200.0)
    assert await store.confirm("K-2345", "@a:x.de", 200.0)
    assert await store.live_per_sector(150.0) == {"Soziale Träger": 1}
    await store.set_availability("@a:x.de", "Mo-Fr 7-18", 1.0)
    assert await store.availabilities(["@a:x.de", "@b:x.de"]) == {"@a:x.de": "Mo-Fr 7-18"}
    assert not await store.delete("K-2345", "@b:x.de")
    await store.forget("@a:x.de")
    assert await store.of_user("@a:x.de") == []
    assert await store.availability("@a:x.de") is None


async def test_forgetting_a_bridge_empties_the_routed_note_only(db: Database) -> None:
    """The reply to `!werkennt` names the organisations asked first (erasure test)."""
    from bot.store.outbox import Outbox

    outbox, store = Outbox(db), CrisisStore(db)
    body = {"content": {"body": "Zuerst frage ich … bei Spedition Quappenhof (Logistik)"}}
    for key in ("crisis:A-AAAA:routed", "crisis:A-AAAA:status", "crisis:A-BBBB:routed"):
        await outbox.enqueue(key, "message", "room", "!crisis:x.de", body)
    await outbox.mark_sent(1, "$routed", "!crisis:x.de")
    await store.forget_routed_note("A-AAAA")
    rows = await db.fetchall("SELECT key, status, event_id, payload FROM outbox ORDER BY id")
    assert tuple(rows[0]) == ("crisis:A-AAAA:routed", "sent", "$routed", "{}")
    assert [r[0] for r in rows[1:]] == ["crisis:A-AAAA:status", "crisis:A-BBBB:routed"]
    assert all("Quappenhof" in r[3] for r in rows[1:])
    # Undelivered, it is dropped rather than sent empty.
    await store.forget_routed_note("A-BBBB")
    assert [r[0] for r in await db.fetchall("SELECT key FROM outbox ORDER BY id")] == [
        "crisis:A-AAAA:routed",
        "crisis:A-AAAA:status",
    ]
