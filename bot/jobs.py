"""APScheduler 3 with safe defaults; every job is rebuilt from config and the store at start.

APScheduler's default grace time of 1 s silently skips a job that is a little late
(a busy event loop, a suspended VM); jobs here coalesce and get a generous grace.
Anything that must survive a restart (deadlines, reminders) lives in our store and
is found again by a periodic job, never only in the scheduler's memory.

Every run starts in an empty `contextvars` context. APScheduler wakes itself with
`call_soon_threadsafe`/`call_later`, which carry the context of whoever added or woke a
job into its whole timer chain: a job added from a command handler would otherwise run,
from then on, as if inside that handler's store transaction (`bot.store.db`), taking no
lock and issuing no BEGIN (review finding S-01).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.store.db import StoreUnavailable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Jobs:
    def __init__(self, timezone: str) -> None:
        self.timezone = ZoneInfo(timezone)
        self.scheduler = AsyncIOScheduler(
            timezone=self.timezone,
            job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1},
        )

    def add(
        self, job_id: str, job: Job, trigger: BaseTrigger, *, first_run: datetime | None = None
    ) -> None:
        async def run() -> None:
            await job()

        async def guarded() -> None:
            try:
                # Its own task in a fresh context: no transaction of anybody else is open.
                await asyncio.create_task(
                    run(), name=f"job:{job_id}", context=contextvars.Context()
                )
            except asyncio.CancelledError:
                # The bot is stopping: no error, jobs are idempotent and catch up after the
                # restart (APScheduler would log a cancelled job as failed).
                log.debug("job %s cancelled by the stop", job_id)
            except StoreUnavailable:
                # Read-only mode (bot.chat.readonly): the next run after recovery catches up.
                log.warning("job %s put off: the store cannot be written", job_id)
            except Exception:
                # A failing job must not take the scheduler (or the bot) down.
                log.exception("job %s failed", job_id)

        # A job added before `start()` gets its first run time at start, from the trigger:
        # an IntervalTrigger whose start_date has just passed fires one interval later. So
        # "right at start" is an explicit first run time (None would mean "paused").
        when = {} if first_run is None else {"next_run_time": first_run}
        # Added from a fresh context too, so the scheduler's timer chain does not keep the
        # caller's (a command handler's transaction) alive.
        contextvars.Context().run(
            self.scheduler.add_job, guarded, trigger, id=job_id, replace_existing=True, **when
        )

    def every(self, job_id: str, job: Job, seconds: float, *, now: bool = False) -> None:
        """Run `job` every `seconds`; with `now`, the first run is right at start."""
        trigger = IntervalTrigger(seconds=seconds, timezone=self.timezone)
        self.add(job_id, job, trigger, first_run=datetime.now(self.timezone) if now else None)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
