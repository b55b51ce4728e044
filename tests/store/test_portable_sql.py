"""Statements rewritten to read the same on SQLite and PostgreSQL (issue #16) give the
answers SQLite gave before, on both backends: case folding, upserts, the larger of two
times, invitee lists, prefixes, new row IDs."""

from __future__ import annotations

from bot.store.activity import ActivityStore
from bot.store.coffee import CoffeeStore
from bot.store.coffee_rows import RoundRow
from bot.store.contacts import ContactStore, StoredContact
from bot.store.db import Database
from bot.store.hospitation_limits import NoticeBudget
from bot.store.hospitations import HospitationStore
from bot.store.kitchen_prompts import PromptStore
from bot.store.outbox import Outbox
from bot.store.portable import ascii_lower, like_prefix
from bot.store.rooms import RoomDirectory
from tests.store.test_hospitations_store import offer

AL = "@al:x.de"


def test_ascii_lower_folds_a_to_z_only_as_sqlite_lower_does() -> None:
    assert ascii_lower("Straßenbauamt ÄRZTE") == "straßenbauamt Ärzte"
    assert like_prefix("a_b%c\\") == "a\\_b\\%c\\\\%"


async def test_the_same_organisation_ignores_the_case_of_a_to_z_only(db: Database) -> None:
    contacts = ContactStore(db)
    kammer = StoredContact("K-2345", AL, "Ärztekammer Süd", "Gesundheit", 1.0, 1.0)
    assert await contacts.add(kammer)
    assert await contacts.find_same(AL, "ärztekammer süd", "Gesundheit") is None
    assert await contacts.find_same(AL, "ÄRZTEKAMMER SÜD", "Gesundheit") is None
    assert await contacts.find_same(AL, "Ärztekammer SÜD", "Gesundheit") is None
    assert await contacts.find_same(AL, "ÄRZTEKAMMER Süd", "Gesundheit") == kammer
    assert await contacts.find_same(AL, "Ärztekammer Süd", "Logistik") is None
    assert await contacts.find_same("@ben:x.de", "Ärztekammer Süd", "Gesundheit") is None


async def test_a_suggestion_repeated_in_other_case_is_the_same_text(db: Database) -> None:
    prompts = PromptStore(db)
    first = await prompts.add_suggestion("Was ist Ihr Lieblingsort?", AL, 1.0)
    second = await prompts.add_suggestion("Öffnungszeiten?", AL, 2.0)
    assert second == first + 1  # new row IDs read back with RETURNING
    assert await prompts.same_text_exists("WAS IST IHR LIEBLINGSORT?")
    assert not await prompts.same_text_exists("öffnungszeiten?")  # SQLite's lower() keeps Ö
    assert await prompts.same_text_exists("ÖFFNUNGSZEITEN?")
    assert await prompts.decide(first, "rejected", "@admin:x.de", 3.0)
    assert not await prompts.same_text_exists("Was ist Ihr Lieblingsort?")


async def test_last_seen_never_moves_backwards(db: Database) -> None:
    activity = ActivityStore(db)
    await activity.touch(AL, 200.0)
    await activity.touch(AL, 100.0)
    assert await activity.of_user(AL) == 200.0
    await activity.touch(AL, 300.5)
    await activity.note_first_seen([AL, "@ben:x.de"], 50.0)
    assert await activity.last_seen([AL, "@ben:x.de"]) == {AL: 300.5, "@ben:x.de": 50.0}


async def test_joins_count_up_and_a_saved_budget_replaces_the_old_one(db: Database) -> None:
    store = HospitationStore(db)
    await store.insert_offer(offer("H-7KQX"))
    for _ in range(3):
        await store.count_join("H-7KQX", AL)
    assert await store.joins("H-7KQX", AL) == 3
    await store.save_notice_budget(NoticeBudget("H-7KQX", 2.5, 10.0, joined=2, left=1))
    await store.save_notice_budget(NoticeBudget("H-7KQX", 1.0, 20.0))
    assert await store.notice_budget("H-7KQX") == NoticeBudget("H-7KQX", 1.0, 20.0)
    assert await store.offers_with_untold_changes() == []


async def test_invitee_lists_match_whole_ids_only(db: Database) -> None:
    rooms = RoomDirectory(db)
    await rooms.set_purpose_room("coffee:r/2", "!two:x", [AL + ".uk", "@ben:x.de"])
    await rooms.start_creation("coffee:r/1", [AL, "@ben:x.de"])
    await rooms.start_creation("coffee:r/1", ["@cem:x.de"])  # a repeat changes nothing
    assert await rooms.purpose_invitees("coffee:r/1") == [AL, "@ben:x.de"]
    assert await rooms.invitee_ids() == {AL, AL + ".uk", "@ben:x.de"}
    mine = await rooms.purpose_rooms_of(AL)
    assert [r["key"] for r in mine] == ["coffee:r/1"]
    await rooms.forget_invitee(AL)
    assert await rooms.purpose_invitees("coffee:r/1") == ["@ben:x.de"]
    assert await rooms.purpose_invitees("coffee:r/2") == [AL + ".uk", "@ben:x.de"]
    assert await rooms.purpose_rooms_of(AL) == []


async def test_a_round_key_is_taken_once(db: Database) -> None:
    coffee = CoffeeStore(db)

    async def insert(key: str) -> RoundRow | None:
        return await coffee.insert_round(
            "coffee", key, trigger="admin", started_at=1.0, people=4, groups=2, unmatched=0
        )

    first = await insert("coffee:2026-W48")
    assert first is not None and first.seq == 1
    assert await insert("coffee:2026-W48") is None
    again = await insert("coffee:2026-W49")
    assert again is not None and again.id > first.id and again.seq == 2
    assert await coffee.round_by_key("coffee:2026-W49") == again


async def test_mentions_are_found_by_the_exact_id(db: Database) -> None:
    outbox = Outbox(db)
    await outbox.enqueue("a", "message", "room", "!r:x", {"body": f"Hallo {AL}"})
    await outbox.enqueue("b", "message", "room", "!r:x", {"body": "Hallo @AL:x.de"})
    await outbox.enqueue("c", "message", "room", "!r:x", {"body": f"Hallo {AL}.uk"})
    pending = await outbox.pending_about(AL)
    assert len(pending) == 1
    await outbox.forget_user(AL)
    assert [await outbox.status(k) for k in "abc"] == [None, "pending", "pending"]
