"""Crisis routing "Wer kennt wen?": requests by the crisis staff, routed to bridge persons.

Every use case runs in one store transaction: the routing state is saved first, then the
messages are queued in the outbox with effect keys derived from the request ID and the
recipient, so a crash or restart in the middle of an escalation asks nobody twice and loses no
step. Drills take exactly the same path; only the label differs.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.crisis import (
    BROADCAST_TIER,
    AnswerOutcome,
    Bridge,
    CloseOutcome,
    RequestState,
    Timing,
    close,
    next_step,
    rank_bridges,
    record_answer,
    unanswered,
)
from bot.domain.crisis_stats import CrisisReport, RequestTimes, crisis_report
from bot.domain.similarity import Document, TfidfSimilarity
from bot.services.contacts import NO_EMOJI, YES_EMOJI, ContactService, new_id, normalise_id
from bot.services.ports import Messenger, Say
from bot.store.contacts import StoredContact
from bot.store.crisis import (
    FORMER_PREFIX,
    CrisisStore,
    StoredRequest,
    TimelineEntry,
    is_former,
)
from bot.store.db import Database

REQUEST_PREFIX = "A"
MAX_TEXT_LENGTH = 500
CRISIS_ROLE = "crisis"  # bot.commands.registry.Role values; services do not import commands
ADMIN_ROLE = "admin"
WEEK = timedelta(days=7)

Clock = Callable[[], datetime]
StatusUpdate = Literal["post", "edit", "none"]


class RequestError(ValueError):
    """`code`: not_allowed, empty, too_long."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Access(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"  # also for requests the actor may not see


@dataclass(frozen=True)
class Fit:
    score: float
    contact: StoredContact


def contact_fits(text: str, contacts: Sequence[StoredContact]) -> list[float]:
    """How well each contact ("organisation | sector") fits a request text, 0 = not at all.

    The one place that knows the similarity API, so swapping the measure touches nothing else.
    """
    if not contacts:
        return []
    # No max_df cut: when many bridges know someone at a "Tafel", that common word is exactly
    # what makes them fit; idf only orders them (and the fit bands of the domain rotate them).
    index = TfidfSimilarity(max_df=1.0).index(
        [Document(f"{c.organisation} {c.sector}", (c.sector,)) for c in contacts]
    )
    scores = [0.0] * len(contacts)
    for i, score in index.rank(Document(text), len(contacts)):
        scores[i] = score
    return scores


@dataclass(frozen=True)
class Started:
    id: str
    asked: int
    status_room: str | None
    drill: bool


@dataclass(frozen=True)
class AnswerReply:
    outcome: AnswerOutcome
    request_id: str | None
    drill: bool = False


@dataclass(frozen=True)
class CloseReply:
    outcome: CloseOutcome | Access
    request_id: str | None


@dataclass(frozen=True)
class RequestView:
    id: str
    text: str
    drill: bool
    urgent: bool
    state: RequestState
    asked: int
    declined: int


@dataclass(frozen=True)
class Protocol:
    request: StoredRequest
    timeline: list[TimelineEntry]


def _label(drill: bool) -> Say:
    return Say("crisis.label.drill" if drill else "crisis.empty")


def _urgent(urgent: bool) -> Say:
    return Say("crisis.mark.urgent" if urgent else "crisis.empty")


def _person(user_id: str) -> bool:
    return not is_former(user_id)


