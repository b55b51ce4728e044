"""APScheduler 3 with safe defaults; every job is rebuilt from config and the store at start.

APScheduler's default grace time of 1 s silently skips a job that is a little late
(a busy event loop, a suspended VM); jobs here coalesce and get a generous grace.
Anything that must survive a restart (deadlines, reminders) lives in our store and
is found again by a periodic job, never only in the scheduler's memory.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.store.db import StoreUnavailable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Jobs:
    def __init__(self, timezone: str) -> None:
        self.timezone = ZoneInfo(timezone)
        self.scheduler = AsyncIOScheduler(
            timezone=self.timezone,
            job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1},
        )

    def add(self, job_id: str, job: Job, trigger: BaseTrigger) -> None:
        async def guarded() -> None:
            try:
                await job()
            except StoreUnavailable:
                # Read-only mode (bot.chat.readonly): the next run after recovery catches up.
                log.warning("job %s put off: the store cannot be written", job_id)
            except Exception:
                # A failing job must not take the scheduler (or the bot) down.
                log.exception("job %s failed", job_id)

        self.scheduler.add_job(guarded, trigger, id=job_id, replace_existing=True)

    def every(self, job_id: str, job: Job, seconds: float) -> None:
        self.add(job_id, job, IntervalTrigger(seconds=seconds, timezone=self.timezone))

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
