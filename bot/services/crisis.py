"""Crisis routing "Wer kennt wen?": requests by the crisis staff, routed to bridge persons.

Every use case runs in one store transaction: the routing state is saved first, then the
messages are queued in the outbox with effect keys derived from the request ID and the
recipient, so a crash or restart in the middle of an escalation asks nobody twice and loses no
step. Drills take exactly the same path; only the label differs.

`!werkennt` only stores the request (in the command's transaction) and wakes the tick job;
right after the commit the tick encodes the request text on the encoder's thread (outside any
transaction), stores its vector and routes tier 1 in a transaction of its own. Later steps
read the stored vector.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.answers import NO_EMOJI, YES_EMOJI
from bot.domain.crisis import (
    BROADCAST_TIER,
    AnswerOutcome,
    CloseOutcome,
    RequestState,
    Timing,
    close,
    record_answer,
    starts_tier,
)
from bot.domain.crisis_stats import CrisisReport, RequestTimes, crisis_report
from bot.domain.roles import Role
from bot.services.contact_vectors import CrisisVectors, request_source
from bot.services.contacts import ContactService, new_id, normalise_id
from bot.services.crisis_personal_data import export_requests, forget_person
from bot.services.crisis_replies import (
    Access,
    AnswerReply,
    CloseReply,
    Protocol,
    RequestError,
    RequestView,
    Started,
)
from bot.services.crisis_routing import CrisisRouting, ask_key, next_check
from bot.services.crisis_texts import CrisisTexts
from bot.services.ports import Messenger, Say
from bot.services.vectors import VectorService
from bot.store.crisis import ASKED_IN_DM, CrisisStore, StoredRequest, is_former
from bot.store.db import Database, StoreUnavailable

log = logging.getLogger(__name__)

REQUEST_PREFIX = "A"
MAX_TEXT_LENGTH = 500

Clock = Callable[[], datetime]


class CrisisService:
    """Personal data owner for requests and asks (section `crisis_requests`)."""

    section = "crisis_requests"
    ask_key = staticmethod(ask_key)

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        contacts: ContactService,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        vectors: VectorService | None = None,
    ) -> None:
        self.db = db
        self.store = CrisisStore(db)
        self.messenger = messenger
        self.config = config
        self.crisis = config.crisis
        self.timezone = ZoneInfo(config.timezone)
        self.contacts = contacts
        self.clock: Clock = clock or (lambda: datetime.now(self.timezone))
        self.rng = rng or random.SystemRandom()
        self.prefix = config.bot.command_prefix
        self.texts = CrisisTexts(self.crisis, self.prefix)
        if vectors is not None:
            vectors.add_source(request_source(self.store))
        self.meaning = CrisisVectors(
            vectors, time.time, config.crisis.sectors, config.crisis.organisation_kinds
        )
        self.routing = CrisisRouting(
            self.store, messenger, contacts, self.texts, self.crisis, self.timezone, self.meaning
        )
        # Set by the hub: makes the scheduler run `tick` now (safe inside a transaction).
        self.wake: Callable[[], None] = lambda: None
        self._woken = False
        self._ticking = False

    def timing(self) -> Timing:
        c = self.crisis
        return Timing(
            tier1_size=c.tier1_size,
            tier1_timeout=timedelta(seconds=c.tier1_timeout_s),
            tier2_size=c.tier2_size,
            tier2_timeout=timedelta(seconds=c.tier2_timeout_s),
            urgent_factor=c.urgent_factor,
            expire_after=timedelta(seconds=c.request_expire_s),
        )

    # -- starting ---------------------------------------------------------------------------

    async def open_request(
        self,
        actor: str,
        roles: Collection[str],
        text: str,
        *,
        urgent: bool = False,
        drill: bool = False,
        origin_room: str | None = None,
    ) -> Started:
        """Store a request and post its status message; the tick routes it right after the
        caller's transaction commits. Safe inside a transaction (a command handler)."""
        needed = Role.ADMIN if drill else Role.CRISIS
        if needed not in roles:
            raise RequestError("not_allowed")
        text = " ".join(text.split())
        if not text:
            raise RequestError("empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise RequestError("too_long")
        status_room = self.crisis.room or origin_room
        async with self.db.transaction("crisis.open_request"):
            now = self.clock()
            state = RequestState(created_at=now, timing=self.timing(), urgent=urgent, drill=drill)
            while True:
                req = StoredRequest(
                    new_id(REQUEST_PREFIX, self.rng), actor, text, urgent, drill, status_room, state
                )
                # Due at once (`next_check_at` = creation): the tick routes tier 1.
                if await self.store.create(req):
                    break
            # Asked outside the status room: the reply (what tier 1 covers) goes by DM.
            where = None if origin_room is not None and origin_room == status_room else ASKED_IN_DM
            await self.store.add_event(req.id, now, "created", actor, detail=where)
            if status_room is not None:
                await self.messenger.post(
                    status_room, self.texts.status(req), effect_key=f"crisis:{req.id}:status"
                )
            self._wake()
        return Started(req.id, 0, status_room, drill)

    async def start(
        self,
        actor: str,
        roles: Collection[str],
        text: str,
        *,
        urgent: bool = False,
        drill: bool = False,
        origin_room: str | None = None,
    ) -> Started:
        """`open_request` and route tier 1 at once. Encodes the text: never call this inside a
        store transaction (command handlers use `open_request`)."""
        opened = await self.open_request(
            actor, roles, text, urgent=urgent, drill=drill, origin_room=origin_room
        )
        await self.route(opened.id)
        req = await self.store.get(opened.id)
        return replace(opened, asked=0 if req is None else len(req.state.asked))

    # -- routing ----------------------------------------------------------------------------

    def _wake(self) -> None:
        self._woken = True
        self.wake()

    async def tick_job(self) -> None:
        # The sector and reference vectors are encoded once per configuration; the first run
        # after start does it, so the first `!werkennt` does not wait for it.
        try:
            await self.meaning.background()
        except Exception:
            log.exception("could not encode the sector descriptions; routing by words")
        await self.tick()

    async def tick(self) -> int:
        """The periodic job, also woken after `!werkennt`: advance every request with a due
        step. Returns how many. A wake while it runs makes it look again before it ends."""
        self._woken = True
        if self._ticking:
            return 0
        self._ticking = True
        done = 0
        try:
            while self._woken:
                self._woken = False
                for request_id in await self.store.due(self.clock()):
                    try:
                        done += await self.route(request_id)
                    except StoreUnavailable:
                        raise
                    except Exception:
                        # One broken request must not hold up the others.
                        log.exception("routing step of crisis request %s failed", request_id)
        finally:
            self._ticking = False
        return done

    async def route(self, request_id: str) -> int:
        """One routing step of one request: its vector first (encoded outside any
        transaction if not stored yet), then the step in a transaction. 1 if it ran."""
        req = await self.store.get(request_id)
        if req is None:
            return 0
        # Only a step that may start a tier ranks the bridges and needs the request's vector.
        state = req.state
        may_rank = state.is_open and state.connected_to is None and state.tier < BROADCAST_TIER
        query = await self.meaning.query(req) if may_rank else None
        async with self.db.transaction("crisis.route"):
            req = await self.store.get(request_id)
            if req is None:
                return 0
            await self.routing.advance(req, self.clock(), status="edit", query=query)
        return 1

    # -- answers ----------------------------------------------------------------------------

    async def answer(
        self, person: str, request_id: str, yes: bool, hint: str | None = None
    ) -> AnswerReply:
        rid = normalise_id(request_id, REQUEST_PREFIX)
        if rid is None:
            return AnswerReply(AnswerOutcome.NOT_ASKED, None)
        async with self.db.transaction("crisis.answer"):
            req = await self.store.get(rid)
            if req is None:
                return AnswerReply(AnswerOutcome.NOT_ASKED, rid)
            now = self.clock()
            hint = " ".join((hint or "").split())[:MAX_TEXT_LENGTH] or None
            result = record_answer(req.state, person, yes, hint, now)
            if result.outcome not in (AnswerOutcome.CONNECTED, AnswerOutcome.DECLINED):
                return AnswerReply(result.outcome, rid, req.drill)
            req = replace(req, state=result.state)
            await self.store.save_state(req.id, req.state, next_check(req.state))
            await self.store.add_event(req.id, now, "yes" if yes else "no", person, detail=hint)
            if result.outcome is AnswerOutcome.CONNECTED:
                await self.routing.edit_status(req)
                await self.routing.connect(req, person, now)
                await self.routing.tell_settled(req, result.notify_settled, now)
                return AnswerReply(result.outcome, rid, req.drill)
            if result.forward_hint and not is_former(req.requester):
                await self.store.add_event(req.id, now, "hint_forwarded", req.requester)
                await self.messenger.tell(
                    req.requester,
                    Say(
                        "crisis.hint",
                        {**self.texts.common(req), "bridge": person, "hint": result.forward_hint},
                    ),
                    # One hint per bridge and request (S-11): the key alone guarantees it.
                    effect_key=f"crisis:{req.id}:hint:{person}",
                )
            if result.repeated:
                return AnswerReply(result.outcome, rid, req.drill)  # routing saw this no
            # A tier where everybody declined ends early; its successor needs the request's
            # vector, which only the tick may compute (outside this transaction).
            query = await self.meaning.stored_query(req)
            if query is None and self.meaning.available and starts_tier(req.state, now):
                await self.store.save_state(req.id, req.state, now)
                await self.routing.edit_status(req)
                self._wake()
            else:
                req = await self.routing.advance(req, now, status="edit", changed=True, query=query)
        return AnswerReply(result.outcome, rid, req.drill)

    async def on_reaction(
        self, person: str, target_key: str, emoji: str, withdrawn: bool
    ) -> AnswerReply | None:
        """A 👍/👎 on an ask DM. None if the reaction is not an answer to a request."""
        parts = target_key.split(":", 3)
        if len(parts) != 4 or parts[0] != "crisis" or parts[2] != "ask" or parts[3] != person:
            return None
        if withdrawn or (emoji not in YES_EMOJI and emoji not in NO_EMOJI):
            return None
        return await self.answer(person, parts[1], emoji in YES_EMOJI)

    # -- staff views ------------------------------------------------------------------------

    def _may_manage(self, roles: Collection[str], req: StoredRequest) -> bool:
        return Role.CRISIS in roles or (req.drill and Role.ADMIN in roles)

    async def _managed(self, roles: Collection[str], request_id: str) -> StoredRequest | None:
        if Role.CRISIS not in roles and Role.ADMIN not in roles:
            raise RequestError("not_allowed")
        rid = normalise_id(request_id, REQUEST_PREFIX)
        req = None if rid is None else await self.store.get(rid)
        if req is None or not self._may_manage(roles, req):
            return None
        return req

    async def close_request(
        self, actor: str, roles: Collection[str], request_id: str
    ) -> CloseReply:
        async with self.db.transaction("crisis.close_request"):
            req = await self._managed(roles, request_id)
            if req is None:
                return CloseReply(Access.NOT_FOUND, normalise_id(request_id, REQUEST_PREFIX))
            now = self.clock()
            result = close(req.state, now)
            if result.outcome is CloseOutcome.CLOSED:
                req = replace(req, state=result.state)
                await self.store.save_state(req.id, req.state, None)
                await self.store.add_event(req.id, now, "closed", actor)
                await self.routing.edit_status(req)
                await self.routing.tell_settled(req, result.notify, now)
            return CloseReply(result.outcome, req.id)

    async def active_requests(self, roles: Collection[str]) -> list[RequestView]:
        if Role.CRISIS not in roles and Role.ADMIN not in roles:
            raise RequestError("not_allowed")
        return [
            RequestView(
                r.id,
                r.text,
                r.drill,
                r.urgent,
                r.state,
                len(r.state.asked_ids),
                sum(1 for a in r.state.answers if not a.yes),
            )
            for r in await self.store.active()
            if self._may_manage(roles, r)
        ]

    async def protocol(self, roles: Collection[str], request_id: str) -> Protocol | None:
        req = await self._managed(roles, request_id)
        if req is None:
            return None
        return Protocol(req, await self.store.timeline(req.id))

    async def report(self, roles: Collection[str]) -> CrisisReport:
        if Role.ADMIN not in roles:
            raise RequestError("not_allowed")
        records = []
        for req in await self.store.all_states():
            state = req.state
            first = min((a.at for a in state.answers), default=None)
            records.append(
                RequestTimes(
                    drill=req.drill,
                    first_answer_after=None if first is None else first - state.created_at,
                    connected_after=(
                        None
                        if state.connected_at is None
                        else state.connected_at - state.created_at
                    ),
                )
            )
        now = self.clock()
        return crisis_report(
            records,
            timedelta(seconds=self.crisis.response_target_s),
            self.crisis.sectors,
            await self.contacts.live_per_sector(now),
        )

    async def maintenance(self) -> None:
        """The daily job: contact reminders and expiry, retention of finished requests."""
        await self.contacts.check_contacts()
        keep = timedelta(days=self.crisis.request_retention_days)
        await self.store.prune(self.clock() - keep)

    # -- personal data ----------------------------------------------------------------------

    async def export(self, user_id: str) -> dict[str, Any]:
        return await export_requests(self.store, user_id, self.timezone)

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        """The person becomes `~former-…` in every request; their own open requests are closed
        (the bridges still waiting hear it is settled) and lose their text."""
        async with self.db.transaction("crisis.forget"):
            await forget_person(self.store, self.routing, user_id, self.clock())
