"""Run a scheduled job now, from inside a command handler."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from datetime import datetime

from bot.jobs import Jobs

log = logging.getLogger(__name__)


def wake_job(jobs: Jobs, job_id: str) -> Callable[[], None]:
    """A callable that makes the scheduler run `job_id` now.

    Called from a command handler, i.e. inside the event's store transaction: the job must
    not inherit that task's context (it would think it is inside the transaction), so the
    scheduler is poked from a fresh context on the next loop iteration. The job then waits
    for the store lock, which the handler's transaction releases when it commits.
    """

    def poke() -> None:
        try:
            jobs.scheduler.modify_job(job_id, next_run_time=datetime.now(jobs.timezone))
        except Exception:  # not scheduled yet (before the first sync): the first run sees it
            log.debug("could not wake job %s", job_id)

    def wake() -> None:
        asyncio.get_running_loop().call_soon(poke, context=contextvars.Context())

    return wake
