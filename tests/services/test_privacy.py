"""Export, forgetting (down to the bytes of the database file) and retention."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.jobs import Jobs
from bot.services import privacy as privacy_module
from bot.services.hub import build_services
from bot.services.personal_data import ChatTraces, PersonalDataOwner
from bot.services.privacy import DialogData, PrivacyService, ProfileData
from bot.services.profiles import ProfileService
from bot.services.retention import RetentionService
from bot.store.db import Database
from bot.store.dialogs import DialogRepository
from bot.store.outbox import Outbox
from bot.store.profiles import ProfileRepository
from bot.store.rooms import RoomDirectory
from tests.support.config import directory_config
from tests.support.fakes import RecordingMessenger
from tests.support.fixtures import StoredBytes

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = "@alice-privacy:rathaus.example"
BOB = "@bob-stays:rathaus.example"
ADMIN_ROOM = "!admins:rathaus.example"
SECRET_TASKS = "Ich betreue die Notunterkunft Hafenstraße und das Kältebus-Projekt"
SECRET_NOTE = "mittwochs ab 14 Uhr im Homeoffice"
NAME = "Alice Quellwasser"


def owners(db: Database) -> list[PersonalDataOwner]:
    return [ProfileData(db), DialogData(db), ChatTraces(db)]


async def fill(
    db: Database, user_id: str, name: str, tasks: str = SECRET_TASKS, note: str = SECRET_NOTE
) -> None:
    """A person who used everything this feature and the chat layer store."""
    profiles = ProfileService(db, directory_config().directory)
    repo = ProfileRepository(db)
    await profiles.ensure(user_id, NOW)
    await repo.update(
        user_id,
        NOW,
        display_name=name,
        department="Sozialamt",
        tasks=tasks + " " + name,
        topics=("Wohnungslosenhilfe", name),
        availability=note,
        coffee=True,
    )
    await DialogRepository(db).put(
        user_id, "onboarding", "topics", {"answers": {"tasks": tasks}}, NOW
    )
    await db.execute(
        "INSERT INTO language_choice (user_id, language) VALUES (?, 'en')",
        (user_id,),
        name="test.choose_language",
    )
    room = f"!dm-{abs(hash(user_id))}:rathaus.example"
    await RoomDirectory(db).set_dm_room(user_id, room)
    outbox = Outbox(db)
    await outbox.enqueue(
        f"reply:{user_id}", "message", "room", room, {"content": {"body": tasks}},
        subject_user=user_id,
    )  # fmt: skip
    await outbox.enqueue(f"file:{user_id}", "file", "room", room, {"data": file_data(user_id)})


def file_data(user_id: str) -> str:
    """Stands for an export queued as a file: the person's data, base64-encoded."""
    return base64.b64encode(user_id.encode()).decode()


async def test_export_has_every_section(db: Database) -> None:
    await fill(db, ALICE, NAME)
    privacy = PrivacyService(db, owners(db), None)
    attachment = await privacy.export_file(ALICE, NOW, "meine-daten.json")
    assert attachment.mimetype == "application/json"
    data = json.loads(attachment.data)
    assert data["user_id"] == ALICE and data["format"] == "flurfunk-export/1"
    assert list(data["sections"]) == ["profile", "dialogs", "chat"]
    profile = data["sections"]["profile"]
    assert profile["tasks"].startswith(SECRET_TASKS) and profile["availability"] == SECRET_NOTE
    assert data["sections"]["dialogs"][0]["data"]["answers"]["tasks"] == SECRET_TASKS
    assert data["sections"]["chat"]["language"] == "en"
    # Nothing about anybody else.
    empty = json.loads((await privacy.export_file(BOB, NOW, "x.json")).data)
    assert empty["sections"]["profile"] is None and empty["sections"]["dialogs"] == []


