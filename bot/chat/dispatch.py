"""From timeline events to commands, dialog answers and reactions.

Each event is handled inside one store transaction together with marking it processed
and queueing its replies, so a crash either leaves no trace of it (and it is handled
again after the restart) or the whole effect. Nothing in here may stop the sync loop; only
`StoreBusy` (another process held the store's lock too long) goes up to it, which repeats
the batch later instead of apologising for every event of it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from nio import (
    AsyncClient,
    Event,
    MatrixRoom,
    MegolmEvent,
    ReactionEvent,
    RedactionEvent,
    RoomMessageNotice,
    RoomMessageText,
)

from bot.chat.health import Metrics
from bot.chat.messenger import ChatMessenger
from bot.chat.roles import RoleResolver
from bot.chat.rooms import DirectRooms, Strangers
from bot.chat.write_gate import ALWAYS_WRITABLE, WriteGate
from bot.commands.context import CommandContext
from bot.commands.help import details, usage_error
from bot.commands.hooks import HOOKS, Reaction, normalise_emoji
from bot.commands.registry import (
    REGISTRY,
    ArgumentError,
    Command,
    clean_command,
    strip_reply_fallback,
)
from bot.config import Config
from bot.domain.roles import Role, Where
from bot.domain.token_bucket import Limiter, Rate, wait_seconds
from bot.i18n import Lang
from bot.services.hub import Services
from bot.store.bot_state import ProcessedEvents
from bot.store.chat_traces import ChatTraceStore, ReactionRow
from bot.store.db import Database, StoreBusy, StoreUnavailable
from bot.store.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    room_id: str
    event_id: str
    sender: str
    body: str
    is_edit: bool


class Dispatcher:
    def __init__(
        self,
        client: AsyncClient,
        config: Config,
        db: Database,
        services: Services,
        messenger: ChatMessenger,
        direct: DirectRooms,
        roles: RoleResolver,
        metrics: Metrics,
        readonly: WriteGate = ALWAYS_WRITABLE,
    ) -> None:
        self.client = client
        self.readonly = readonly
        self.config = config
        self.db = db
        self.processed = ProcessedEvents(db)
        self.outbox = Outbox(db)
        self.traces = ChatTraceStore(db)
        self.services = services
        self.messenger = messenger
        self.direct = direct
        self.roles = roles
        self.metrics = metrics
        self.prefix = config.bot.command_prefix
        self.strangers = Strangers(
            config.homeserver.allowed_homeservers, config.homeserver.denied_localparts
        )
        limits = config.bot.limits
        self.limiter = (
            Limiter(
                {
                    "change": Rate(limits.changes_burst, limits.changes_per_minute / 60),
                    "read": Rate(limits.reads_burst, limits.reads_per_minute / 60),
                }
            )
            if limits.enabled
            else None
        )
        self.clock = time.monotonic

    async def language_for(self, user_id: str, english_hint: bool) -> Lang:
        lang = await self.messenger.language_of(user_id)
        if english_hint and not await self.messenger.has_language_choice(user_id):
            return "en"
        return lang

    async def context(
        self, room_id: str, event_id: str, sender: str, *, english_hint: bool = False
    ) -> CommandContext:
        return CommandContext(
            sender=sender,
            room_id=room_id,
            event_id=event_id,
            is_dm=await self.direct.is_dm(room_id, sender),
            lang=await self.language_for(sender, english_hint),
            roles=self.roles.roles_of(sender),
            prefix=self.prefix,
            services=self.services,
            messenger=self.messenger,
        )

    def is_stranger(self, user_id: str) -> bool:
        """From a homeserver that is not on the allow-list (met in a shared room), or an
        account `homeserver.denied_localparts` excludes (bridge puppets, guests; S-22)."""
        return self.strangers(user_id)

    async def on_event(self, room: MatrixRoom, event: Event) -> None:
        if event.sender == self.client.user_id:
            return
        if self.is_stranger(event.sender):
            # The bot serves the administration's own homeservers. Someone from elsewhere
            # who shares a room with it gets no answer and leaves no trace in the store.
            log.debug("ignoring %s from %s (homeserver not allowed)", event.event_id, event.sender)
            return
        try:
            if isinstance(event, RoomMessageText) and not isinstance(event, RoomMessageNotice):
                self.metrics.events.labels("message").inc()
                await self._on_text(room, event)
            elif isinstance(event, ReactionEvent):
                self.metrics.events.labels("reaction").inc()
                await self._on_reaction(room, event)
            elif isinstance(event, RedactionEvent):
                await self._on_redaction(room, event)
        except StoreUnavailable:
            # Disk full or read-only: nothing of this event was stored; say so.
            await self.readonly.refuse(room, event)
        except StoreBusy:
            raise  # nothing of it was stored: the sync loop hands it over again later
        except Exception:
            # One bad event must never stop the loop; the person still gets an answer, with
            # a reference an operator finds in this log line (no Matrix ID in either).
            ref = hashlib.sha256(event.event_id.encode()).hexdigest()[:8]
            log.exception("handling event %s failed (ref %s)", event.event_id, ref)
            await self._apologise(room.room_id, event, ref)

    async def _apologise(self, room_id: str, event: Event, ref: str) -> None:
        try:
            async with self.db.transaction("dispatch.apologise"):
                ctx = await self.context(room_id, event.event_id, event.sender)
                await ctx.reply("error.internal", ref=ref)
                await self.processed.mark(event.event_id)
        except Exception:
            log.exception("could not even apologise for event %s", event.event_id)

    async def _on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        source = event.source.get("content", {})
        relates = source.get("m.relates_to") or {}
        incoming = Incoming(
            room.room_id,
            event.event_id,
            event.sender,
            strip_reply_fallback(event.body or ""),
            relates.get("rel_type") == "m.replace",
        )
        started = time.perf_counter()
        async with self.db.transaction("dispatch.on_text"):
            if await self.processed.seen(incoming.event_id):
                return
            name = await self._handle_text(incoming)
            await self.processed.mark(incoming.event_id)
        if name:
            self.metrics.command_latency.labels(name).observe(time.perf_counter() - started)

    async def _handle_text(self, msg: Incoming) -> str | None:
        text = clean_command(msg.body.strip(), self.prefix)
        is_command = text.startswith(self.prefix) and len(text) > len(self.prefix)
        if msg.is_edit:
            if is_command and not await self._over_limit(msg, "read"):
                ctx = await self.context(msg.room_id, msg.event_id, msg.sender)
                await ctx.reply("error.edited_command")
            return None
        if not is_command:
            ctx = await self.context(msg.room_id, msg.event_id, msg.sender)
            if ctx.is_dm:
                # A dialog answer may store something: it counts like a command that does.
                if await self._over_limit(msg, "change"):
                    return None
                await self._touch(ctx)
                for hook in HOOKS.text:
                    if await hook(ctx, text):
                        return "dialog"
                await ctx.reply("help.not_a_command")
            return None
        line = text[len(self.prefix) :]
        head = line.split(maxsplit=1)[0].casefold() if line.split() else ""
        try:
            invocation = REGISTRY.parse(line)
        except ArgumentError as exc:
            # Only a usage note comes back: cheap, unless the command is exempt anyway.
            if await self._over_limit(msg, self._limit_kind(exc.command, msg.sender) and "read"):
                return None
            english = (
                head == exc.command.english.casefold() and exc.command.english != exc.command.name
            )
            ctx = await self.context(msg.room_id, msg.event_id, msg.sender, english_hint=english)
            refused = self._refusal(exc.command, ctx)
            if refused is not None:
                # Who may not use a command does not learn how to write it either.
                await ctx.reply(refused)
                return exc.command.name
            await ctx.reply_rendered(usage_error(ctx, exc))
            return exc.command.name
        # Before the context: a refused message of a flood costs no lookups.
        kind = "read" if invocation is None else self._limit_kind(invocation.command, msg.sender)
        if await self._over_limit(msg, kind):
            return None
        ctx = await self.context(
            msg.room_id,
            msg.event_id,
            msg.sender,
            english_hint=bool(invocation and invocation.english),
        )
        if invocation is None:
            suggestions = REGISTRY.suggest(head)
            if suggestions:
                await ctx.reply(
                    "error.unknown_command",
                    command=self.prefix + head,
                    suggestions=", ".join(self.prefix + s for s in suggestions),
                )
            elif ctx.is_dm:
                await ctx.reply("error.unknown_command_no_guess", command=self.prefix + head)
            return None
        cmd = invocation.command
        refused = self._refusal(cmd, ctx)
        if refused is not None:
            await ctx.reply(refused)
            return cmd.name
        if cmd.handler is None:
            # A group typed without a subcommand: show what it offers.
            await ctx.reply_rendered(details(ctx, cmd))
            return cmd.name
        await self._touch(ctx)
        await cmd.handler(ctx, **invocation.args)
        return cmd.name

    async def _touch(self, ctx: CommandContext) -> None:
        """Every command, dialog answer and reaction the bot acts on is activity: people
        who only react are not "inactive" (retention of inactive people's data)."""
        await self.services.profiles.touch(ctx.sender)

    def _limit_kind(self, cmd: Command, sender: str) -> str | None:
        """Which bucket `cmd` takes from; None: not limited. Crisis staff and admins are
        never limited in the commands of their role: these few people are named in the
        config, and a request at 2 a.m. in a crisis must never wait for a bucket."""
        if cmd.roles and cmd.allowed(self.roles.roles_of(sender)):
            return None
        return "read" if cmd.reads else "change"

    async def _over_limit(self, msg: Incoming, kind: str | None) -> bool:
        """Whether the sender is over their limit for `kind` (then nothing of the message is
        carried out). Told once per throttling episode, in the room they wrote in."""
        if self.limiter is None or kind is None:
            return False
        verdict = self.limiter.take(msg.sender, kind, self.clock())
        if verdict.allowed:
            return False
        if not verdict.tell:
            log.debug("%s over the %s limit, %s not handled", msg.sender, kind, msg.event_id)
        else:
            # Once per episode, so that an operator sees a script (or a benchmark) at work;
            # the Matrix ID only at debug level: logs outlive `!vergessen`.
            log.warning("someone is over the %s limit (bot.limits); told to slow down", kind)
            ctx = await self.context(msg.room_id, msg.event_id, msg.sender)
            await ctx.reply("limits.slow_down", seconds=wait_seconds(verdict.retry_after_s))
        return True

    def _refusal(self, cmd: Command, ctx: CommandContext) -> str | None:
        in_crisis_room = (
            self.roles.crisis_room is not None and ctx.room_id == self.roles.crisis_room
        )
        return refusal(cmd, ctx.roles, is_dm=ctx.is_dm, in_crisis_room=in_crisis_room)

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        target_key = await self.outbox.key_of_event(event.reacts_to)
        if target_key is None:
            return
        emoji = normalise_emoji(event.key)
        async with self.db.transaction("dispatch.on_reaction"):
            if await self.processed.seen(event.event_id):
                return
            await self.traces.add_reaction(
                event.event_id, ReactionRow(event.sender, target_key, emoji)
            )
            await self._run_reaction_hooks(room.room_id, event, target_key, emoji, False)
            await self.processed.mark(event.event_id)

    async def _on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        async with self.db.transaction("dispatch.on_redaction"):
            if await self.processed.seen(event.event_id):
                return
            reaction = await self.traces.reaction(event.redacts)
            if reaction is not None and reaction.sender == event.sender:
                await self.traces.remove_reaction(event.redacts)
                await self._run_reaction_hooks(
                    room.room_id, event, reaction.target_key, reaction.emoji, True
                )
            await self.processed.mark(event.event_id)

    async def _run_reaction_hooks(
        self, room_id: str, event: Event, target_key: str, emoji: str, withdrawn: bool
    ) -> None:
        ctx = await self.context(room_id, event.event_id, event.sender)
        reaction = Reaction(event.sender, room_id, target_key, emoji, withdrawn)
        await self._touch(ctx)
        for hook in HOOKS.reaction:
            if await hook(ctx, reaction):
                return

    async def on_undecryptable(self, room_id: str, event: MegolmEvent) -> None:
        """Called once we gave up waiting for the keys of an encrypted message. Answered
        only in the sender's DM (a shared room would hear about somebody's broken keys, and
        every message of a broken session would get its own answer), and at most once per
        sender and megolm session (review finding S-10)."""
        if self.is_stranger(event.sender):
            return
        # The person's ID only as a digest: processed_events holds no Matrix IDs.
        once = (
            "undecryptable:"
            + hashlib.sha256(f"{event.sender}\n{event.session_id}".encode()).hexdigest()[:32]
        )
        async with self.db.transaction("dispatch.on_undecryptable"):
            if await self.processed.seen(event.event_id):
                return
            if await self.direct.is_dm(room_id, event.sender) and not await self.processed.seen(
                once
            ):
                ctx = await self.context(room_id, event.event_id, event.sender)
                await ctx.reply("error.undecryptable")
                await self.processed.mark(once)
            await self.processed.mark(event.event_id)

    async def on_dm_joined(self, room_id: str, inviter: str) -> None:
        key = f"joined:{room_id}"
        async with self.db.transaction("dispatch.on_dm_joined"):
            if await self.processed.seen(key):
                return
            ctx = await self.context(room_id, key, inviter)
            for hook in HOOKS.dm_joined:
                await hook(ctx)
            if not HOOKS.dm_joined:
                await ctx.reply("welcome.greeting")
            await self.processed.mark(key)


def refusal(
    cmd: Command, roles: frozenset[Role], *, is_dm: bool, in_crisis_room: bool
) -> str | None:
    """Who may run which command where: None if `cmd` may run, else the message key that
    refuses it. The role is checked first (an admin command says "admins only" anywhere),
    then the place: personal data only in the DM, crisis commands in the DM or the crisis
    room. The authorisation matrix in tests/security pins this down for every command."""
    if not cmd.allowed(roles):
        return _refusal_key(cmd.roles)
    if is_dm or cmd.where is Where.ANY or (cmd.where is Where.CRISIS and in_crisis_room):
        return None
    return "error.dm_only" if cmd.where is Where.DM else "error.crisis_room_only"


def _refusal_key(roles: frozenset[Role]) -> str:
    if Role.ADMIN in roles:
        return "error.admins_only"
    if Role.CRISIS in roles:
        return "error.crisis_only"
    return "error.not_allowed"
