"""Synapse with its default rate limits: a crisis broadcast and a coffee round complete,
paced by the homeserver's `retry_after_ms`, and nothing is dropped.

Scaled to fit CI. Synapse's defaults allow a burst of 10 messages and then 0.2 per second
(`rc_message`), and a burst of 10 rooms and then one per ~62 s (`rc_room_creation`);
invites are 10 and then 0.3 per second per sender. Here:

- broadcast: 8 bridges (tiers of 2 and 2, then everybody else), i.e. 24 DM events (the
  request and its 👍/👎 buttons each) plus the status, its edits and the broadcast note:
  about 1.5 minutes at 0.2/s. The bridges' DMs exist already (as after `!kontakt`).
- round: 11 pairs, i.e. 11 rooms (one beyond the burst: one ~62 s wait) with 22 invites
  and 11 introductions: about 1–1.5 minutes.

The full sizes (a 200-bridge broadcast, a 100-pair round: 50 min and ~95 min under these
limits) run in `bench/rate_limited.py`; figures in docs/BENCHMARKS.md. The two scenarios
run concurrently, each with its own bot (limits are per user).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.devserver import LocalSynapse
from tests.support.fixtures import MakeBot
from tests.support.homeserver import Homeserver
from tests.support.scenarios import broadcast, coffee_round

BRIDGES = 8
PAIRS = 11


@pytest.fixture
async def limited(synapse_default_limits: LocalSynapse) -> AsyncIterator[Homeserver]:
    server = await Homeserver.create(synapse_default_limits, "limits")
    yield server
    await server.close()


async def test_broadcast_and_round_complete_under_default_limits(
    limited: Homeserver, make_bot: MakeBot
) -> None:
    fanout, matches = await asyncio.gather(
        broadcast(limited, make_bot, BRIDGES), coffee_round(limited, make_bot, PAIRS)
    )
    # Paced, not hammered: the bot waits out each 429 instead of retrying at once.
    for result in (fanout, matches):
        assert 1 <= result["rate_limited"] <= result["events"], result
