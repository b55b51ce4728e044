"""Crisis routing in process: the contact and crisis services on a store with a recording
messenger and a wall clock the test moves, the crisis config and the bridges the service
suites (tests/services: crisis, crisis hints) declare.

    world = build_crisis(db, WallClock(START), crisis_config())
    await bridges(world, *TAFEL)
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.services.contacts import ContactService
from bot.services.crisis import CrisisService
from bot.services.vectors import VectorService
from bot.store.db import Database
from tests.support.config import make_config
from tests.support.encoders import bundled_encoder
from tests.support.fakes import RecordingMessenger, Sent

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)  # a Wednesday morning
CRISIS_ROOM = "!krisenstab:rathaus.example"
CHIEF = "@chief:rathaus.example"
STAFF = frozenset({"staff", "crisis"})


class WallClock:
    """The services' clock as a Berlin datetime, moved on by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def crisis_config(**crisis: Any) -> Config:
    return make_config(
        crisis={
            "room": CRISIS_ROOM,
            "tier1_size": 2,
            "tier2_size": 2,
            "tier1_timeout_s": 600,
            "tier2_timeout_s": 600,
            "request_expire_s": 3600,
            "default_availability": "immer",
            "cap_per_week": None,
            **crisis,
        }
    )


@dataclass
class CrisisWorld:
    db: Database
    messenger: RecordingMessenger
    clock: WallClock
    contacts: ContactService
    crisis: CrisisService
    config: Config
    vectors: VectorService | None = None

    def restart(self) -> CrisisWorld:
        """New services and a fresh messenger over the same database, as after a crash."""
        return build_crisis(self.db, self.clock, self.config, self.vectors is not None)


def build_crisis(
    db: Database, clock: WallClock, config: Config, meaning: bool = False
) -> CrisisWorld:
    """The services; with `meaning`, contacts and requests are compared by the real model."""
    messenger = RecordingMessenger()
    vectors = None
    if meaning:
        vectors = VectorService(db, bundled_encoder())
    contacts = ContactService(
        db, messenger, config.crisis, BERLIN, clock=clock, rng=random.Random(3), vectors=vectors
    )
    crisis = CrisisService(
        db, messenger, config, contacts, clock=clock, rng=random.Random(7), vectors=vectors
    )
    return CrisisWorld(db, messenger, clock, contacts, crisis, config, vectors)


@asynccontextmanager
async def crisis_world(
    tmp_path: Path, config: Config | None = None, meaning: bool = False
) -> AsyncIterator[CrisisWorld]:
    """The services over a new store (`crisis.db` in `tmp_path`) at START, closed after."""
    db = Database(tmp_path / "crisis.db")
    await db.open()
    try:
        yield build_crisis(db, WallClock(START), config or crisis_config(), meaning)
    finally:
        await db.close()


def user(name: str) -> str:
    return f"@{name}:rathaus.example"


async def bridges(w: CrisisWorld, *entries: tuple[str, str, str]) -> None:
    for name, organisation, sector in entries:
        await w.contacts.declare(user(name), organisation, sector)


TAFEL = [
    ("anna", "Tafel Dresden", "Soziale Träger"),
    ("ben", "Tafel Pirna", "Soziale Träger"),
    ("cem", "Tafel Meißen", "Soziale Träger"),
    ("dora", "Tafel Freital", "Soziale Träger"),
    ("emil", "Tafel Radebeul", "Soziale Träger"),
]


def asks(w: CrisisWorld) -> list[Sent]:
    return [s for s in w.messenger.sent if s.message is not None and s.message.key == "crisis.ask"]


def asked_people(w: CrisisWorld) -> list[str]:
    return [s.target for s in asks(w)]
