"""Kaffeeküche use cases on a temporary SQLite with a recording Messenger: the prompt
rotation and schedule, suggestions, spontaneous coffee breaks, follow-ups and privacy."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.services.coffee_break import (
    CoffeeBreakPersonalData,
    CoffeeBreakService,
    Matched,
    OfferRefused,
    Waiting,
)
from bot.services.kitchen import (
    Decided,
    DecideRefused,
    KitchenPersonalData,
    KitchenService,
    Suggested,
    SuggestRefused,
)
from bot.store.db import Database
from tests.support.config import make_config
from tests.support.fakes import RecordingMessenger

BERLIN = ZoneInfo("Europe/Berlin")
ROOM = "!kueche:rathaus.example"
ROOM2 = "!kantine:rathaus.example"
ADMIN = "@admin:rathaus.example"
ADMIN_ROOM = "!admins:rathaus.example"
ANNA = "@anna:rathaus.example"
BEN = "@ben:rathaus.example"
CEM = "@cem:rathaus.example"
DORA = "@dora:rathaus.example"
T0 = 1_800_000_000.0  # some Thursday; only differences matter unless stated


def kitchen_config(**kitchen: Any) -> Config:
    return make_config(
        bot={"admins": [ADMIN], "admin_room": ADMIN_ROOM}, kitchen={"rooms": [ROOM], **kitchen}
    )


def kitchen(db: Database, **config: Any) -> tuple[KitchenService, RecordingMessenger]:
    messenger = RecordingMessenger()
    return KitchenService(kitchen_config(**config), db, messenger), messenger


def breaks(db: Database, **config: Any) -> tuple[CoffeeBreakService, RecordingMessenger]:
    messenger = RecordingMessenger()
    return CoffeeBreakService(kitchen_config(**config), db, messenger), messenger


def posted_texts(messenger: RecordingMessenger, room: str = ROOM) -> list[str]:
    return [
        str(s.message.params["text"])
        for s in messenger.to(room)
        if s.kind == "post" and s.message and s.message.key == "kitchen.prompt.post"
    ]


EXTRA = ["Erste Testfrage?", "Zweite Testfrage?", "Dritte Testfrage?"]
TINY: dict[str, Any] = {
    "use_builtin_prompts": False,
    "prompt_interval_s": 60,
    "extra_prompts_de": EXTRA,
}


# -- prompts -------------------------------------------------------------------------------


async def test_each_slot_posts_once_and_nothing_repeats_within_a_cycle(db: Database) -> None:
    service, messenger = kitchen(db, **TINY)
    for step in range(6):
        now = T0 + step * 60 + 1
        assert await service.post_due_prompts(now) == 1
        assert await service.post_due_prompts(now + 5) == 0  # same slot: nothing more
    texts = posted_texts(messenger)
    assert len(texts) == 6
    assert sorted(texts[:3]) == sorted(EXTRA)
    assert sorted(texts[3:]) == sorted(EXTRA)
    assert texts[2] != texts[3]
    keys = [s.effect_key for s in messenger.to(ROOM)]
    assert keys[0] == f"kitchen:prompt:{ROOM}:{int((T0 + 1) // 60 * 60)}"


async def test_rotation_continues_after_restart(db: Database) -> None:
    first, m1 = kitchen(db, **TINY)
    await first.post_due_prompts(T0 + 1)
    await first.post_due_prompts(T0 + 61)
    second, m2 = kitchen(db, **TINY)  # a new process on the same store
    await second.post_due_prompts(T0 + 61)  # same slot again: nothing
    await second.post_due_prompts(T0 + 121)
    texts = posted_texts(m1) + posted_texts(m2)
    assert len(texts) == 3 and len(set(texts)) == 3


async def test_rooms_rotate_independently(db: Database) -> None:
    service, messenger = kitchen(db, **TINY, rooms=[ROOM, ROOM2])
    assert await service.post_due_prompts(T0 + 1) == 2
    assert posted_texts(messenger, ROOM) and posted_texts(messenger, ROOM2)


async def test_weekly_schedule_posts_on_time_and_skips_missed_slots(db: Database) -> None:
    service, messenger = kitchen(db)  # default: Di 10:00, Do 10:00, shipped catalogue
    tuesday_ten = datetime(2026, 3, 3, 10, 0, tzinfo=BERLIN).timestamp()
    assert await service.post_due_prompts(tuesday_ten - 60) == 0  # last Thursday, long ago
    assert await service.post_due_prompts(tuesday_ten + 20) == 1
    assert await service.post_due_prompts(tuesday_ten + 3000) == 0
    # The bot was down Thursday morning and comes back at 14:00: no late prompt.
    thursday_two = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN).timestamp()
    assert await service.post_due_prompts(thursday_two) == 0
    next_tuesday = datetime(2026, 3, 10, 10, 0, 30, tzinfo=BERLIN).timestamp()
    assert await service.post_due_prompts(next_tuesday) == 1
    assert len(posted_texts(messenger)) == 2


async def test_undelivered_prompt_is_not_followed_by_another(db: Database) -> None:
    service, messenger = kitchen(db, **TINY)
    await service.post_due_prompts(T0 + 1)
    key = messenger.to(ROOM)[0].effect_key
    # As if the outbox could not deliver it (bot not in the room).
    await db.execute(
        "INSERT INTO outbox (key, action, target_kind, target, payload, created_at) "
        "VALUES (?, 'message', 'room', ?, '{}', 0)",
        (key, ROOM),
        name="test.seed_outbox",
    )
    assert await service.post_due_prompts(T0 + 61) == 0
    await db.execute(
        "UPDATE outbox SET status = 'sent' WHERE key = ?", (key,), name="test.mark_sent"
    )
    assert await service.post_due_prompts(T0 + 121) == 1


async def test_english_deployment_posts_english_variants(db: Database) -> None:
    config = kitchen_config(
        use_builtin_prompts=False,
        prompt_interval_s=60,
        extra_prompts_de=["Deutsche Frage hier?"],
        extra_prompts_en=["English prompt here?"],
    )
    raw = config.model_dump()
    raw["bot"]["default_language"] = "en"
    messenger = RecordingMessenger()
    service = KitchenService(Config.model_validate(raw), db, messenger)
    await service.post_due_prompts(T0)
    assert posted_texts(messenger) == ["English prompt here?"]


# -- suggestions ---------------------------------------------------------------------------


async def test_suggestion_is_validated(db: Database) -> None:
    service, messenger = kitchen(db)
    assert await service.suggest(ANNA, "  Kurz?  ", T0) == SuggestRefused("too_short")
    assert await service.suggest(ANNA, "x" * 281, T0) == SuggestRefused("too_long")
    catalogue = "Welches Werkzeug hat Ihnen diese Woche Zeit gespart?"
    assert await service.suggest(ANNA, catalogue.upper(), T0) == SuggestRefused("duplicate")
    ok = await service.suggest(ANNA, "Was  war Ihr\nschönster Fehler?", T0)
    assert isinstance(ok, Suggested)
    stored = await service.store.suggestion(ok.id)
    assert stored is not None and stored.text == "Was war Ihr schönster Fehler?"
    again = await service.suggest(BEN, "was war ihr schönster fehler?", T0)
    assert again == SuggestRefused("duplicate")
    for i in range(4):
        assert isinstance(
            await service.suggest(ANNA, f"Noch eine Frage Nummer {i}?", T0), Suggested
        )
    assert await service.suggest(ANNA, "Und noch eine weitere?", T0) == SuggestRefused("too_many")
    # The admin room hears of every new suggestion.
    admin_posts = messenger.to(ADMIN_ROOM)
    assert len(admin_posts) == 5
    assert admin_posts[0].message is not None
    assert admin_posts[0].message.params["text"] == "Was war Ihr schönster Fehler?"


async def test_html_in_a_suggestion_is_stored_as_typed(db: Database) -> None:
    service, _ = kitchen(db)
    text = "<b>Fett</b> oder <script>alert(1)</script> – was mögen Sie?"
    ok = await service.suggest(ANNA, text, T0)
    assert isinstance(ok, Suggested)
    stored = await service.store.suggestion(ok.id)
    assert stored is not None and stored.text == text  # escaping happens when rendering


async def test_admin_accepts_suggestion_and_it_comes_next(db: Database) -> None:
    service, messenger = kitchen(db, **TINY)
    await service.post_due_prompts(T0 + 1)
    ok = await service.suggest(ANNA, "Was hat Sie heute zum Lachen gebracht?", T0)
    assert isinstance(ok, Suggested)
    assert await service.pending(ANNA) is None  # not an admin
    assert await service.decide(ANNA, ok.id, True, T0) == DecideRefused("not_admin")
    pending = await service.pending(ADMIN)
    assert pending is not None and [s.id for s in pending] == [ok.id]
    assert await service.decide(ADMIN, 999, True, T0) == DecideRefused("not_found")
    decided = await service.decide(ADMIN, ok.id, True, T0 + 10)
    assert isinstance(decided, Decided) and decided.accepted
    assert await service.decide(ADMIN, ok.id, False, T0 + 11) == DecideRefused(
        "already_decided", "accepted"
    )
    told = messenger.to(ANNA)
    assert [s.message.key for s in told if s.message] == ["kitchen.suggestion.accepted"]
    await service.post_due_prompts(T0 + 61)
    assert posted_texts(messenger)[-1] == "Was hat Sie heute zum Lachen gebracht?"
    # It is part of the rotation from now on: 4 prompts per cycle.
    for step in range(2, 6):
        await service.post_due_prompts(T0 + step * 60 + 1)
    texts = posted_texts(messenger)
    assert len(set(texts[:4])) == 4


async def test_rejected_suggestion_tells_the_person_and_stays_out(db: Database) -> None:
    service, messenger = kitchen(db, **TINY)
    ok = await service.suggest(ANNA, "Was halten Sie vom neuen Parkhaus?", T0)
    assert isinstance(ok, Suggested)
    decided = await service.decide(ADMIN, ok.id, False, T0)
    assert isinstance(decided, Decided) and not decided.accepted
    assert [s.message.key for s in messenger.to(ANNA) if s.message] == [
        "kitchen.suggestion.rejected"
    ]
    assert all(p.kind != "suggestion" for p in await service.pool())


async def test_forget_keeps_accepted_suggestions_only_as_anonymous_text(db: Database) -> None:
    service, _ = kitchen(db)
    accepted = await service.suggest(ANNA, "Welche Pause tut Ihnen am besten?", T0)
    pending = await service.suggest(ANNA, "Eine noch offene Frage von Anna?", T0)
    assert isinstance(accepted, Suggested) and isinstance(pending, Suggested)
    await service.decide(ADMIN, accepted.id, True, T0)
    owner = KitchenPersonalData(db)
    exported = await owner.export(ANNA)
    assert isinstance(exported, list) and len(exported) == 2
    await owner.forget(ANNA)
    assert await owner.export(ANNA) == []
    rows = await db.fetchall("SELECT text, suggested_by, status FROM kitchen_suggestions")
    assert [tuple(r) for r in rows] == [("Welche Pause tut Ihnen am besten?", None, "accepted")]
    await owner.forget(ADMIN)
    row = await db.fetchone("SELECT decided_by FROM kitchen_suggestions")
    assert row is not None and row[0] is None


# -- spontaneous coffee breaks -------------------------------------------------------------


async def add_profile(db: Database, user_id: str, department: str | None) -> None:
    await db.execute(
        "INSERT INTO profiles (user_id, department, created_at, updated_at) VALUES (?, ?, 0, 0)",
        (user_id, department),
        name="test.add_profile",
    )


async def test_two_offers_meet_in_one_room(db: Database) -> None:
    service, messenger = breaks(db)
    waiting = await service.offer(ANNA, None, T0)
    assert waiting == Waiting(T0 + 15 * 60, 15, extended=False)
    matched = await service.offer(BEN, 30, T0 + 60)
    assert isinstance(matched, Matched) and matched.partner == ANNA
    assert matched.minutes == 15  # the shorter of the two
    [room] = [s for s in messenger.sent if s.kind == "open_room"]
    assert room.target == f"coffeebreak:{matched.break_id}"
    assert sorted(room.extra["invite"]) == sorted([ANNA, BEN])
    assert room.message is not None and room.message.key == "kitchen.break.intro"
    assert await service.open_offer(ANNA) is None and await service.open_offer(BEN) is None
    # Nobody is told "nobody was free" afterwards.
    assert await service.expire_offers(T0 + 3600) == 0


async def test_lonely_offer_expires_with_one_kind_message(db: Database) -> None:
    service, messenger = breaks(db)
    await service.offer(CEM, 5, T0)
    assert await service.expire_offers(T0 + 299) == 0
    assert await service.expire_offers(T0 + 300) == 1
    assert await service.expire_offers(T0 + 301) == 0
    restarted, again = breaks(db)
    assert await restarted.expire_offers(T0 + 400) == 0
    [told] = messenger.to(CEM)
    assert told.message is not None and told.message.key == "kitchen.break.expired"
    assert told.effect_key.startswith("coffeebreak:offer:") and not again.sent


async def test_minutes_must_be_in_range(db: Database) -> None:
    service, _ = breaks(db)
    assert await service.offer(ANNA, 4, T0) == OfferRefused("minutes_out_of_range")
    assert await service.offer(ANNA, 121, T0) == OfferRefused("minutes_out_of_range")
    assert isinstance(await service.offer(ANNA, 120, T0), Waiting)


async def test_offering_again_extends_and_cancel_withdraws(db: Database) -> None:
    service, messenger = breaks(db)
    await service.offer(ANNA, 10, T0)
    again = await service.offer(ANNA, 20, T0 + 60)
    assert again == Waiting(T0 + 60 + 20 * 60, 20, extended=True)
    assert await service.cancel(ANNA, T0 + 120)
    assert not await service.cancel(ANNA, T0 + 121)
    assert isinstance(await service.offer(BEN, 10, T0 + 130), Waiting)  # Anna is gone
    assert await service.expire_offers(T0 + 7200) == 1
    assert not messenger.to(ANNA)


async def test_offer_survives_a_restart(db: Database) -> None:
    first, _ = breaks(db)
    await first.offer(ANNA, 15, T0)
    second, _ = breaks(db)
    matched = await second.offer(BEN, 15, T0 + 600)
    assert isinstance(matched, Matched) and matched.partner == ANNA


async def test_recent_partners_are_not_paired_again(db: Database) -> None:
    service, _ = breaks(db)
    await service.offer(ANNA, 15, T0)
    assert isinstance(await service.offer(BEN, 15, T0 + 1), Matched)
    week = 7 * 86400
    await service.offer(ANNA, 15, T0 + week)
    assert isinstance(await service.offer(BEN, 15, T0 + week + 1), Waiting)
    later = T0 + 29 * 86400
    await service.expire_offers(later)
    await service.offer(ANNA, 15, later)
    assert isinstance(await service.offer(BEN, 15, later + 1), Matched)


async def test_another_department_is_preferred(db: Database) -> None:
    service, _ = breaks(db)
    await add_profile(db, ANNA, "Bauamt")
    await add_profile(db, BEN, "Bauamt")
    await add_profile(db, CEM, "Sozialamt")
    # Ben and Cem had a break recently, so both can wait at the same time.
    await db.execute(
        "INSERT INTO coffee_breaks (user_a, user_b, minutes, created_at, followup_at, "
        "followup_sent) VALUES (?, ?, 15, ?, ?, 1)",
        (BEN, CEM, T0 - 3600, T0 - 1800),
        name="test.seed_coffee_break",
    )
    await service.offer(BEN, 15, T0)  # waiting longest, same department as Anna
    assert isinstance(await service.offer(CEM, 15, T0 + 10), Waiting)
    matched = await service.offer(ANNA, 15, T0 + 20)
    assert isinstance(matched, Matched) and matched.partner == CEM
    # Without a profile people still take part; a known same department comes last.
    matched = await service.offer(DORA, 15, T0 + 30)
    assert isinstance(matched, Matched) and matched.partner == BEN


async def test_followup_asks_and_two_thumbs_make_a_tie(db: Database) -> None:
    service, messenger = breaks(db, break_followup_delay_s=60)
    await add_profile(db, ANNA, "Bauamt")
    await service.offer(ANNA, 10, T0)
    matched = await service.offer(BEN, 10, T0 + 5)
    assert isinstance(matched, Matched)
    assert await service.send_followups(T0 + 5 + 600 + 59) == 0
    assert await service.send_followups(T0 + 5 + 660) == 1
    assert await service.send_followups(T0 + 5 + 700) == 0
    [followup] = [s for s in messenger.sent if s.effect_key.endswith(":followup")]
    assert followup.kind == "post_in_room" and followup.extra["reactions"] == ("👍", "👎")
    key = followup.effect_key
    assert await service.answer("something:else", ANNA, "yes", False) is False
    assert await service.answer(key, CEM, "yes", False)  # not theirs: ignored
    assert await service.answer(key, ANNA, "yes", False)
    assert not await db.fetchall("SELECT * FROM coffee_break_ties")
    assert await service.answer(key, BEN, "yes", False)
    [tie] = await db.fetchall(
        "SELECT user_a, user_b, department_a, department_b FROM coffee_break_ties"
    )
    assert tuple(tie) == (ANNA, BEN, "Bauamt", None)
    thanks = [s for s in messenger.sent if s.effect_key.endswith(":thanks")]
    assert len(thanks) == 1
    # Taking the 👍 back takes the tie back; a 👎 keeps it away.
    assert await service.answer(key, BEN, "yes", True)
    assert not await db.fetchall("SELECT * FROM coffee_break_ties")
    assert await service.answer(key, BEN, "no", False)
    assert await service.answer(key, BEN, "yes", True)  # withdrawing what was not given
    assert not await db.fetchall("SELECT * FROM coffee_break_ties")
    assert await service.answer(key, BEN, "yes", False)
    assert len(await db.fetchall("SELECT * FROM coffee_break_ties")) == 1
    assert len([s for s in messenger.sent if s.effect_key.endswith(":thanks")]) == 1


async def test_forget_removes_the_person_from_offers_breaks_and_ties(db: Database) -> None:
    service, _ = breaks(db, break_followup_delay_s=0)
    await add_profile(db, ANNA, "Amt für Sonderaufgaben Anna")  # typed in by herself
    await add_profile(db, BEN, "Bauamt")
    await service.offer(ANNA, 10, T0)
    matched = await service.offer(BEN, 10, T0 + 5)
    assert isinstance(matched, Matched)
    await service.send_followups(T0 + 10_000)
    key = f"coffeebreak:{matched.break_id}:followup"
    await service.answer(key, ANNA, "yes", False)
    await service.answer(key, BEN, "yes", False)
    await service.offer(ANNA, 10, T0 + 20_000)
    config = kitchen_config()
    raw = config.model_dump()
    raw["directory"]["departments"] = ["Bauamt"]
    owner = CoffeeBreakPersonalData(db, Config.model_validate(raw))
    exported: Any = await owner.export(ANNA)
    assert exported["breaks"][0]["with"] == BEN and exported["breaks"][0]["counted_as_tie"]
    assert len(exported["offers"]) == 2
    await owner.forget(ANNA)
    assert await owner.export(ANNA) == {"offers": [], "breaks": []}
    for table in ("coffee_break_offers", "coffee_breaks", "coffee_break_ties"):
        for row in await db.fetchall(f"SELECT * FROM {table}"):
            values = " ".join(str(v) for v in row)
            assert ANNA not in values and "Sonderaufgaben" not in values, table
    # Ben's history stays: one break, one tie with "a former person".
    ben: Any = await owner.export(BEN)
    assert ben["breaks"][0]["with"] is None and ben["breaks"][0]["counted_as_tie"]
    [tie] = await db.fetchall(
        "SELECT user_a, department_a, user_b, department_b FROM coffee_break_ties"
    )
    assert str(tie[0]).startswith("~forgotten:") and tie[1] is None
    assert tuple(tie[2:]) == (BEN, "Bauamt")
    # A follow-up of a break with a forgotten person is not sent.
    await service.offer(CEM, 10, T0 + 30_000)
    await service.offer(DORA, 10, T0 + 30_001)
    await owner.forget(CEM)
    assert await service.send_followups(T0 + 40_000) == 0


async def test_old_breaks_and_offers_are_pruned(db: Database) -> None:
    service, _ = breaks(db, keep_history_days=30, break_followup_delay_s=0)
    await service.offer(ANNA, 10, T0)
    matched = await service.offer(BEN, 10, T0 + 5)
    assert isinstance(matched, Matched)
    await service.send_followups(T0 + 10_000)
    key = f"coffeebreak:{matched.break_id}:followup"
    await service.answer(key, ANNA, "yes", False)
    await service.answer(key, BEN, "yes", False)
    assert await service.prune(T0 + 29 * 86400) == 0
    assert await service.prune(T0 + 31 * 86400) == 1
    for table in ("coffee_break_offers", "coffee_breaks", "coffee_break_ties"):
        assert not await db.fetchall(f"SELECT * FROM {table}"), table


async def test_tick_uses_the_clock(db: Database) -> None:
    service, messenger = breaks(db)
    await service.offer(ANNA, 5, time.time() - 600)
    await service.tick()
    assert [s.message.key for s in messenger.to(ANNA) if s.message] == ["kitchen.break.expired"]
