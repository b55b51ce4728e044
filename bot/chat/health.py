"""/healthz and /metrics on a local port, for the operator's monitoring."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)


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
        self.last_sync_at: float | None = None
        # Degradations the operator must hear of although the bot still works (/healthz).
        self.warnings: list[str] = []

    def synced(self) -> None:
        self.syncs.inc()
        self.last_sync_at = time.monotonic()

    def healthy(self, max_age_s: float) -> bool:
        return self.last_sync_at is not None and time.monotonic() - self.last_sync_at < max_age_s


class HealthServer:
    def __init__(self, metrics: Metrics, host: str, port: int, max_age_s: float) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.max_age_s = max_age_s
        self._runner: web.AppRunner | None = None

    async def _healthz(self, _: web.Request) -> web.Response:
        if self.metrics.healthy(self.max_age_s):
            return web.Response(
                text="".join(["ok\n", *(f"warning: {w}\n" for w in self.metrics.warnings)])
            )
        return web.Response(status=503, text="no recent sync\n")

    async def _metrics(self, _: web.Request) -> web.Response:
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
