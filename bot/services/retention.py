"""Retention: a daily job deletes the data of people whose account was deactivated on the
homeserver or who have not used the bot for `privacy.retention_inactive_days`, and tells
the operators in the admin room how many (never who).

Everybody counts, not only people with a profile: the people judged are the union of
`user_ids()` over every PersonalDataOwner, and their last activity is recorded for everyone
(table `activity`; review finding S-06). Somebody the store knows but never saw act (no
activity, no profile) starts the clock on the day retention first notices them.

Deleting means the same as `!vergessen`: every PersonalDataOwner forgets the person.
Half-finished dialogs nobody answered for `privacy.dialog_retention_days` are dropped too,
and so are the purpose rooms whose coffee group, coffee break or crisis request is gone
(those are pruned by their features after their own retention).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.jobs import Jobs
from bot.services.admins import post_to_admins
from bot.services.ports import AccountDirectory, Messenger, Say
from bot.services.privacy import PrivacyService
from bot.store.activity import ActivityStore
from bot.store.db import Database
from bot.store.dialogs import DialogRepository
from bot.store.profiles import ProfileRepository
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

# Profile lookups in flight at once: gentle on the homeserver, done in minutes at 10^5.
CHECK_CONCURRENCY = 8
# Never hold back fewer than this many deactivations (small installations).
SUSPICIOUS_MIN = 5


@dataclass(frozen=True)
class RetentionResult:
    deactivated: int
    inactive: int
    dialogs: int
    undecided: int  # accounts the homeserver could not tell us about this time

    @property
    def deleted(self) -> int:
        return self.deactivated + self.inactive


class RetentionService:
    def __init__(
        self,
        db: Database,
        config: Config,
        privacy: PrivacyService,
        accounts: AccountDirectory,
        messenger: Messenger,
    ) -> None:
        self.db = db
        self.config = config
        self.privacy = privacy
        self.accounts = accounts
        self.messenger = messenger
        self.profiles = ProfileRepository(db)
        self.activity = ActivityStore(db)
        self.dialogs = DialogRepository(db)
        self.rooms = RoomDirectory(db)

    def schedule(self, jobs: Jobs) -> None:
        at = self.config.privacy.retention_check_time
        trigger = CronTrigger(
            hour=at.hour, minute=at.minute, second=at.second, timezone=jobs.timezone
        )

        async def job() -> None:
            await self.run()

        jobs.add("privacy-retention", job, trigger)

    async def run(self, now: datetime | None = None) -> RetentionResult:
        now = now or datetime.now(UTC)
        privacy = self.config.privacy
        dialogs = await self.dialogs.delete_older_than(
            now - timedelta(days=privacy.dialog_retention_days)
        )
        people = await self.privacy.people()
        people.discard(self.config.homeserver.user_id)
        last = await self._last_seen(people, now)
        cutoff = (now - timedelta(days=privacy.retention_inactive_days)).timestamp()
        inactive = sorted(u for u in people if last[u] < cutoff)
        for user_id in inactive:
            await self.privacy.forget(user_id)
        remaining = sorted(people - set(inactive))
        verdicts = await self._check(remaining)
        gone = [u for u, active in verdicts.items() if active is False]
        held = 0
        if len(gone) > max(SUSPICIOUS_MIN, privacy.deactivated_max_share * len(remaining)):
            log.warning(
                "retention: %d of %d accounts look deactivated; holding", len(gone), len(remaining)
            )
            held, gone = len(gone), []
            await self._warn(held, len(remaining), now)
        for user_id in gone:
            await self.privacy.forget(user_id)
        undecided = held + sum(1 for active in verdicts.values() if active is None)
        result = RetentionResult(len(gone), len(inactive), dialogs, undecided)
        log.info(
            "retention: %d deactivated, %d inactive deleted, %d stale dialogs, %d undecided",
            result.deactivated,
            result.inactive,
            result.dialogs,
            result.undecided,
        )
        if result.deleted:
            await self._report(result, now)
        rooms = await self.rooms.prune_purpose_rooms()
        if rooms:
            log.info("retention: %d purpose rooms of deleted coffee, break or crisis rows", rooms)
        await self.privacy.checkpoint()
        return result

    async def _last_seen(self, people: set[str], now: datetime) -> dict[str, float]:
        """Per person: the last activity, or the creation of a profile nobody used; people
        with neither get `now` recorded as the start of their clock."""
        last = await self.activity.last_seen(people)
        for user_id, seen in (await self.profiles.last_seen()).items():
            if user_id in people:
                last[user_id] = max(seen, last.get(user_id, seen))
        unseen = sorted(people - set(last))
        if unseen:
            await self.activity.note_first_seen(unseen, now.timestamp())
            last.update(dict.fromkeys(unseen, now.timestamp()))
        return last

    async def _check(self, user_ids: list[str]) -> dict[str, bool | None]:
        if not user_ids:
            return {}
        # Canary: if the bot's own account does not look active, the homeserver (or a proxy
        # in front of it) answers nonsense today; judge nobody.
        own = self.config.homeserver.user_id
        if await self.accounts.is_active(own) is not True:
            log.warning("retention: cannot judge accounts, the bot's own looks inactive")
            return dict.fromkeys(user_ids)
        limit = asyncio.Semaphore(CHECK_CONCURRENCY)

        async def one(user_id: str) -> tuple[str, bool | None]:
            async with limit:
                try:
                    return user_id, await self.accounts.is_active(user_id)
                except Exception:
                    log.exception("account check failed")
                    return user_id, None

        return dict(await asyncio.gather(*(one(u) for u in user_ids)))

    async def _warn(self, held: int, checked: int, now: datetime) -> None:
        day = now.astimezone(UTC).date().isoformat()
        await post_to_admins(
            self.messenger,
            self.config,
            Say("retention.suspicious", {"held": held, "checked": checked}),
            effect_key=f"retention:held:{day}",
        )

    async def _report(self, result: RetentionResult, now: datetime) -> None:
        day = now.astimezone(UTC).date().isoformat()
        await post_to_admins(
            self.messenger,
            self.config,
            Say(
                "retention.report",
                {
                    "deactivated": result.deactivated,
                    "inactive": result.inactive,
                    "days": self.config.privacy.retention_inactive_days,
                },
            ),
            effect_key=f"retention:{day}",
        )
