"""Composition root and lifecycle: store -> services -> matrix -> scheduler.

A stop (SIGTERM from Docker, which waits 10 s before SIGKILL; or SIGINT) is graceful and
takes at most about 3 s: no new sync batch, sends under way get `operations.stop_grace_s`,
then the sender is cancelled (a cancelled send stays pending in the outbox and goes out
after the restart with the same transaction ID, which the homeserver de-duplicates), the
sync long-poll is cancelled, not awaited (the sync position is stored after every batch),
and store, HTTP session and crypto store are closed. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass

from nio import AsyncClient

from bot.chat.accounts import MatrixAccounts
from bot.chat.configured_rooms import configured_rooms, warn_about_upgraded_config
from bot.chat.cross_signing import ensure_cross_signing
from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS
from bot.chat.given_up import GivenUpNotices
from bot.chat.health import HealthServer, Metrics
from bot.chat.messenger import ChatMessenger, preferred_language
from bot.chat.readonly import ReadOnlyMode
from bot.chat.roles import RoleResolver
from bot.chat.room_retirement import RoomRetirement
from bot.chat.rooms import DirectRooms, InviteGate
from bot.chat.sender import OutboxSender
from bot.chat.session import build_client, log_in
from bot.chat.sync import SyncLoop
from bot.commands import load_all
from bot.config import Config
from bot.jobs import Jobs
from bot.services.encoder import encoder_failure
from bot.services.hub import Services, build_services
from bot.store.bot_state import BotState
from bot.store.chat_traces import ChatTraceStore
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)


@dataclass
class Running:
    client: AsyncClient
    sync: SyncLoop
    sender: OutboxSender
    services: Services
    readonly: ReadOnlyMode
    outbox: Outbox


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database(config.storage.database_target)
        self.metrics = Metrics()
        self.db.on_lock_released.append(self.metrics.lock_released)
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
        preference = ChatTraceStore(self.db).language
        language_of = preferred_language(preference, config.bot.default_language)
        readonly = ReadOnlyMode(client, config, self.db, direct, language_of, self.metrics)
        sender = OutboxSender(
            client,
            outbox,
            directory,
            direct,
            config.outbox,
            self.metrics,
            readonly,
            # Given-up items are told in the admin room, in aggregate (S-05).
            notices=GivenUpNotices(outbox, config.bot.admin_room, config.bot.default_language),
        )
        messenger = ChatMessenger(outbox, preference, config.bot.default_language, sender.wake)
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
            list(config.crisis.staff),
            config.crisis.room,
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
        )
        # Purpose rooms whose work is done are left, so joined rooms stay bounded (#17).
        retirement = RoomRetirement(
            client, directory, outbox, config, leave_if_alone=sync.actions.leave_if_alone
        )
        self.jobs.every(
            "room_retirement", retirement.run, config.bot.purpose_room_check_s, now=True
        )
        return Running(client, sync, sender, services, readonly, outbox)

    async def run(self) -> None:
        await self.db.open()
        if (store_file := self.config.storage.sqlite_file) is not None:
            store_file.chmod(0o600)
        operations = self.config.operations
        health = HealthServer(
            self.metrics,
            operations.http_host,
            operations.http_port,
            operations.healthy_sync_age_s,
            operations.backlog_warning_age_s,
        )
        running: Running | None = None
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            await health.start()
            running = await self._build()
            readonly = running.readonly
            health.attach(running.outbox.backlog, lambda: not readonly.active)
            # What read-only mode refused or put off before a restart, before any replay.
            await running.readonly.resume()
            tasks["sync"] = asyncio.create_task(running.sync.run(), name="sync")
            tasks["readonly"] = asyncio.create_task(running.readonly.run(), name="readonly")
            started = asyncio.create_task(running.sync.first_sync_done.wait())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({started, stop, tasks["sync"]}, return_when=asyncio.FIRST_COMPLETED)
            if tasks["sync"].done():
                tasks["sync"].result()  # raises the fatal error
            if not self._stop.is_set():
                tasks["sender"] = asyncio.create_task(running.sender.run(), name="sender")
                running.services.start_jobs()
                self.jobs.start()
                log.info("Flurfunk is running as %s", self.config.homeserver.user_id)
                await asyncio.wait({stop, *tasks.values()}, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks.values():
                    if task.done() and not task.cancelled() and task.exception():
                        raise task.exception()  # type: ignore[misc]
            started.cancel()
            stop.cancel()
        finally:
            await self._shut_down(running, tasks)
            await health.stop()
            await self.db.close()
            log.info("Flurfunk stopped")

    async def _shut_down(
        self, running: Running | None, tasks: dict[str, asyncio.Task[None]]
    ) -> None:
        """Stop taking events, give sends under way a grace, cancel the rest, close."""
        self.jobs.stop()
        deadline = time.monotonic() + self.config.operations.stop_grace_s
        sync, sender = tasks.get("sync"), tasks.get("sender")
        if running is not None and sync is not None:
            running.sync.stop()
            if running.sync.handling:
                # A batch half handled would be replayed after the restart: let it finish.
                await asyncio.wait({sync}, timeout=max(0.0, deadline - time.monotonic()))
        if running is not None and sender is not None and self.metrics.reachable:
            while time.monotonic() < deadline and not sender.done():
                if await self._backlog(running) in (None, 0):
                    break
                await asyncio.sleep(0.1)
        for task in tasks.values():
            task.cancel()
        for task in tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if running is None:
            return
        try:
            # The sync loop stores its position at most once a second: the newest now.
            await running.sync.save_position()
        except Exception:  # a locked store: the restart replays a little, harmlessly
            log.exception("sync position not stored at the stop")
        await self._log_pending(running)
        # Never log out: the device and its keys are our identity.
        await running.client.close()
        store = running.client.store
        if store is not None:
            store.database.close()

    async def _backlog(self, running: Running) -> int | None:
        try:
            count, _ = await running.outbox.backlog()
        except Exception:  # a read-only or locked store: the grace simply runs out
            return None
        return count

    async def _log_pending(self, running: Running) -> None:
        try:
            count, oldest = await running.outbox.backlog()
        except Exception:
            log.warning("stopping; the outbox backlog could not be read", exc_info=True)
            return
        if count == 0 or oldest is None:
            log.info("stopping; nothing left to deliver")
            return
        log.info(
            "stopping; %d outbox items left pending (the oldest queued %.0f s ago), "
            "delivered after the restart",
            count,
            time.time() - oldest,
        )


def install_signal_handlers(app: App) -> None:
    """The first SIGTERM/SIGINT stops gracefully, a second one exits at once."""
    loop = asyncio.get_running_loop()

    def at_once(signum: int, _frame: object) -> None:
        os.write(2, b"second signal: exiting at once\n")
        os._exit(128 + signum)

    def graceful(sig: signal.Signals) -> None:
        log.info("%s received: stopping (send it again to exit at once)", sig.name)
        app.request_stop()
        for other in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(other)
            # A plain handler: it runs even if the event loop is stuck.
            signal.signal(other, at_once)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, graceful, sig)


async def serve(config: Config) -> None:
    app = App(config)
    install_signal_handlers(app)
    await app.run()
