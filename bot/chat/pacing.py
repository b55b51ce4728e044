"""The sync loop's waits between requests: probes while the homeserver is unreachable,
backoff when it pushes back. The policy (how long, which request) is bot.chat.recovery;
this module does the probing, the sleeping, the log lines and the metrics."""

from __future__ import annotations

import asyncio
import logging
import time

from nio import AsyncClient, SyncError, SyncResponse

from bot.chat.errors import NETWORK_ERRORS, retry_after_s
from bot.chat.health import Metrics
from bot.chat.recovery import GATEWAY_DOWN, Backoff, FailureKind, Recovery, classify
from bot.config import SyncConfig

log = logging.getLogger(__name__)

# The probe of an unreachable homeserver: a tiny unauthenticated answer, or it is away.
PROBE_PATH = "/_matrix/client/versions"
PROBE_TIMEOUT_S = 5.0
# After a batch of nothing but the bot's own messages, the next sync waits this long. While
# the outbox sends, each send's echo ends the long-poll at once: a fan-out of 200 DMs made
# a sync per echo, each costing the homeserver and nio a fixed share of the CPUs that send
# (bench/fanout.py: warm fan-out 1.31-1.43x a bare client without the pause, 1.20-1.24x
# with it). What others say meanwhile is answered at most this much later.
ECHO_PAUSE_S = 0.25


def only_own_messages(response: SyncResponse, user_id: str) -> bool:
    """Whether a sync brought nothing but echoes of messages `user_id` sent: no invite, no
    leave, no to-device message, no state, nobody else's event."""
    rooms = response.rooms
    if rooms.invite or rooms.leave or response.to_device_events:
        return False
    seen = False
    for info in rooms.join.values():
        if info.state:
            return False
        for event in info.timeline.events:
            source = getattr(event, "source", None) or {}
            if event.sender != user_id or "state_key" in source:
                return False
            seen = True
    return seen


class SyncPacing:
    def __init__(self, client: AsyncClient, config: SyncConfig, metrics: Metrics) -> None:
        self.client = client
        self.metrics = metrics
        self.recovery = Recovery(
            Backoff(config.backoff_initial_s, config.backoff_max_s),
            interval_s=config.probe_interval_s,
            jitter_s=config.probe_jitter_s,
        )

    def sent(self) -> None:
        """A sync request goes out now."""
        self.recovery.sent(time.monotonic())

    def synced(self) -> None:
        self.metrics.synced(self.recovery.synced(time.monotonic()))

    async def handled(self, response: SyncResponse) -> None:
        """A batch was handled: pause before the next sync if it held only the bot's own
        echoes (ECHO_PAUSE_S)."""
        if only_own_messages(response, self.client.user_id):
            await asyncio.sleep(ECHO_PAUSE_S)

    async def failed(self, reason: str) -> None:
        """An error that is neither an outage nor "slow down" (or a batch whose handling
        failed): back off."""
        await self._pause(self.recovery.failed(time.monotonic()), reason)

    async def refused(self, response: SyncError) -> None:
        """A sync answered with an error that is not fatal: a gateway without its
        homeserver, "slow down", or anything else."""
        transport = getattr(response, "transport_response", None)
        http_status = getattr(transport, "status", None)
        wait_s = retry_after_s(response, transport)
        verdict = classify(http_status, response.status_code, wait_s is not None)
        reason = str(response.status_code or http_status or "error")
        if verdict is FailureKind.UNREACHABLE:
            await self.unreachable(reason)
        elif verdict is FailureKind.SLOW_DOWN:
            await self._pause(self.recovery.slow_down(time.monotonic(), wait_s), reason)
        else:
            await self.failed(reason)

    async def unreachable(self, reason: str) -> None:
        """Probe the away homeserver, paced by the policy, until it answers; no sync
        long-poll goes out meanwhile, so the probes are the loop's only requests."""
        self.metrics.sync_errors.labels(reason).inc()
        recovery = self.recovery
        if recovery.reachable:
            log.warning(
                "homeserver unreachable (%s): probing it at most every %.1fs",
                reason,
                recovery.interval_s,
            )
            self.metrics.homeserver_away()
        delay = recovery.unreachable(time.monotonic())
        while True:
            await asyncio.sleep(delay)
            recovery.sent(time.monotonic())
            if await self._probe():
                break
            delay = recovery.unreachable(time.monotonic())
        log.info("homeserver answers again: syncing")
        self.metrics.homeserver_back()
        await asyncio.sleep(recovery.answered(time.monotonic()))

    async def _pause(self, delay: float, reason: str) -> None:
        self.metrics.sync_errors.labels(reason).inc()
        log.warning("sync failed (%s), next attempt in %.1fs", reason, delay)
        await asyncio.sleep(delay)

    async def _probe(self) -> bool:
        try:
            response = await self.client.send("GET", PROBE_PATH, timeout=PROBE_TIMEOUT_S)
        except NETWORK_ERRORS:
            answered = False
        else:
            answered = response.status not in GATEWAY_DOWN
            response.release()
        self.metrics.probes.labels("answered" if answered else "unreachable").inc()
        return answered
