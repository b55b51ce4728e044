"""`!meinedaten` and `!vergessen`: export everything about a person, or delete it.

Both go through `Services.personal_data`, the list of every part of the store that holds
personal data; each owner exports its section and forgets its rows. Forgetting runs all
owners in one transaction and then checkpoints the WAL, so the deleted rows do not linger
in the write-ahead log either (`PRAGMA secure_delete=ON` zeroes them in the main file).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from apscheduler.triggers.date import DateTrigger

from bot.jobs import Jobs
from bot.services.personal_data import PersonalDataOwner, is_person
from bot.services.ports import Attachment
from bot.store.db import Database
from bot.store.dialogs import DialogRepository
from bot.store.outbox import Outbox
from bot.store.profiles import ProfileRepository
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

EXPORT_FORMAT = "flurfunk-export/1"
FORGET_KIND = "forget"
# How long a `!vergessen` waits for its "ja".
FORGET_CONFIRM_MINUTES = 15
# A checkpoint that another session blocked (a reader on SQLite, a backup's locks or a long
# transaction on PostgreSQL) is tried again this much later, this many times: a nightly
# backup takes minutes, and each try holds the store for seconds at most.
CHECKPOINT_RETRY = timedelta(minutes=10)
CHECKPOINT_RETRIES = 6


class ProfileData:
    """PersonalDataOwner for the profile row."""

    section = "profile"

    def __init__(self, db: Database) -> None:
        self.repo = ProfileRepository(db)

    async def export(self, user_id: str) -> Any:
        return await self.repo.export(user_id)

    async def user_ids(self) -> set[str]:
        return set(await self.repo.user_ids())

    async def forget(self, user_id: str) -> None:
        await self.repo.delete(user_id)


class DialogData:
    """PersonalDataOwner for running dialogs (half-finished onboarding answers)."""

    section = "dialogs"

    def __init__(self, db: Database) -> None:
        self.repo = DialogRepository(db)

    async def export(self, user_id: str) -> Any:
        return [
            {
                "kind": d.kind,
                "step": d.step,
                "data": d.data,
                "started_at": d.created_at.isoformat(),
                "updated_at": d.updated_at.isoformat(),
            }
            for d in await self.repo.of_user(user_id)
        ]

    async def user_ids(self) -> set[str]:
        return await self.repo.user_ids()

    async def forget(self, user_id: str) -> None:
        await self.repo.delete(user_id)


class PrivacyService:
    def __init__(self, db: Database, owners: list[PersonalDataOwner], jobs: Jobs | None) -> None:
        self.db = db
        self.owners = owners  # the very list in Services.personal_data: later owners count
        self.jobs = jobs
        self.dialogs = DialogRepository(db)
        self.rooms = RoomDirectory(db)
        self.outbox = Outbox(db)
        # Told the Matrix ID of everybody forgotten, at the end of `forget` (possibly still
        # inside the caller's transaction: a listener defers its own I/O until that commits,
        # see `bot.chat.rooms.DirectRooms.forgotten`). The chat layer registers here.
        self.forgotten: list[Callable[[str], None]] = []

    async def people(self) -> set[str]:
        """Everybody any part of the store holds data about (Matrix IDs, no placeholders)."""
        found: set[str] = set()
        for owner in self.owners:
            found |= await owner.user_ids()
        return {user_id for user_id in found if is_person(user_id)}

    # -- export --------------------------------------------------------------------------

    async def export(self, user_id: str, now: datetime) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        async with self.db.transaction("privacy.export"):  # one consistent snapshot
            for owner in self.owners:
                sections[owner.section] = await owner.export(user_id)
        return {
            "format": EXPORT_FORMAT,
            "exported_at": now.isoformat(),
            "user_id": user_id,
            "sections": sections,
        }

    async def export_file(self, user_id: str, now: datetime, filename: str) -> Attachment:
        data = await self.export(user_id, now)
        body = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
        return Attachment(filename=filename, mimetype="application/json", data=body)

    # -- forget --------------------------------------------------------------------------

    async def request_forget(self, user_id: str, now: datetime) -> None:
        """Remember that `!vergessen` waits for a confirmation (expires by itself)."""
        await self.dialogs.put(user_id, FORGET_KIND, "confirm", {}, now)

    async def forget_pending(self, user_id: str, now: datetime) -> bool:
        dialog = await self.dialogs.get(user_id, FORGET_KIND)
        if dialog is None:
            return False
        if now - dialog.updated_at > timedelta(minutes=FORGET_CONFIRM_MINUTES):
            await self.dialogs.delete(user_id, FORGET_KIND)
            return False
        return True

    async def cancel_forget(self, user_id: str) -> bool:
        return await self.dialogs.delete(user_id, FORGET_KIND) > 0

    async def forget(self, user_id: str) -> None:
        """Delete everything about the person, all owners in one transaction."""
        async with self.db.transaction("privacy.forget"):
            room_id = await self.rooms.dm_room(user_id)
            if room_id is not None:
                # Files (exports) queued to the person's DM carry their data base64-encoded
                # and name nobody as subject: drop what is left of them.
                await self.outbox.drop_for_room(room_id)
            for owner in self.owners:
                await owner.forget(user_id)
        for listener in self.forgotten:
            listener(user_id)
        self.checkpoint_soon()

    def checkpoint_soon(
        self, after: timedelta = timedelta(seconds=1), tries_left: int = CHECKPOINT_RETRIES
    ) -> None:
        """Checkpoint once the current transaction is committed (a job runs outside it);
        without a scheduler (tests, tools) the caller checkpoints itself."""
        if self.jobs is None or not self.jobs.scheduler.running:
            return
        when = datetime.now(self.jobs.timezone) + after
        run = partial(self.checkpoint, tries_left)
        self.jobs.add("privacy-checkpoint", run, DateTrigger(run_date=when))

    async def checkpoint(self, tries_left: int = CHECKPOINT_RETRIES) -> bool:
        """Let deleted data leave the disk; whether it did. If something blocked it, it is
        tried again after CHECKPOINT_RETRY, up to `tries_left` more times (then the daily
        retention run's checkpoint is the next)."""
        if await self.db.checkpoint():
            return True
        if tries_left > 0 and self.jobs is not None and self.jobs.scheduler.running:
            log.warning(
                "the store's checkpoint was blocked by another session (a reader, a long "
                "transaction, a backup's locks); deleted data stays on disk until it is "
                "tried again in %d minutes",
                CHECKPOINT_RETRY // timedelta(minutes=1),
            )
            self.checkpoint_soon(CHECKPOINT_RETRY, tries_left - 1)
        else:
            log.warning(
                "the store's checkpoint was blocked by another session; deleted data stays "
                "on disk until the next erasure or the daily retention run"
            )
        return False
