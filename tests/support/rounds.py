"""Coffee rounds and topic circles on a temporary store with a recording messenger: the
messenger that renders what it records, a settable clock, the people and configs the
service suites (tests/services: coffee, circles, coffee by meaning) share.

    messenger = RenderingMessenger()
    service = CoffeeService(db, messenger, coffee_config(), followups, clock=Clock(WEDNESDAY))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.chat.messenger import ChatMessenger
from bot.config import Config
from bot.services.ports import Say
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.config import make_config
from tests.support.fakes import RecordingMessenger, Sent

BERLIN = ZoneInfo("Europe/Berlin")
HOME = "rathaus.example"
NEIGHBOUR = "kreis.example"


class RenderingMessenger(RecordingMessenger):
    """Records like RecordingMessenger and renders every message in both languages the way
    the chat layer will, so a missing parameter fails here and not in production."""

    def __init__(self) -> None:
        super().__init__()
        self.renderer = ChatMessenger(None, None, "de", lambda: None)  # type: ignore[arg-type]

    def _record(self, sent: Sent) -> None:
        says = [sent.message, sent.extra.get("name")]
        for say in says:
            if isinstance(say, Say):
                for lang in ("de", "en"):
                    self.renderer.render(say, lang)
        super()._record(sent)


class Clock:
    """The services' clock (seconds since the epoch), set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def uid(name: str, server: str = HOME) -> str:
    return f"@{name}:{server}"


def at(year: int, month: int, day: int, hour: int, minute: int) -> float:
    """A Berlin wall-clock time as the services' clock reads it."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


WEDNESDAY = at(2026, 11, 25, 10, 0)  # of 2026-W48: the scheduled coffee round is past its grace
FIRST_WEDNESDAY = at(2026, 12, 2, 10, 0)  # the monthly circles round of December 2026


def coffee_config(**coffee: Any) -> Config:
    return make_config(
        directory={"departments": ["Bauamt", "Kämmerei", "Ordnungsamt"]}, coffee=coffee
    )


def circles_config(**circles: Any) -> Config:
    return make_config(
        homeserver={"allowed_homeservers": [HOME, NEIGHBOUR]},
        circles={"min_size": 3, "max_size": 6, "min_shared": 3, **circles},
    )


async def add_people(db: Database, people: list[tuple[str, str, str, str, list[str]]]) -> None:
    """Onboarded colleagues who take part in coffee rounds: (name, department,
    municipality, tasks, topics), all on HOME."""
    repo = ProfileRepository(db)
    for name, department, municipality, tasks, topics in people:
        user = uid(name)
        await repo.create(user, 1_700_000_000.0, confirmed=True)
        await repo.update(
            user,
            1_700_000_000.0,
            display_name=name.capitalize(),
            department=department,
            municipality=municipality,
            tasks=tasks,
            topics=topics,
            languages=["de"],
            coffee=True,
        )
