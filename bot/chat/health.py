"""/healthz and /metrics on a local port, for the operator's monitoring.

`/healthz` answers a small JSON document (docs/operations.md) with 200 while the bot
works (status "ok", or "degraded" with warnings the operator should act on) and 503 while
it does not (status "unhealthy": no recent sync, or the homeserver unreachable).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot import __version__

if TYPE_CHECKING:
    from bot.chat.recovery import Outage

log = logging.getLogger(__name__)

# Outbox backlog: how many items wait, and when the oldest was queued (epoch seconds).
Backlog = Callable[[], Awaitable[tuple[int, float | None]]]
# The store query behind the backlog may wait for the store's lock: never longer than this.
BACKLOG_TIMEOUT_S = 2.0
OUTAGE_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)
LOCK_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
RECOVERY_BUCKETS = (0.5, 1, 2, 3, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.syncs = Counter("flurfunk_syncs", "Successful sync requests", registry=self.registry)
        self.sync_errors = Counter(
            "flurfunk_sync_errors", "Failed sync requests", ["reason"], registry=self.registry
        )
        self.events = Counter(
            "flurfunk_events_handled", "Timeline events handled", ["kind"], registry=self.registry
        )
        self.command_latency = Histogram(
            "flurfunk_command_seconds",
            "Time from receiving a command to its reply being queued",
            ["command"],
            registry=self.registry,
        )
        self.sends = Counter(
            "flurfunk_sends", "Outbox deliveries", ["action", "result"], registry=self.registry
        )
        self.rate_limited = Counter(
            "flurfunk_rate_limited", "429 answers from the homeserver", registry=self.registry
        )
        self.decrypt_failures = Counter(
            "flurfunk_decrypt_failures",
            "Events that could not be decrypted",
            ["final"],
            registry=self.registry,
        )
        self.semantics = Gauge(
            "flurfunk_semantics_available",
            "1 if texts are compared by meaning (embedding model loaded), 0 if by words only",
            registry=self.registry,
        )
        self.outages = Counter(
            "flurfunk_homeserver_outages",
            "Times the homeserver became unreachable",
            registry=self.registry,
        )
        self.outage_seconds = Histogram(
            "flurfunk_homeserver_outage_seconds",
            "How long the homeserver was unreachable (first failure to its first answer)",
            buckets=OUTAGE_BUCKETS,
            registry=self.registry,
        )
        self.recovery_seconds = Histogram(
            "flurfunk_recovery_seconds",
            "From the homeserver's first answer after an outage to the first successful sync",
            buckets=RECOVERY_BUCKETS,
            registry=self.registry,
        )
        self.probes = Counter(
            "flurfunk_homeserver_probes",
            "Probes of an unreachable homeserver (GET /_matrix/client/versions)",
            ["result"],
            registry=self.registry,
        )
        self.reachable_gauge = Gauge(
            "flurfunk_homeserver_reachable",
            "1 while the homeserver answers, 0 while it is unreachable",
            registry=self.registry,
        )
        self.reachable_gauge.set(1)
        self.sync_age = Gauge(
            "flurfunk_sync_age_seconds",
            "Seconds since the last successful sync (since start before the first)",
            registry=self.registry,
        )
        self.sync_age.set_function(self.seconds_since_sync)
        self.backlog_size = Gauge(
            "flurfunk_outbox_backlog",
            "Outbox items waiting to be delivered",
            registry=self.registry,
        )
        self.backlog_age = Gauge(
            "flurfunk_outbox_backlog_age_seconds",
            "Age of the oldest outbox item waiting to be delivered (0 when none waits)",
            registry=self.registry,
        )
        self.store_lock_seconds = Histogram(
            "flurfunk_store_lock_seconds",
            "How long each named store transaction held the store's single lock",
            ["name"],
            buckets=LOCK_BUCKETS,
            registry=self.registry,
        )
        self.started_at = time.monotonic()
        self.last_sync_at: float | None = None
        # Degradations the operator must hear of although the bot still works (/healthz).
        self.warnings: list[str] = []
        # Set while the homeserver answers (the sync loop's view); the sender waits on it.
        self.homeserver_up = asyncio.Event()
        self.homeserver_up.set()

    @property
    def reachable(self) -> bool:
        return self.homeserver_up.is_set()

    def synced(self, outage: Outage | None = None) -> None:
        """A successful sync; `outage` is the one it ended, if any."""
        self.syncs.inc()
        self.last_sync_at = time.monotonic()
        if outage is not None:
            self.outage_seconds.observe(outage.duration_s)
            self.recovery_seconds.observe(outage.recovery_s)
            log.info(
                "homeserver was unreachable for %.1fs; syncing again %.1fs after its return",
                outage.duration_s,
                outage.recovery_s,
            )
        self.homeserver_back()

    def homeserver_away(self) -> None:
        if not self.reachable:
            return
        self.outages.inc()
        self.homeserver_up.clear()
        self.reachable_gauge.set(0)

    def homeserver_back(self) -> None:
        if self.reachable:
            return
        self.homeserver_up.set()
        self.reachable_gauge.set(1)

    def lock_released(self, name: str, held_s: float) -> None:
        self.store_lock_seconds.labels(name).observe(held_s)

    def seconds_since_sync(self) -> float:
        return time.monotonic() - (self.last_sync_at or self.started_at)


class HealthServer:
    def __init__(
        self,
        metrics: Metrics,
        host: str,
        port: int,
        max_age_s: float,
        backlog_warning_age_s: float = 300.0,
    ) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.max_age_s = max_age_s
        self.backlog_warning_age_s = backlog_warning_age_s
        # Known once the store and the bot are built (`attach`).
        self.backlog: Backlog | None = None
        self.store_writable: Callable[[], bool] | None = None
        self._runner: web.AppRunner | None = None

    def attach(self, backlog: Backlog, store_writable: Callable[[], bool]) -> None:
        self.backlog = backlog
        self.store_writable = store_writable

    async def _read_backlog(self) -> tuple[int, float | None] | None:
        """(count, age of the oldest in seconds), or None if the store did not say in time."""
        if self.backlog is None:
            return None
        try:
            count, oldest = await asyncio.wait_for(self.backlog(), BACKLOG_TIMEOUT_S)
        except Exception:  # a locked or read-only store: the report says "unknown"
            log.debug("outbox backlog unknown", exc_info=True)
            return None
        age = None if oldest is None else max(0.0, time.time() - oldest)
        self.metrics.backlog_size.set(count)
        self.metrics.backlog_age.set(age or 0.0)
        return count, age

    async def report(self) -> tuple[int, dict[str, Any]]:
        """The /healthz answer: HTTP status and JSON body."""
        metrics = self.metrics
        age = None if metrics.last_sync_at is None else metrics.seconds_since_sync()
        writable = None if self.store_writable is None else self.store_writable()
        backlog = await self._read_backlog()
        warnings = list(metrics.warnings)
        if writable is False:
            warnings.append("the store cannot be written: commands are refused, see the log")
        oldest = None if backlog is None else backlog[1]
        if oldest is not None and oldest > self.backlog_warning_age_s:
            warnings.append(f"the oldest undelivered message waits for {oldest:.0f} s")
        healthy = age is not None and age < self.max_age_s and metrics.reachable
        status = ("degraded" if warnings else "ok") if healthy else "unhealthy"
        body = {
            "status": status,
            "version": __version__,
            "last_sync_age_s": None if age is None else round(age, 1),
            "homeserver_reachable": metrics.reachable,
            "store_writable": writable,
            "outbox_backlog": None if backlog is None else backlog[0],
            "outbox_oldest_age_s": None if oldest is None else round(oldest, 1),
            "warnings": warnings,
        }
        return (200 if healthy else 503), body

    async def _healthz(self, _: web.Request) -> web.Response:
        status, body = await self.report()
        return web.json_response(body, status=status)

    async def _metrics(self, _: web.Request) -> web.Response:
        await self._read_backlog()  # the backlog gauges are read from the store on demand
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("health and metrics on http://%s:%s/", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
