"""The services a command handler or job can use, built once in `bot.app`: the one place
that wires features. Each `_build_<feature>` constructs the feature's services, appends its
personal data owners to `services.personal_data` and its jobs to `services.job_setups`
(started after the first sync). Service modules only take what they need; none of them
imports this module.

The builders run in the order of `build_services`: a builder may use what an earlier one
built. Reading a service before its builder ran fails at once, naming it (`__getattr__`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.jobs import Jobs
from bot.services.circles import CirclesService
from bot.services.coffee import CoffeeHistory, CoffeeService
from bot.services.coffee_break import CoffeeBreakPersonalData, CoffeeBreakService
from bot.services.colleague_search import TICK_S, ColleagueSearchService
from bot.services.contacts import ContactService
from bot.services.crisis import CrisisService
from bot.services.encoder import load_encoder
from bot.services.followup import FollowUps
from bot.services.hospitation_dialog import OfferDialog
from bot.services.hospitation_followups import HospitationFollowups
from bot.services.hospitation_notices import TICK_S as HOSPITATION_NOTICES_TICK_S
from bot.services.hospitation_privacy import HospitationData
from bot.services.hospitation_vectors import offer_source, wish_source
from bot.services.hospitations import HospitationService
from bot.services.kitchen import KitchenPersonalData, KitchenService
from bot.services.onboarding import OnboardingService
from bot.services.personal_data import ChatTraces, PersonalDataOwner, PurposeRoomData
from bot.services.ports import AccountDirectory, Messenger, NoAccountDirectory
from bot.services.privacy import DialogData, PrivacyService, ProfileData
from bot.services.profile_vectors import profile_source
from bot.services.profiles import ProfileService
from bot.services.report import ReportService
from bot.services.retention import RetentionService
from bot.services.vectors import VectorService
from bot.services.wake_job import wake_job
from bot.store.bot_state import ProcessedEvents
from bot.store.db import Database
from bot.store.outbox import Outbox

DAY_S = 86400.0


@dataclass
class Hospitations:
    """The hospitation feature, one object per concern."""

    offers: HospitationService
    dialog: OfferDialog
    followups: HospitationFollowups
    data: HospitationData


@dataclass
class Services:
    config: Config
    db: Database
    messenger: Messenger
    jobs: Jobs
    # What the homeserver knows about accounts (profiles, hospitations, retention).
    accounts: AccountDirectory
    # Feature modules append their scheduled jobs here; started after the first sync.
    job_setups: list[Callable[[], None]] = field(default_factory=list)
    # Every part of the store that holds personal data (see personal_data.py).
    personal_data: list[PersonalDataOwner] = field(default_factory=list)
    # Profiles, onboarding, export/forget, retention (_build_profiles).
    # Embedding vectors of what people wrote, for every comparison of meaning (_build_vectors).
    vectors: VectorService = field(init=False)
    profiles: ProfileService = field(init=False)
    onboarding: OnboardingService = field(init=False)
    privacy: PrivacyService = field(init=False)
    retention: RetentionService = field(init=False)
    # Hospitation offers, sign-ups, wishes, follow-ups (_build_hospitations).
    hospitations: Hospitations = field(init=False)
    # Crisis routing "Wer kennt wen?" (_build_crisis).
    contacts: ContactService = field(init=False)
    crisis: CrisisService = field(init=False)
    # Kaffeeküche: prompts and suggestions; spontaneous coffee breaks (_build_kitchen).
    kitchen: KitchenService = field(init=False)
    coffee_breaks: CoffeeBreakService = field(init=False)
    # Weekly coffee matches, topic circles and their follow-ups (_build_coffee).
    coffee: CoffeeService = field(init=False)
    circles: CirclesService = field(init=False)
    followups: FollowUps = field(init=False)
    # Network report for admins: `!admin bericht`, monthly post (_build_report).
    report: ReportService = field(init=False)
    # Colleague search `!suche`, introductions `!vorstellen` (_build_search).
    search: ColleagueSearchService = field(init=False)

    # Hidden from mypy, which would otherwise accept any attribute name on Services.
    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> NoReturn:
            # Only reached for an attribute that is not set: a service not built yet.
            if name in {f.name for f in fields(Services) if not f.init}:
                raise AttributeError(
                    f"services.{name} is used before it is built: "
                    "build it earlier in build_services()"
                )
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
    services = Services(
        config=config,
        db=db,
        messenger=messenger,
        jobs=jobs,
        accounts=accounts or NoAccountDirectory(),
    )
    services.personal_data += [ChatTraces(db), PurposeRoomData(db)]
    _build_housekeeping(services)
    _build_vectors(services)
    _build_profiles(services)
    _build_hospitations(services)
    _build_crisis(services)
    _build_kitchen(services)
    _build_coffee(services)
    _build_report(services)
    _build_search(services)
    return services


def _build_housekeeping(services: Services) -> None:
    config, jobs = services.config, services.jobs
    processed, outbox = ProcessedEvents(services.db), Outbox(services.db)

    async def housekeeping() -> None:
        await processed.prune(30 * DAY_S)
        await outbox.prune(config.outbox.keep_sent_days, config.outbox.give_up_after_s)

    services.job_setups.append(lambda: jobs.every("housekeeping", housekeeping, DAY_S))


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


def _build_profiles(services: Services) -> None:
    config, db, accounts = services.config, services.db, services.accounts
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


def _build_hospitations(services: Services) -> None:
    config, jobs = services.config, services.jobs
    offers = HospitationService(config, services.db, services.messenger, accounts=services.accounts)
    feature = Hospitations(
        offers,
        OfferDialog(offers),
        HospitationFollowups(offers, services.vectors),
        HospitationData(offers),
    )
    services.hospitations = feature
    services.personal_data.append(feature.data)
    # Offers and wishes are compared by meaning: their vectors are kept with the others'.
    services.vectors.add_source(offer_source(offers.store, offers.today))
    services.vectors.add_source(wish_source(offers.store))
    offers.texts_changed = services.vectors.wake

    def schedule() -> None:
        interval = config.hospitation.check_interval_s
        jobs.every("hospitation_followups", feature.followups.run_due, interval)
        jobs.every("hospitation_notices", offers.notices.run_due, HOSPITATION_NOTICES_TICK_S)

    services.job_setups.append(schedule)


def _build_crisis(services: Services) -> None:
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


def _build_report(services: Services) -> None:
    config, jobs = services.config, services.jobs
    services.report = ReportService(services.db, config, services.messenger)
    services.report.wake = wake_job(jobs, "network_report")

    def schedule() -> None:
        # Pending requests and the monthly report; the first check right at start.
        jobs.every("network_report", services.report.tick, config.report.check_interval_s, now=True)

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
