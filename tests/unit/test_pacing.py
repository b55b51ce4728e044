"""How the sync loop reads a refused sync (bot.chat.pacing): a gateway without its
homeserver means probing, "slow down" means waiting at least as long as asked. The
homeserver side is faked here; tests/fault/test_outage.py runs it against Synapse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from nio import SyncError

from bot.chat import pacing as pacing_module
from bot.chat.errors import retry_after_s
from bot.chat.health import Metrics
from bot.chat.pacing import PROBE_PATH, SyncPacing
from bot.config import SyncConfig


@dataclass
class Transport:
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    def release(self) -> None:
        pass


class FakeClient:
    """`send` fails `down` times (connection refused), then answers 200."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.probes: list[str] = []

    async def send(self, method: str, path: str, **_: Any) -> Transport:
        self.probes.append(f"{method} {path}")
        if len(self.probes) <= self.down:
            raise aiohttp.ClientConnectionError("connection refused")
        return Transport(200)


def refusal(status: int, errcode: str | None = None, **kwargs: Any) -> SyncError:
    headers = kwargs.pop("headers", {})
    error = SyncError("refused", errcode, **kwargs)
    error.transport_response = Transport(status, headers)
    return error


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def sleep(delay: float) -> None:
        waited.append(delay)

    monkeypatch.setattr(pacing_module.asyncio, "sleep", sleep)
    return waited


def counter(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


def pacing(client: FakeClient) -> tuple[SyncPacing, Metrics]:
    metrics = Metrics()
    config = SyncConfig(backoff_initial_s=1.0, backoff_max_s=60.0)
    return SyncPacing(client, config, metrics), metrics


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_gateway_without_homeserver_is_probed_until_it_answers(
    status: int, sleeps: list[float]
) -> None:
    client = FakeClient(down=3)
    loop, metrics = pacing(client)
    loop.sent()
    await loop.refused(refusal(status))
    assert client.probes == [f"GET {PROBE_PATH}"] * 4
    assert all(delay >= 0 for delay in sleeps)
    assert metrics.reachable
    assert counter(metrics, "flurfunk_homeserver_outages_total") == 1
    probes = metrics.registry.get_sample_value
    assert probes("flurfunk_homeserver_probes_total", {"result": "unreachable"}) == 3
    assert probes("flurfunk_homeserver_probes_total", {"result": "answered"}) == 1


async def test_a_503_with_retry_after_is_slow_down_not_an_outage(sleeps: list[float]) -> None:
    client = FakeClient(down=0)
    loop, metrics = pacing(client)
    loop.sent()
    await loop.refused(refusal(503, headers={"Retry-After": "7"}))
    assert client.probes == []
    assert sleeps and sleeps[0] >= 7
    assert metrics.reachable
    assert counter(metrics, "flurfunk_homeserver_outages_total") == 0


async def test_429_waits_at_least_as_long_as_asked(sleeps: list[float]) -> None:
    client = FakeClient(down=0)
    loop, _ = pacing(client)
    loop.sent()
    await loop.refused(refusal(429, "M_LIMIT_EXCEEDED", retry_after_ms=3000))
    assert client.probes == [] and sleeps[0] >= 3.0


async def test_other_errors_back_off_and_grow(sleeps: list[float]) -> None:
    loop, _ = pacing(FakeClient(down=0))
    for _ in range(6):
        loop.sent()
        await loop.refused(refusal(500, "M_UNKNOWN"))
    assert sleeps[0] >= 1.0 and sleeps[-1] >= 16.0


@pytest.mark.parametrize(
    ("headers", "retry_after_ms", "expected"),
    [
        ({}, None, None),
        ({"Retry-After": "12"}, None, 12.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None, 0.0),
        ({"Retry-After": "12"}, 2500, 2.5),
    ],
)
def test_retry_after(
    headers: dict[str, str], retry_after_ms: int | None, expected: float | None
) -> None:
    error = refusal(503, headers=headers, retry_after_ms=retry_after_ms)
    assert retry_after_s(error, error.transport_response) == expected
