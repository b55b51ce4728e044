"""Scheduled jobs run with a real APScheduler on the test's event loop: every run starts
outside any store transaction, whatever context scheduled or woke it (S-01)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger

from bot.jobs import Jobs
from bot.services.privacy import PrivacyService
from bot.store.db import Database, _in_transaction

TIMEZONE = "Europe/Berlin"


class Rollback(Exception):
    """Raised to roll back the transaction of the test's "command"."""


@pytest.fixture
async def jobs() -> AsyncIterator[Jobs]:
    scheduler = Jobs(TIMEZONE)
    scheduler.start()
    yield scheduler
    scheduler.stop()
    await asyncio.sleep(0.05)  # the shutdown runs on the next loop iteration


class Writer:
    """A job that writes one row per run in its own transaction and notes what it saw."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.runs = itertools.count(1)
        self.committed: list[str] = []  # runs whose `transaction()` block completed
        self.flags: list[bool] = []  # `_in_transaction` at the start of each run

    async def __call__(self) -> None:
        self.flags.append(_in_transaction.get())
        key = f"{self.name}:{next(self.runs)}"
        async with self.db.transaction("test") as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES (?, 'job')", (key,))
        self.committed.append(key)

    async def stored(self) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT key FROM bot_state WHERE key LIKE ?", (f"{self.name}:%",)
        )
        return {str(r[0]) for r in rows}


async def rolled_back_command(db: Database, seconds: float) -> None:
    """Another coroutine's transaction that holds the store for a while, then fails."""
    with contextlib.suppress(Rollback):
        async with db.transaction("test") as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('command', 'x')")
            await asyncio.sleep(seconds)
            raise Rollback


async def test_jobs_keep_their_own_transactions_after_a_forget_in_a_transaction(
    db: Database, jobs: Jobs
) -> None:
    """S-01, appendix A: a chat `!vergessen` (PrivacyService.forget inside the dispatcher's
    transaction) schedules its WAL checkpoint; every scheduled job must still run in a
    transaction of its own, so its writes survive another command's rollback."""
    writer = Writer(db, "periodic")
    jobs.every("periodic", writer, 0.1)
    await asyncio.sleep(0.35)
    assert writer.committed and not any(writer.flags)
    before = len(writer.flags)

    async with db.transaction(
        "test.jobs.test_jobs_keep_their_own_transactions_after_a_forget_in_a_transaction"
    ):  # Dispatcher._on_text around `!vergessen ja`
        await PrivacyService(db, [], jobs).forget("@someone:rathaus.example")
    await asyncio.sleep(0.3)
    await rolled_back_command(db, 0.5)
    await asyncio.sleep(0.3)

    # Runs that came due while the command held the store waited for it: none was lost.
    assert set(writer.committed) <= await writer.stored()
    assert await db.fetchone("SELECT 1 FROM bot_state WHERE key = 'command'") is None
    assert len(writer.flags) > before + 2
    assert writer.flags[before:] == [False] * (len(writer.flags) - before)


async def test_a_job_added_inside_a_transaction_runs_in_its_own(db: Database, jobs: Jobs) -> None:
    """S-01: a job added (and due at once) from inside an open transaction waits for the
    store lock and commits on its own, even when the adding transaction rolls back."""
    writer = Writer(db, "once")
    with contextlib.suppress(Rollback):
        async with db.transaction(
            "test.jobs.test_a_job_added_inside_a_transaction_runs_in_its_own"
        ):
            when = datetime.now(jobs.timezone) + timedelta(milliseconds=50)
            jobs.add("once", writer, DateTrigger(run_date=when))
            await asyncio.sleep(0.3)  # the job is due meanwhile
            assert writer.committed == []  # it waits for the lock, it does not join
            raise Rollback
    await asyncio.sleep(0.2)
    assert writer.flags == [False]
    assert await writer.stored() == {"once:1"}


async def test_a_scheduler_woken_inside_a_transaction_still_isolates_jobs(
    db: Database, jobs: Jobs
) -> None:
    """S-01: even if the scheduler itself is woken from inside a transaction (a
    `modify_job` that does not go through `wake_job`), the job runs outside of it."""
    writer = Writer(db, "woken")
    jobs.every("woken", writer, 3600)
    with contextlib.suppress(Rollback):
        async with db.transaction(
            "test.jobs.test_a_scheduler_woken_inside_a_transaction_still_isolates_jobs"
        ):
            jobs.scheduler.modify_job("woken", next_run_time=datetime.now(jobs.timezone))
            await asyncio.sleep(0.3)
            raise Rollback
    await asyncio.sleep(0.2)
    assert writer.flags == [False]
    assert await writer.stored() == {"woken:1"}


async def test_a_job_for_right_at_start_runs_at_start_not_an_interval_later() -> None:
    """The jobs are added before the scheduler starts (after the first sync): "now" must
    still mean the first run at start (the vector refresh, the crisis tick)."""
    scheduler = Jobs(TIMEZONE)
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler.every("at_start", job, 3600, now=True)
    await asyncio.sleep(0.2)  # the time between adding the jobs and starting the scheduler
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=5)
    finally:
        scheduler.stop()
        await asyncio.sleep(0.05)


async def test_a_cancelled_job_is_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    """Stopping the bot cancels the jobs that run: nothing is logged as failed."""
    scheduler = Jobs(TIMEZONE)
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await asyncio.sleep(60)

    scheduler.every("long", job, 3600, now=True)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    scheduler.stop()
    running = [t for t in asyncio.all_tasks() if t.get_name() == "job:long"]
    assert len(running) == 1
    with caplog.at_level("ERROR"):
        running[0].cancel()
        await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