class CrisisService:
    """Personal data owner for requests and asks (section `crisis_requests`)."""

    section = "crisis_requests"

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: Config,
        contacts: ContactService,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
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

    def _fallback(self) -> Say:
        return Say(
            "crisis.fallback",
            {"fallback_de": self.crisis.fallback_de, "fallback_en": self.crisis.fallback_en},
        )

    def _common(self, req: StoredRequest) -> dict[str, object]:
        return {
            "label": _label(req.drill),
            "urgent": _urgent(req.urgent),
            "id": req.id,
            "prefix": self.prefix,
        }

    # -- starting ---------------------------------------------------------------------------

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
        needed = ADMIN_ROLE if drill else CRISIS_ROLE
        if needed not in roles:
            raise RequestError("not_allowed")
        text = " ".join(text.split())
        if not text:
            raise RequestError("empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise RequestError("too_long")
        status_room = self.crisis.room or origin_room
        async with self.db.transaction():
            now = self.clock()
            state = RequestState(created_at=now, timing=self.timing(), urgent=urgent, drill=drill)
            while True:
                req = StoredRequest(
                    new_id(REQUEST_PREFIX, self.rng), actor, text, urgent, drill, status_room, state
                )
                if await self.store.create(req):
                    break
            await self.store.add_event(req.id, now, "created", actor)
            req = await self._advance(req, now, status="post")
        return Started(req.id, len(req.state.asked), status_room, drill)

    # -- routing ----------------------------------------------------------------------------

    async def ranked_bridges(
        self, req: StoredRequest, now: datetime
    ) -> tuple[list[Bridge], dict[str, StoredContact]]:
        """Fitting bridges best first (domain ranking), and each one's best fitting contact."""
        contacts = [c for c in await self.contacts.live_contacts(now) if c.user_id != req.requester]
        best: dict[str, Fit] = {}
        for contact, score in zip(contacts, contact_fits(req.text, contacts), strict=True):
            if score > 0 and (contact.user_id not in best or score > best[contact.user_id].score):
                best[contact.user_id] = Fit(score, contact)
        people = list(best)
        windows = await self.contacts.availability_of(people)
        load = await self.store.asks_since(now - WEEK)
        last = await self.store.last_asked(people)
        bridges = [
            Bridge(
                id=person,
                sector=fit.contact.sector,
                fit=fit.score,
                availability=windows[person],
                asks_last_7_days=load.get(person, (0, 0.0))[0],
                last_asked_at=(
                    datetime.fromtimestamp(last[person], self.timezone) if person in last else None
                ),
            )
            for person, fit in best.items()
        ]
        ranked = rank_bridges(bridges, now.astimezone(self.timezone), self.crisis.cap_per_week)
        return ranked, {person: fit.contact for person, fit in best.items()}

    async def _advance(
        self, req: StoredRequest, now: datetime, *, status: StatusUpdate, changed: bool = False
    ) -> StoredRequest:
        """Run one routing step and persist it before queueing what it says (same transaction).

        The crisis room hears first (status, broadcast note): a fan-out to hundreds of bridges
        queues hundreds of DMs, and the staff's view must not wait behind them. `changed`: the
        caller changed the state already, so the status needs an edit in any case.
        """
        state = req.state
        if state.connected_to is not None and state.closed_at is None:
            if now < state.expires_at:
                await self.store.save_state(req.id, state, state.expires_at)
                return req
            # Connected requests nobody closed are filed when they would have expired.
            result = close(state, now)
            req = replace(req, state=result.state)
            await self.store.save_state(req.id, result.state, None)
            await self.store.add_event(req.id, now, "filed")
            if status == "edit":
                await self._edit_status(req)
            return req
        if not state.is_open:
            await self.store.save_state(req.id, state, None)
            return req
        ranked, contact_of = await self.ranked_bridges(req, now)
        step = next_step(state, [b.id for b in ranked], now)
        req = replace(req, state=step.state)
        await self.store.save_state(
            req.id, step.state, step.next_check_at if step.state.is_open else None
        )
        # The timeline in the order things happened ...
        for tier in range(state.tier + 1, step.state.tier + 1):
            count = sum(1 for a in step.ask if a.tier == tier)
            await self.store.add_event(req.id, now, "tier", tier=tier, detail=str(count))
        for asked in step.ask:
            contact = contact_of[asked.person]
            detail = f"{contact.organisation} | {contact.sector}"
            await self.store.add_event(req.id, now, "asked", asked.person, asked.tier, detail)
        fresh = sum(1 for a in step.ask if a.tier == BROADCAST_TIER)
        # With nobody asked at all the status message already says so.
        note = step.broadcast_note and req.status_room is not None and bool(step.state.asked)
        if note:
            await self.store.add_event(req.id, now, "broadcast", detail=str(fresh))
        # ... the messages crisis room first.
        common = self._common(req)
        if status == "post" and req.status_room is not None:
            await self.messenger.post(
                req.status_room, self._status(req), effect_key=f"crisis:{req.id}:status"
            )
        elif status == "edit" and (changed or step.state != state):
            await self._edit_status(req)
        if note and req.status_room is not None:
            await self.messenger.post(
                req.status_room,
                Say(
                    "crisis.broadcast_note" if fresh else "crisis.nobody_left_note",
                    {**common, "count": fresh, "fallback": self._fallback()},
                ),
                effect_key=f"crisis:{req.id}:broadcast",
            )
        requester_role = Say("crisis.role.admin" if req.drill else "crisis.role.crisis")
        for asked in step.ask:
            contact = contact_of[asked.person]
            await self.messenger.tell(
                asked.person,
                Say(
                    "crisis.ask",
                    {
                        **common,
                        "text": req.text,
                        "role": requester_role,
                        "organisation": contact.organisation,
                        "sector": contact.sector,
                        "fallback": self._fallback(),
                    },
                ),
                effect_key=self.ask_key(req.id, asked.person),
                reactions=("👍", "👎"),
            )
        if step.expired:
            await self.store.add_event(req.id, now, "expired")
            if _person(req.requester):
                await self.messenger.tell(
                    req.requester,
                    Say("crisis.expired_requester", {**common, "fallback": self._fallback()}),
                    effect_key=f"crisis:{req.id}:expired",
                )
            await self._tell_settled(req, unanswered(step.state), now)
        return req

    @staticmethod
    def ask_key(request_id: str, person: str) -> str:
        return f"crisis:{request_id}:ask:{person}"

    async def _tell_settled(self, req: StoredRequest, people: Sequence[str], now: datetime) -> None:
        for person in people:
            if not _person(person):
                continue
            await self.store.add_event(req.id, now, "settled", person)
            await self.messenger.tell(
                person,
                Say("crisis.settled", self._common(req)),
                effect_key=f"crisis:{req.id}:settled:{person}",
            )

    async def tick_job(self) -> None:
        await self.tick()

    async def tick(self) -> int:
        """The periodic job: advance every request with a due step. Returns how many."""
        done = 0
        for request_id in await self.store.due(self.clock()):
            async with self.db.transaction():
                req = await self.store.get(request_id)
                if req is None:
                    continue
                await self._advance(req, self.clock(), status="edit")
                done += 1
        return done

    # -- status message ---------------------------------------------------------------------

    def _status(self, req: StoredRequest) -> Say:
        state = req.state
        declined = sum(1 for a in state.answers if not a.yes)
        params: dict[str, object] = {
            **self._common(req),
            "text": req.text,
            "asked": len(state.asked_ids),
            "declined": declined,
            "waiting": len(unanswered(state)),
        }
        if state.closed_at is not None:
            return Say("crisis.status.closed", params)
        if state.expired_at is not None:
            return Say("crisis.status.expired", params)
        if state.connected_to is not None:
            assert state.connected_at is not None
            minutes = math.ceil((state.connected_at - state.created_at).total_seconds() / 60)
            bridge = state.connected_to if _person(state.connected_to) else "–"
            return Say("crisis.status.connected", {**params, "bridge": bridge, "minutes": minutes})
        if not state.asked:
            return Say("crisis.status.nobody", {**params, "fallback": self._fallback()})
        return Say("crisis.status.asking", {**params, "tier": Say(f"crisis.tier.{state.tier}")})

    async def _edit_status(self, req: StoredRequest) -> None:
        if req.status_room is None:
            return
        number = await self.store.next_status_edit(req.id)
        await self.messenger.edit(
            f"crisis:{req.id}:status",
            self._status(req),
            effect_key=f"crisis:{req.id}:status:{number}",
        )

    # -- answers ----------------------------------------------------------------------------

    async def answer(
        self, person: str, request_id: str, yes: bool, hint: str | None = None
    ) -> AnswerReply:
        rid = normalise_id(request_id, REQUEST_PREFIX)
        if rid is None:
            return AnswerReply(AnswerOutcome.NOT_ASKED, None)
        async with self.db.transaction():
            req = await self.store.get(rid)
            if req is None:
                return AnswerReply(AnswerOutcome.NOT_ASKED, rid)
            now = self.clock()
            hint = " ".join((hint or "").split())[:MAX_TEXT_LENGTH] or None
            result = record_answer(req.state, person, yes, hint, now)
            if result.outcome not in (AnswerOutcome.CONNECTED, AnswerOutcome.DECLINED):
                return AnswerReply(result.outcome, rid, req.drill)
            req = replace(req, state=result.state)
            await self.store.save_state(req.id, req.state, _next_check(req.state))
            await self.store.add_event(req.id, now, "yes" if yes else "no", person, detail=hint)
            if result.outcome is AnswerOutcome.CONNECTED:
                await self._edit_status(req)
                await self._connect(req, person, now)
                await self._tell_settled(req, result.notify_settled, now)
                return AnswerReply(result.outcome, rid, req.drill)
            if result.forward_hint and _person(req.requester):
                await self.store.add_event(req.id, now, "hint_forwarded", req.requester)
                await self.messenger.tell(
                    req.requester,
                    Say(
                        "crisis.hint",
                        {**self._common(req), "bridge": person, "hint": result.forward_hint},
                    ),
                    effect_key=f"crisis:{req.id}:hint:{person}:{len(req.state.answers)}",
                )
            # A tier where everybody declined ends early.
            req = await self._advance(req, now, status="edit", changed=True)
        return AnswerReply(result.outcome, rid, req.drill)

    async def _connect(self, req: StoredRequest, person: str, now: datetime) -> None:
        await self.store.add_event(req.id, now, "connected", person)
        common = self._common(req)
        invite = [p for p in (req.requester, person) if _person(p)]
        contact = await self.store.asked_detail(req.id, person)
        organisation, _, sector = (contact or "–|–").partition(" | ")
        await self.messenger.open_room(
            f"crisis:{req.id}",
            name=Say("crisis.room.name", common),
            invite=invite,
            intro=Say(
                "crisis.room.intro",
                {
                    **common,
                    "text": req.text,
                    "requester": req.requester if _person(req.requester) else "–",
                    "bridge": person,
                    "organisation": organisation,
                    "sector": sector,
                    "fallback": self._fallback(),
                },
            ),
            effect_key=f"crisis:{req.id}:connect",
        )

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
        return CRISIS_ROLE in roles or (req.drill and ADMIN_ROLE in roles)

    async def _managed(self, roles: Collection[str], request_id: str) -> StoredRequest | None:
        if CRISIS_ROLE not in roles and ADMIN_ROLE not in roles:
            raise RequestError("not_allowed")
        rid = normalise_id(request_id, REQUEST_PREFIX)
        req = None if rid is None else await self.store.get(rid)
        if req is None or not self._may_manage(roles, req):
            return None
        return req

    async def close_request(
        self, actor: str, roles: Collection[str], request_id: str
    ) -> CloseReply:
        async with self.db.transaction():
            req = await self._managed(roles, request_id)
            if req is None:
                return CloseReply(Access.NOT_FOUND, normalise_id(request_id, REQUEST_PREFIX))
            now = self.clock()
            result = close(req.state, now)
            if result.outcome is CloseOutcome.CLOSED:
                req = replace(req, state=result.state)
                await self.store.save_state(req.id, req.state, None)
                await self.store.add_event(req.id, now, "closed", actor)
                await self._edit_status(req)
                await self._tell_settled(req, result.notify, now)
            return CloseReply(result.outcome, req.id)

    async def active_requests(self, roles: Collection[str]) -> list[RequestView]:
        if CRISIS_ROLE not in roles and ADMIN_ROLE not in roles:
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
        if ADMIN_ROLE not in roles:
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
        started = []
        asked = []
        for req in await self.store.involving(user_id):
            if req.requester == user_id:
                started.append(
                    {
                        "id": req.id,
                        "text": req.text,
                        "drill": req.drill,
                        "created": req.state.created_at.isoformat(),
                    }
                )
            for entry in await self.store.timeline(req.id):
                if entry.person == user_id and entry.kind in ("asked", "yes", "no", "settled"):
                    asked.append(
                        {
                            "request": req.id,
                            "event": entry.kind,
                            "at": datetime.fromtimestamp(entry.at, self.timezone).isoformat(),
                            **({"hint": entry.detail} if entry.detail else {}),
                        }
                    )
        return {"requests_started": started, "requests_received": asked}

    async def forget(self, user_id: str) -> None:
        """The person becomes `~former-…` in every request; their own open requests are closed
        (the bridges still waiting hear it is settled) and lose their text."""
        async with self.db.transaction():
            now = self.clock()
            for req in await self.store.involving(user_id):
                label = FORMER_PREFIX + secrets.token_hex(4)
                state = req.state
                text: str | None = None
                if req.requester == user_id:
                    if req.active:
                        result = close(state, now)
                        state = result.state
                        await self.store.add_event(req.id, now, "closed")
                        await self._tell_settled(replace(req, state=state), result.notify, now)
                    await self.store.forget_effects(req.id, f"crisis:{req.id}:settled:")
                    text = ""
                state = _replace_person(state, user_id, label)
                await self.store.save_state(req.id, state, _next_check(state))
                await self.store.replace_person(req.id, user_id, label, state, text)


def _next_check(state: RequestState) -> datetime | None:
    """When routing may next have something to do for this state."""
    if state.closed_at is not None or state.expired_at is not None:
        return None
    if state.connected_to is not None or state.tier >= BROADCAST_TIER:
        return state.expires_at
    if state.tier == 0:
        return state.created_at
    deadline = state.tier_started[-1] + state.timing.timeout(state.tier, state.urgent)
    return min(deadline, state.expires_at)


def _replace_person(state: RequestState, user_id: str, label: str) -> RequestState:
    def swap(person: str) -> str:
        return label if person == user_id else person

    return replace(
        state,
        asked=tuple(replace(a, person=swap(a.person)) for a in state.asked),
        answers=tuple(
            replace(a, person=swap(a.person), hint=None if a.person == user_id else a.hint)
            for a in state.answers
        ),
        connected_to=None if state.connected_to is None else swap(state.connected_to),
    )