async def test_forget_leaves_no_trace_in_the_file(db: Database, stored_bytes: StoredBytes) -> None:
    """On SQLite the database file and its WAL; on PostgreSQL the database's table, index
    and catalogue files after the VACUUM of `checkpoint()` (not the cluster's WAL, see
    docs/operations.md)."""
    await fill(db, ALICE, NAME)
    await fill(db, BOB, "Bob Bleibtda", "Bauanträge für Windräder", "immer")
    privacy = PrivacyService(db, owners(db), None)
    await db.checkpoint()  # SQLite: the person is in the database file, not just the WAL
    before = await stored_bytes()
    assert ALICE.encode() in before and SECRET_NOTE.encode() in before
    await privacy.forget(ALICE)
    await privacy.checkpoint()
    after = await stored_bytes()
    for trace in (ALICE, NAME, SECRET_TASKS, SECRET_NOTE, file_data(ALICE)):
        assert trace.encode() not in after, trace
    assert b"alice-privacy" not in after
    # The other person is untouched.
    assert BOB.encode() in after and b"Bob Bleibtda" in after
    assert await ProfileRepository(db).get(BOB) is not None
    assert await ProfileRepository(db).get(ALICE) is None


async def test_a_blocked_checkpoint_is_tried_again_until_the_person_has_left_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another session that reads while `!vergessen` runs keeps SQLite's WAL from being
    emptied (PostgreSQL's case, a backup's locks: tests/store/test_postgres_backend.py):
    the erasure's checkpoint comes again until the person's bytes are gone, rather than
    leaving them on disk until the next day's retention run."""
    monkeypatch.setattr(privacy_module, "CHECKPOINT_RETRY", timedelta(milliseconds=300))
    path = tmp_path / "flurfunk.db"
    wal = path.with_name(path.name + "-wal")
    db = Database(path, busy_timeout_ms=200)  # the checkpoint waits this long for a reader
    await db.open()
    jobs = Jobs("Europe/Berlin")
    jobs.start()
    try:
        await fill(db, ALICE, NAME)
        privacy = PrivacyService(db, owners(db), jobs)
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM bot_state").fetchall()
        await privacy.forget(ALICE)
        await asyncio.sleep(2.0)  # the checkpoint after the erasure met the reader
        assert SECRET_NOTE.encode() in path.read_bytes() + wal.read_bytes()
        reader.rollback()
        reader.close()
        await asyncio.sleep(1.0)
        after = path.read_bytes() + wal.read_bytes()
        for trace in (ALICE, NAME, SECRET_TASKS, SECRET_NOTE):
            assert trace.encode() not in after, trace
    finally:
        jobs.stop()
        await db.close()


async def test_forget_confirmation_expires(db: Database) -> None:
    privacy = PrivacyService(db, owners(db), None)
    assert not await privacy.forget_pending(ALICE, NOW)
    await privacy.request_forget(ALICE, NOW)
    assert await privacy.forget_pending(ALICE, NOW + timedelta(minutes=10))
    assert not await privacy.forget_pending(ALICE, NOW + timedelta(minutes=16))
    await privacy.request_forget(ALICE, NOW)
    assert await privacy.cancel_forget(ALICE)
    assert not await privacy.forget_pending(ALICE, NOW)


async def test_every_registered_owner_forgets(db: Database, stored_bytes: StoredBytes) -> None:
    """With all features wired as in production: nothing of the person survives."""
    services = build_services(directory_config(), db, RecordingMessenger(), Jobs("Europe/Berlin"))
    sections = [owner.section for owner in services.personal_data]
    assert sections[:3] == ["profile", "dialogs", "chat"]
    await fill(db, ALICE, NAME)
    export = await services.privacy.export(ALICE, NOW)
    assert set(export["sections"]) == set(sections)
    json.dumps(export, default=str)  # serialisable
    await services.privacy.forget(ALICE)
    await services.privacy.checkpoint()
    after = await stored_bytes()
    for trace in (ALICE, NAME, SECRET_TASKS, SECRET_NOTE):
        assert trace.encode() not in after, trace


# -- retention ---------------------------------------------------------------------------


class Verdicts:
    def __init__(self, verdicts: dict[str, bool | None]) -> None:
        self.verdicts = verdicts
        self.asked: list[str] = []

    async def is_active(self, user_id: str) -> bool | None:
        self.asked.append(user_id)
        return self.verdicts.get(user_id, True)

    def known_display_name(self, user_id: str) -> str | None:
        return None


def retention_config() -> Config:
    config = directory_config()
    return config.model_copy(
        update={
            "bot": config.bot.model_copy(update={"admin_room": ADMIN_ROOM}),
            "privacy": config.privacy.model_copy(update={"retention_inactive_days": 365}),
        }
    )


