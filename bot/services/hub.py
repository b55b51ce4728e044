"""The services a command handler or job can use, built once in `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Config
from bot.i18n import Lang
from bot.jobs import Jobs
from bot.services.circles import CirclesService
from bot.services.coffee import CoffeeHistory, CoffeeService
from bot.services.coffee_break import CoffeeBreakPersonalData, CoffeeBreakService
from bot.services.colleague_search import TICK_S, ColleagueSearchService
from bot.services.contacts import ContactService
from bot.services.crisis import CrisisService
from bot.services.encoder import load_encoder
from bot.services.followup import FollowUps
from bot.services.hospitation_setup import Hospitations, install_hospitations
from bot.services.kitchen import KitchenPersonalData, KitchenService
from bot.services.onboarding import OnboardingService
from bot.services.personal_data import ChatTraces, PersonalDataOwner, PurposeRoomData
from bot.services.ports import AccountDirectory, Messenger, NoAccountDirectory
from bot.services.privacy import DialogData, PrivacyService, ProfileData
from bot.services.profile_vectors import profile_source
from bot.services.profiles import ProfileService
from bot.services.report import ReportService, install_report
from bot.services.retention import RetentionService
from bot.services.vectors import VectorService
from bot.services.wake_job import wake_job
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
    # Profiles, onboarding, export/forget, retention (set in _build_profiles).
    accounts: AccountDirectory = field(default_factory=NoAccountDirectory)
    # Embedding vectors of what people wrote, for every comparison of meaning (_build_vectors).
    vectors: VectorService = field(init=False)
    profiles: ProfileService = field(init=False)
    onboarding: OnboardingService = field(init=False)
    privacy: PrivacyService = field(init=False)
    retention: RetentionService = field(init=False)
    # Hospitation offers, sign-ups, wishes, follow-ups (set in build_services).
    hospitations: Hospitations = field(init=False)
    # Crisis routing "Wer kennt wen?" (set in build_services).
    contacts: ContactService = field(init=False)
    crisis: CrisisService = field(init=False)
    # Kaffeeküche: prompts and suggestions; spontaneous coffee breaks (_build_kitchen).
    kitchen: KitchenService = field(init=False)
    coffee_breaks: CoffeeBreakService = field(init=False)
    # Weekly coffee matches, topic circles and their follow-ups (_build_coffee).
    coffee: CoffeeService = field(init=False)
    circles: CirclesService = field(init=False)
    followups: FollowUps = field(init=False)
    # Network report for admins: `!admin bericht`, monthly post (install_report).
    report: ReportService = field(init=False)
    # Colleague search `!suche`, introductions `!vorstellen` (_build_search).
    search: ColleagueSearchService = field(init=False)

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


def build_services(
    config: Config,
    db: Database,
    messenger: Messenger,
    jobs: Jobs,
    accounts: AccountDirectory | None = None,
) -> Services:
    services = Services(config=config, db=db, messenger=messenger, jobs=jobs)
    services.personal_data += [ChatTraces(db), PurposeRoomData(db)]
    _build_vectors(services)
    _build_profiles(services, accounts or NoAccountDirectory())
    services.hospitations = install_hospitations(services)
    _build_crisis(services)
    _build_kitchen(services)
    _build_coffee(services)
    services.report = install_report(services)
    _build_search(services)
    return services


def _build_vectors(services: Services) -> None:
    settings, jobs = services.config.semantics, services.jobs
    encoder = load_encoder(settings.threads) if settings.enabled else None
    services.vectors = VectorService(services.db, encoder)
    services.vectors.wake = wake_job(jobs, "vectors")
    services.personal_data.append(services.vectors)
    # The first run is at start: texts imported or changed while the bot was down.
    services.job_setups.append(
        lambda: jobs.every(
            "vectors", services.vectors.refresh_job, settings.refresh_seconds, now=True
        )
    )


def _build_profiles(services: Services, accounts: AccountDirectory) -> None:
    config, db = services.config, services.db
    services.accounts = accounts
    services.profiles = ProfileService(db, config.directory, accounts)
    services.profiles.texts_changed = services.vectors.wake
    services.vectors.add_source(profile_source(services.profiles.repo))
    services.onboarding = OnboardingService(db, config, services.profiles)
    # The profile first: it opens the export file and is what people look for.
    services.personal_data[:0] = [ProfileData(db), DialogData(db)]
    services.privacy = PrivacyService(db, services.personal_data, services.jobs)
    services.retention = RetentionService(
        db, config, services.privacy, accounts, services.messenger
    )
    services.job_setups.append(lambda: services.retention.schedule(services.jobs))


def _build_crisis(services: Services) -> None:
    import asyncio
    import contextvars
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    config, jobs = services.config, services.jobs
    timezone = ZoneInfo(config.timezone)
    prefix = config.bot.command_prefix
    services.contacts = ContactService(
        services.db,
        services.messenger,
        config.crisis,
        timezone,
        prefix=prefix,
        vectors=services.vectors,
    )
    services.crisis = CrisisService(
        services.db, services.messenger, config, services.contacts, vectors=services.vectors
    )
    services.personal_data += [services.contacts, services.crisis]
    tick_now = wake_job(jobs, "crisis_tick")

    def wake_tick() -> None:
        # `!werkennt` is routed by the tick right after its commit. A wake that arrives while
        # the scheduler still counts the previous run as running is skipped by APScheduler
        # (max_instances 1), so it is repeated once half a second later; a run with nothing
        # due costs one query.
        tick_now()
        asyncio.get_running_loop().call_later(0.5, tick_now, context=contextvars.Context())

    services.crisis.wake = wake_tick

    def schedule() -> None:
        jobs.every("crisis_tick", services.crisis.tick_job, config.crisis.tick_seconds, now=True)
        at = config.crisis.contact_check_time
        jobs.add(
            "crisis_maintenance",
            services.crisis.maintenance,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=jobs.timezone),
        )

    services.job_setups.append(schedule)


def _build_kitchen(services: Services) -> None:
    config, jobs = services.config, services.jobs
    services.kitchen = KitchenService(config, services.db, services.messenger)
    services.coffee_breaks = CoffeeBreakService(config, services.db, services.messenger)
    services.personal_data += [
        KitchenPersonalData(services.db),
        CoffeeBreakPersonalData(services.db, config),
    ]

    def schedule() -> None:
        jobs.every("kitchen_prompts", services.kitchen.tick, services.kitchen.poll_interval_s())
        jobs.every("coffee_breaks", services.coffee_breaks.tick, config.kitchen.check_interval_s)

    services.job_setups.append(schedule)


def _build_coffee(services: Services) -> None:
    config, db, jobs = services.config, services.db, services.jobs
    services.followups = FollowUps(db, services.messenger, prefix=config.bot.command_prefix)
    services.coffee = CoffeeService(
        db, services.messenger, config, services.followups, vectors=services.vectors
    )
    services.circles = CirclesService(db, services.messenger, config, vectors=services.vectors)
    services.coffee.wake = wake_job(jobs, "coffee_rounds")
    services.circles.wake = wake_job(jobs, "circle_rounds")
    services.personal_data.append(CoffeeHistory(db, config))

    def schedule() -> None:
        # The first check runs right away: a round missed while the bot was down (within
        # the grace time) runs at start. The coffee job also posts every due follow-up.
        ticks = {"coffee_rounds": services.coffee.tick, "circle_rounds": services.circles.tick}
        for job_id, job in ticks.items():
            jobs.every(job_id, job, config.coffee.check_interval_s, now=True)

    services.job_setups.append(schedule)


def _build_search(services: Services) -> None:
    jobs = services.jobs
    services.search = ColleagueSearchService(
        services.db,
        services.messenger,
        services.profiles,
        services.vectors,
        prefix=services.config.bot.command_prefix,
    )
    services.personal_data.append(services.search)

    def schedule() -> None:
        # New searches run at once (the runner); the job answers what a restart left
        # pending, expires unanswered introduction requests and prunes.
        services.search.start_runner()
        jobs.every("colleague_search", services.search.tick, TICK_S, now=True)

    services.job_setups.append(schedule)
