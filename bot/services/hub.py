"""The services a command handler or job can use, built once in `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Config
from bot.i18n import Lang
from bot.jobs import Jobs
from bot.services.personal_data import ChatTraces, PersonalDataOwner
from bot.services.ports import Messenger
from bot.store.db import Database


@dataclass
class Services:
    config: Config
    db: Database
    messenger: Messenger
    jobs: Jobs
    # Feature modules append their scheduled jobs here; started after the first sync.
    job_setups: list[Callable[[], None]] = field(default_factory=list)
    # Every part of the store that holds personal data (see personal_data.py).
    personal_data: list[PersonalDataOwner] = field(default_factory=list)

    async def language_preference(self, user_id: str) -> Lang | None:
        row = await self.db.fetchone(
            "SELECT language FROM language_choice WHERE user_id = ?", (user_id,)
        )
        return None if row is None else row[0]

    def crisis_staff_ids(self) -> list[str]:
        return list(self.config.crisis.staff)

    def crisis_room(self) -> str | None:
        return self.config.crisis.room

    def start_jobs(self) -> None:
        for setup in self.job_setups:
            setup()


def build_services(config: Config, db: Database, messenger: Messenger, jobs: Jobs) -> Services:
    services = Services(config=config, db=db, messenger=messenger, jobs=jobs)
    services.personal_data.append(ChatTraces(db))
    return services
