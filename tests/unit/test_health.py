"""/healthz as an operator's monitoring reads it (JSON, 503 when not healthy) and the
outage, recovery and backlog series on /metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot import __version__
from bot.chat.health import HealthServer, Metrics
from bot.chat.recovery import Outage
from bot.devserver import free_port


@pytest.fixture
async def server() -> AsyncIterator[HealthServer]:
    health = HealthServer(Metrics(), "127.0.0.1", free_port(), max_age_s=60)
    await health.start()
    yield health
    await health.stop()


async def get(health: HealthServer, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{health.port}{path}") as response,
    ):
        if path == "/healthz":
            assert response.content_type == "application/json"
            return response.status, await response.json()
        return response.status, await response.text()


def backlog(count: int, age_s: float | None) -> Any:
    async def read() -> tuple[int, float | None]:
        return count, None if age_s is None else time.time() - age_s

    return read


async def test_before_the_first_sync_it_is_unhealthy_and_says_what_it_knows(
    server: HealthServer,
) -> None:
    status, body = await get(server, "/healthz")
    assert status == 503
    assert body == {
        "status": "unhealthy",
        "version": __version__,
        "last_sync_age_s": None,
        "homeserver_reachable": True,
        "store_writable": None,
        "outbox_backlog": None,
        "outbox_oldest_age_s": None,
        "warnings": [],
    }


async def test_a_recent_sync_is_ok_with_the_backlog(server: HealthServer) -> None:
    server.metrics.synced()
    server.attach(backlog(3, 12.0), lambda: True)
    status, body = await get(server, "/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["last_sync_age_s"] < 1
    assert body["store_writable"] is True
    assert body["outbox_backlog"] == 3
    assert 11 <= body["outbox_oldest_age_s"] <= 14


async def test_an_unreachable_homeserver_is_503_until_it_is_back(server: HealthServer) -> None:
    server.metrics.synced()
    server.attach(backlog(0, None), lambda: True)
    server.metrics.homeserver_away()
    status, body = await get(server, "/healthz")
    assert (status, body["status"], body["homeserver_reachable"]) == (503, "unhealthy", False)
    assert body["outbox_backlog"] == 0 and body["outbox_oldest_age_s"] is None
    server.metrics.homeserver_back()
    status, body = await get(server, "/healthz")
    assert (status, body["status"], body["homeserver_reachable"]) == (200, "ok", True)


async def test_an_old_sync_is_503(server: HealthServer) -> None:
    server.metrics.synced()
    assert server.metrics.last_sync_at is not None
    server.metrics.last_sync_at -= 61
    status, body = await get(server, "/healthz")
    assert status == 503 and body["last_sync_age_s"] >= 61


async def test_a_read_only_store_or_an_old_backlog_degrades_with_a_warning(
    server: HealthServer,
) -> None:
    server.metrics.synced()
    server.attach(backlog(7, 900.0), lambda: False)
    status, body = await get(server, "/healthz")
    assert status == 200 and body["status"] == "degraded"
    assert body["store_writable"] is False
    assert len(body["warnings"]) == 2
    assert "cannot be written" in body["warnings"][0]
    assert "900 s" in body["warnings"][1]


async def test_a_store_that_does_not_answer_leaves_the_backlog_unknown(
    server: HealthServer,
) -> None:
    async def broken() -> tuple[int, float | None]:
        raise RuntimeError("database is locked")

    server.metrics.synced()
    server.attach(broken, lambda: True)
    status, body = await get(server, "/healthz")
    assert status == 200 and body["outbox_backlog"] is None


async def test_metrics_count_outages_recovery_and_backlog(server: HealthServer) -> None:
    metrics = server.metrics
    server.attach(backlog(5, 30.0), lambda: True)
    metrics.homeserver_away()
    metrics.homeserver_away()  # the same outage, noticed twice
    _, during = await get(server, "/metrics")
    assert "flurfunk_homeserver_reachable 0.0" in during
    metrics.synced(Outage(started_at=100.0, back_at=112.0, synced_at=113.5))
    _, text = await get(server, "/metrics")
    assert "flurfunk_homeserver_outages_total 1.0" in text
    assert "flurfunk_homeserver_reachable 1.0" in text
    assert "flurfunk_homeserver_outage_seconds_sum 12.0" in text
    assert "flurfunk_recovery_seconds_sum 1.5" in text
    assert "flurfunk_outbox_backlog 5.0" in text
    age = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("flurfunk_outbox_backlog_age_seconds ")
    )
    assert 29 <= age <= 32
    assert "flurfunk_sync_age_seconds" in text
