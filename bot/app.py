"""Composition root and lifecycle: store -> services -> matrix -> scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from nio import AsyncClient

from bot.chat.accounts import MatrixAccounts
from bot.chat.configured_rooms import configured_rooms, warn_about_upgraded_config
from bot.chat.cross_signing import ensure_cross_signing
from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.health import HealthServer, Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.readonly import ReadOnlyMode
from bot.chat.roles import RoleResolver
from bot.chat.rooms import DirectRooms, InviteGate
from bot.chat.sender import OutboxSender
from bot.chat.session import build_client, log_in
from bot.chat.sync import SyncLoop
from bot.commands import load_all
from bot.config import Config
from bot.i18n import Lang
from bot.jobs import Jobs
from bot.services.encoder import encoder_failure
from bot.services.hub import Services, build_services
from bot.store.bot_state import BotState, ProcessedEvents
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

DAY_S = 86400.0


@dataclass
class Running:
    client: AsyncClient
    sync: SyncLoop
    sender: OutboxSender
    services: Services
    readonly: ReadOnlyMode


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(config.storage.database)
        self.metrics = Metrics()
        self.jobs = Jobs(config.timezone)
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def _build(self) -> Running:
        config = self.config
        state = BotState(self.db)
        outbox = Outbox(self.db)
        directory = RoomDirectory(self.db)
        # Rooms named in the config follow their recorded upgrades (S-24).
        await directory.load_upgrades()
        configured = configured_rooms(config)
        warn_about_upgraded_config(configured, directory.upgrades)
        client = build_client(config)
        await log_in(client, config, state)
        await ensure_cross_signing(client, config, self.db)
        direct = DirectRooms(client, directory, encrypted=config.bot.encrypted_direct_chats)
        await direct.load()
        messenger = ChatMessenger(
            outbox, self._language_preference, config.bot.default_language, lambda: None
        )
        readonly = ReadOnlyMode(
            client, config, self.db, direct, messenger.language_of, self.metrics
        )
        sender = OutboxSender(
            client, outbox, directory, direct, config.outbox, self.metrics, readonly
        )
        messenger.wake = sender.wake
        accounts = MatrixAccounts(client, admin_api=config.privacy.admin_api)
        services = build_services(config, self.db, messenger, self.jobs, accounts)
        self.services = services
        # `!vergessen` and retention take the person off `m.direct` too, after the commit;
        # whoever a crash or an outage left listed there goes now.
        services.privacy.forgotten.append(direct.forgotten)
        try:
            unlisted = await direct.unlist_unknown(await services.privacy.people())
        except NETWORK_ERRORS:
            log.warning("m.direct not checked against the store (homeserver unreachable)")
        except Exception:  # housekeeping: never a reason not to start
            log.exception("m.direct not checked against the store")
        else:
            if unlisted:
                log.info("m.direct: %d people the store no longer knows removed", unlisted)
        self.metrics.semantics.set(1 if services.vectors.available else 0)
        if config.semantics.enabled and not services.vectors.available:
            self.metrics.warnings.append(
                f"embedding model unavailable ({encoder_failure()}): texts are compared by "
                "words only, see docs/semantics.md"
            )
        load_all()
        roles = RoleResolver(
            client,
            config.bot.admins,
            services.crisis_staff_ids(),
            services.crisis_room(),
            directory.upgrades,
            messenger=messenger,
            admin_room=config.bot.admin_room,
        )
        dispatcher = Dispatcher(
            client, config, self.db, services, messenger, direct, roles, self.metrics, readonly
        )
        sync = SyncLoop(
            client=client,
            config=config.sync,
            state=state,
            rooms=directory,
            direct=direct,
            dispatcher=dispatcher,
            invites=InviteGate(
                config.homeserver.allowed_homeservers, config.homeserver.denied_localparts
            ),
            metrics=self.metrics,
            decrypt_wait_s=config.bot.decrypt_wait_s,
            readonly=readonly,
            configured_rooms=configured,
        )
        processed = ProcessedEvents(self.db)

        async def housekeeping() -> None:
            await processed.prune(30 * DAY_S)
            await outbox.prune(config.outbox.keep_sent_days)

        self.jobs.every("housekeeping", housekeeping, DAY_S)
        return Running(client, sync, sender, services, readonly)

    async def _language_preference(self, user_id: str) -> Lang | None:
        return await self.services.language_preference(user_id)

    async def run(self) -> None:
        await self.db.open()
        self.config.storage.database.chmod(0o600)
        health = HealthServer(
            self.metrics,
            self.config.operations.http_host,
            self.config.operations.http_port,
            self.config.operations.healthy_sync_age_s,
        )
        running: Running | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            await health.start()
            running = await self._build()
            # What read-only mode refused or put off before a restart, before any replay.
            await running.readonly.resume()
            tasks.append(asyncio.create_task(running.sync.run(), name="sync"))
            tasks.append(asyncio.create_task(running.readonly.run(), name="readonly"))
            started = asyncio.create_task(running.sync.first_sync_done.wait())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({started, stop, tasks[0]}, return_when=asyncio.FIRST_COMPLETED)
            if tasks[0].done():
                tasks[0].result()  # raises the fatal error
            if not self._stop.is_set():
                tasks.append(asyncio.create_task(running.sender.run(), name="sender"))
                running.services.start_jobs()
                self.jobs.start()
                log.info("Flurfunk is running as %s", self.config.homeserver.user_id)
                await asyncio.wait({stop, *tasks}, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception():
                        raise task.exception()  # type: ignore[misc]
            started.cancel()
            stop.cancel()
        finally:
            self.jobs.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if running is not None:
                # Never log out: the device and its keys are our identity.
                await running.client.close()
            await health.stop()
            await self.db.close()
            log.info("Flurfunk stopped")


def install_signal_handlers(app: App) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, app.request_stop)


async def serve(config: Config) -> None:
    app = App(config)
    install_signal_handlers(app)
    await app.run()
