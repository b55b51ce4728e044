"""Fixtures of the fault-injection suite: the bot as a real process on the session's
Synapse (or the one with default rate limits), and one Synapse admin that inspects what
the homeserver stored.

Everything in tests/fault needs a real homeserver, so it is marked `integration`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.bot_process import BotProcess, deep_merge

from bot.devserver import LocalSynapse

from .homeserver import Homeserver

HERE = Path(__file__).parent

MakeBot = Callable[..., BotProcess]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def homeserver(synapse: LocalSynapse) -> AsyncIterator[Homeserver]:
    server = await Homeserver.create(synapse)
    yield server
    await server.close()


@pytest.fixture
def make_bot(synapse: LocalSynapse, tmp_path: Path) -> Iterator[MakeBot]:
    bots: list[BotProcess] = []

    def make(**kwargs: Any) -> BotProcess:
        server = kwargs.pop("server", synapse)
        # The plain-HTTP clients of these tests (fault.homeserver) cannot decrypt: the DMs
        # stay as they open them. Crash and replay semantics do not depend on encryption;
        # tests/integration runs everything through encrypting clients.
        kwargs["config"] = deep_merge(
            {"bot": {"encrypted_direct_chats": False}}, kwargs.get("config") or {}
        )
        bot = BotProcess(server, tmp_path / f"bot{len(bots)}", **kwargs)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()