async def test_retention_deletes_deactivated_and_inactive(db: Database) -> None:
    config = retention_config()
    repo = ProfileRepository(db)
    old = NOW - timedelta(days=400)
    for user, created in (
        ("@gone:rathaus.example", NOW),
        ("@unknown:rathaus.example", NOW),
        ("@sleepy:rathaus.example", old),
        ("@imported-long-ago:rathaus.example", old),
        ("@active:rathaus.example", old),
        (ALICE, NOW),
    ):
        await repo.create(user, created)
    await repo.touch("@active:rathaus.example", NOW - timedelta(days=3))
    await repo.touch("@sleepy:rathaus.example", NOW - timedelta(days=366))
    dialogs = DialogRepository(db)
    await dialogs.put(
        ALICE, "onboarding", "tasks", {"answers": {"tasks": "x"}}, NOW - timedelta(40)
    )
    accounts = Verdicts({"@gone:rathaus.example": False, "@unknown:rathaus.example": None})
    messenger = RecordingMessenger()
    privacy = PrivacyService(db, owners(db), None)
    retention = RetentionService(db, config, privacy, accounts, messenger)
    result = await retention.run(NOW)
    assert (result.deactivated, result.inactive, result.dialogs, result.undecided) == (1, 2, 1, 1)
    left = set(await repo.user_ids())
    assert left == {"@unknown:rathaus.example", "@active:rathaus.example", ALICE}
    # Inactive people are deleted without asking the homeserver about them.
    assert "@sleepy:rathaus.example" not in accounts.asked
    [report] = messenger.to(ADMIN_ROOM)
    assert report.message is not None and report.message.key == "retention.report"
    assert report.message.params == {"deactivated": 1, "inactive": 2, "days": 365}
    assert "@gone" not in json.dumps(report.message.params)  # counts, never names
    # A second run the same day finds nothing and reports nothing new.
    again = await retention.run(NOW)
    assert again.deleted == 0 and len(messenger.to(ADMIN_ROOM)) == 1


async def test_retention_is_silent_without_deletions(db: Database) -> None:
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW)
    messenger = RecordingMessenger()
    privacy = PrivacyService(db, owners(db), None)
    retention = RetentionService(db, retention_config(), privacy, Verdicts({}), messenger)
    assert (await retention.run(NOW)).deleted == 0
    assert messenger.sent == []


async def test_retention_job_is_scheduled_daily(db: Database) -> None:
    jobs = Jobs("Europe/Berlin")
    services = build_services(retention_config(), db, RecordingMessenger(), jobs)
    services.start_jobs()
    job = jobs.scheduler.get_job("privacy-retention")
    assert job is not None
    assert "hour='3'" in str(job.trigger) and "minute='30'" in str(job.trigger)


async def test_retention_holds_implausibly_many_deactivations(db: Database) -> None:
    repo = ProfileRepository(db)
    users = [f"@person{i}:rathaus.example" for i in range(10)]
    for user in users:
        await repo.create(user, NOW)
    # Six of ten look gone: a misrouted profile endpoint, not a wave of resignations.
    accounts = Verdicts(dict.fromkeys(users[:6], False))
    messenger = RecordingMessenger()
    privacy = PrivacyService(db, owners(db), None)
    retention = RetentionService(db, retention_config(), privacy, accounts, messenger)
    result = await retention.run(NOW)
    assert result.deleted == 0 and result.undecided == 6
    assert await repo.count() == 10
    [warning] = messenger.to(ADMIN_ROOM)
    assert warning.message is not None and warning.message.key == "retention.suspicious"
    assert warning.message.params == {"held": 6, "checked": 10}


async def test_retention_judges_nobody_when_its_own_account_looks_gone(db: Database) -> None:
    config = retention_config()
    repo = ProfileRepository(db)
    await repo.create(ALICE, NOW)
    accounts = Verdicts({ALICE: False, config.homeserver.user_id: None})
    privacy = PrivacyService(db, owners(db), None)
    retention = RetentionService(db, config, privacy, accounts, RecordingMessenger())
    result = await retention.run(NOW)
    assert result.deleted == 0 and result.undecided == 1
    assert accounts.asked == [config.homeserver.user_id]
