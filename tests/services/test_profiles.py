"""Profile and onboarding use cases on a temporary SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.domain.profile import ProfileField
from bot.domain.profile_fields import FieldError, FieldErrorCode
from bot.services.onboarding import OnboardingReply, OnboardingService
from bot.services.ports import Say
from bot.services.profiles import ProfileService
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.config import directory_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = "@alice:rathaus.example"
BOB = "@bob:rathaus.example"


class Names:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def is_active(self, user_id: str) -> bool | None:
        return True

    def known_display_name(self, user_id: str) -> str | None:
        return self.names.get(user_id)


def keys(reply: OnboardingReply | None) -> list[str]:
    assert reply is not None
    return [m.key for m in reply.messages]


def question(reply: OnboardingReply | None) -> str:
    """The step the last message asks about."""
    asked = [k for k in keys(reply) if k.startswith("onboarding.q.")]
    assert asked, keys(reply)
    return asked[-1].removeprefix("onboarding.q.")


# -- direct field changes ----------------------------------------------------------------


async def test_set_fields_and_clear(db: Database) -> None:
    service = ProfileService(db, directory_config().directory, Names({ALICE: "Alice A."}))
    change = await service.set_field(ALICE, ProfileField.DEPARTMENT, "jugendamt", NOW)
    assert not isinstance(change, FieldError)
    assert change.value == "Jugendamt" and change.previous is None
    profile = change.profile
    assert profile.confirmed and profile.display_name == "Alice A."  # known from the DM
    topics = await service.set_field(ALICE, ProfileField.TOPICS, "Kita, #Kinderschutz", NOW)
    assert not isinstance(topics, FieldError) and topics.value == ("Kita", "Kinderschutz")
    cleared = await service.set_field(ALICE, ProfileField.TOPICS, "-", NOW)
    assert not isinstance(cleared, FieldError)
    assert cleared.cleared and cleared.previous == ("Kita", "Kinderschutz")
    assert cleared.profile.topics == ()
    empty = await service.set_field(ALICE, ProfileField.AVAILABILITY, "", NOW)
    assert not isinstance(empty, FieldError) and empty.cleared and empty.previous is None


async def test_invalid_value_changes_nothing(db: Database) -> None:
    service = ProfileService(db, directory_config(free_departments=False).directory)
    error = await service.set_field(ALICE, ProfileField.DEPARTMENT, "Amt für Träume", NOW)
    assert isinstance(error, FieldError) and error.code is FieldErrorCode.NOT_IN_LIST
    assert await service.get(ALICE) is None  # not even an empty profile
    typo = await service.set_field(ALICE, ProfileField.DEPARTMENT, "Ordnugsamt", NOW)
    assert isinstance(typo, FieldError) and typo.suggestions == ("Ordnungsamt",)


async def test_acting_in_chat_confirms_an_imported_profile(db: Database) -> None:
    service = ProfileService(db, directory_config().directory)
    repo = ProfileRepository(db)
    await repo.create(BOB, NOW, source="import")
    imported = await repo.get(BOB)
    assert imported is not None and not imported.confirmed
    await service.set_field(BOB, ProfileField.LANGUAGES, "Deutsch, Polnisch", NOW)
    bob = await repo.get(BOB)
    assert bob is not None and bob.confirmed and bob.languages == ("de", "pl")
    assert bob.source == "import"


async def test_coffee_on_off_pause(db: Database) -> None:
    service = ProfileService(db, directory_config().directory)
    assert await service.set_coffee(ALICE, False, NOW) is None  # no profile made for "off"
    assert await service.get(ALICE) is None
    on = await service.set_coffee(ALICE, True, NOW)
    assert on is not None and on.coffee_eligible(NOW)
    paused = await service.pause_coffee(ALICE, 2, NOW)
    assert paused.coffee_state(NOW) == "paused"
    assert paused.coffee_paused_until == NOW + timedelta(weeks=2)
    assert await service.eligible_for_coffee(NOW) == []
    back = await service.eligible_for_coffee(NOW + timedelta(weeks=2, minutes=1))
    assert [p.user_id for p in back] == [ALICE]
    again = await service.set_coffee(ALICE, True, NOW)
    assert again is not None and again.coffee_paused_until is None
    off = await service.set_coffee(ALICE, False, NOW)
    assert off is not None and off.coffee_state(NOW) == "off"


# -- onboarding --------------------------------------------------------------------------


def onboarding(db: Database, config: Config | None = None) -> OnboardingService:
    config = config or directory_config()
    return OnboardingService(db, config, ProfileService(db, config.directory))


async def test_complete_onboarding(db: Database) -> None:
    service = onboarding(db)
    start = await service.start(ALICE, NOW)
    assert keys(start)[:2] == ["onboarding.notice", "onboarding.intro"]
    notice = start.messages[0]
    assert "freiwillig" in getattr(notice.params["notice"], "de", "")
    assert question(start) == "department"
    answers = [
        ("Gesundheitsamt", "municipality"),
        ("musterstadt", "tasks"),
        ("Ich koordiniere die Impfaktionen und den Infektionsschutz.", "topics"),
        ("Impfen, Infektionsschutz", "languages"),
        ("Deutsch, Englisch", "availability"),
        ("Di und Do vormittags", "coffee"),
    ]
    for text, next_step in answers:
        assert question(await service.answer(ALICE, text, NOW)) == next_step
    done = await service.answer(ALICE, "ja", NOW)
    assert done is not None and keys(done) == ["onboarding.done"]
    profile = done.finished
    assert profile is not None
    assert (profile.department, profile.municipality) == ("Gesundheitsamt", "Musterstadt")
    assert profile.topics == ("Impfen", "Infektionsschutz")
    assert profile.languages == ("de", "en")
    assert profile.availability == "Di und Do vormittags"
    assert profile.coffee_eligible(NOW) and profile.onboarded_at == NOW
    assert not await service.active(ALICE)
    assert await service.answer(ALICE, "noch etwas", NOW) is None  # dialog is over


async def test_restart_continues_where_the_person_was(db: Database) -> None:
    first = onboarding(db)
    await first.start(ALICE, NOW)
    await first.answer(ALICE, "Jugendamt", NOW)
    await first.answer(ALICE, "Beispieldorf", NOW)
    await db.close()
    # A new process: new database connection, new services.
    reopened = Database(db.path)  # the same file, or on PostgreSQL the same database
    await reopened.open()
    try:
        second = onboarding(reopened)
        resumed = await second.start(ALICE, NOW)
        assert keys(resumed)[0] == "onboarding.resume" and question(resumed) == "tasks"
        assert question(await second.answer(ALICE, "Kita-Platzvergabe", NOW)) == "topics"
        for text in ("überspringen", "skip", "skip"):
            await second.answer(ALICE, text, NOW)
        done = await second.answer(ALICE, "nein", NOW)
        assert done is not None and done.finished is not None
        assert done.finished.department == "Jugendamt"
        assert done.finished.municipality == "Beispieldorf"
        assert done.finished.tasks == "Kita-Platzvergabe"
        assert done.finished.topics == () and not done.finished.coffee
    finally:
        await reopened.close()


async def test_back_skip_cancel_at_every_step(db: Database) -> None:
    service = onboarding(db)
    await service.start(ALICE, NOW)
    first = await service.answer(ALICE, "zurück", NOW)
    assert keys(first)[0] == "onboarding.first_step" and question(first) == "department"
    steps = ["department", "municipality", "tasks", "topics", "languages", "availability"]
    for index, step in enumerate(steps):
        assert question(await service.answer(ALICE, "überspringen", NOW)) == (
            steps[index + 1] if index + 1 < len(steps) else "coffee"
        )
        assert question(await service.answer(ALICE, "back", NOW)) == step
        await service.answer(ALICE, "skip", NOW)
    assert question(await service.answer(ALICE, "zurück", NOW)) == "availability"
    await service.answer(ALICE, "skip", NOW)
    cancelled = await service.answer(ALICE, "Abbrechen", NOW)
    assert keys(cancelled) == ["onboarding.cancelled"]
    assert await service.profiles.get(ALICE) is None  # nothing was stored


async def test_every_invalid_answer_explains_and_keeps_the_dialog(db: Database) -> None:
    config = directory_config(free_departments=False, free_municipalities=False, topics_max=3)
    service = onboarding(db, config)
    await service.start(ALICE, NOW)
    bad = {
        "department": "Amt für Träume",
        "municipality": "Atlantis",
        "tasks": "x" * 1001,
        "topics": "a, b, c, d, e",
        "languages": "Klingonisch",
        "availability": "y" * 201,
        "coffee": "vielleicht",
    }
    good = {
        "department": "Sozialamt",
        "municipality": "Musterstadt",
        "tasks": "Grundsicherung",
        "topics": "Grundsicherung, Wohngeld",
        "languages": "Deutsch",
        "availability": "vormittags",
        "coffee": "ja",
    }
    for step, wrong in bad.items():
        reply = await service.answer(ALICE, wrong, NOW)
        assert reply is not None and reply.finished is None
        error = reply.messages[0]
        assert error.key.startswith(("profile.error.", "onboarding.error.")), error.key
        assert question(reply) == step  # asked again, with the example
        assert await service.active(ALICE)
        reply = await service.answer(ALICE, good[step], NOW)
    assert reply is not None and reply.finished is not None
    assert reply.finished.topics == ("Grundsicherung", "Wohngeld")


async def test_did_you_mean_yes_or_insist(db: Database) -> None:
    service = onboarding(db)  # free text allowed
    await service.start(ALICE, NOW)
    typo = await service.answer(ALICE, "Gesundhetsamt", NOW)
    assert keys(typo) == ["onboarding.did_you_mean_or_keep"]
    suggestion = typo.messages[0].params["suggestions"]  # type: ignore[union-attr]
    assert getattr(suggestion, "items", None) == ("Gesundheitsamt",)
    assert question(await service.answer(ALICE, "ja", NOW)) == "municipality"
    # Insisting on one's own spelling (free text allowed) keeps it.
    again = await service.answer(ALICE, "Musterstad", NOW)
    assert keys(again)[0].startswith("onboarding.did_you_mean")
    assert question(await service.answer(ALICE, "Musterstad", NOW)) == "tasks"
    dialog = await service.dialogs.get(ALICE, "onboarding")
    assert dialog is not None
    assert dialog.data["answers"] == {"department": "Gesundheitsamt", "municipality": "Musterstad"}


async def test_closed_list_cannot_be_insisted_on(db: Database) -> None:
    service = onboarding(db, directory_config(free_departments=False))
    await service.start(ALICE, NOW)
    assert keys(await service.answer(ALICE, "Ordnugsamt", NOW)) == ["onboarding.did_you_mean"]
    again = await service.answer(ALICE, "Ordnugsamt", NOW)
    assert keys(again) == ["onboarding.did_you_mean"]  # still asking
    assert question(await service.answer(ALICE, "ja", NOW)) == "municipality"


async def test_rerun_shows_current_values_and_skip_keeps_them(db: Database) -> None:
    service = onboarding(db)
    repo = ProfileRepository(db)
    await repo.create(BOB, NOW, source="import")
    await repo.update(BOB, NOW, department="Ordnungsamt", tasks="Gewerbeanmeldungen")
    start = await service.start(BOB, NOW)
    assert "onboarding.intro_again" in keys(start)
    current = start.messages[-1].params["current"]
    assert isinstance(current, Say) and current.params["value"] == "Ordnungsamt"
    await service.answer(BOB, "skip", NOW)  # department kept
    await service.answer(BOB, "-", NOW)  # municipality cleared (was empty anyway)
    await service.answer(BOB, "-", NOW)  # tasks cleared
    for _ in range(3):
        await service.answer(BOB, "skip", NOW)
    done = await service.answer(BOB, "nein", NOW)
    assert done is not None and done.finished is not None
    bob = done.finished
    assert bob.department == "Ordnungsamt" and bob.tasks is None
    assert bob.confirmed and not bob.coffee  # confirmed by taking part in the dialog


async def test_start_while_running_resumes(db: Database) -> None:
    service = onboarding(db)
    await service.start(ALICE, NOW)
    await service.answer(ALICE, "Jugendamt", NOW)
    again = await service.start(ALICE, NOW)
    assert keys(again)[0] == "onboarding.resume" and question(again) == "municipality"
