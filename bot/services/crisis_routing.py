"""One routing step of a crisis request: rank the bridges, ask the next tier, keep the crisis
room's status message current, connect, and tell the others it is settled.

Callers run every step inside their store transaction: the routing state is saved first, then
the messages are queued with effect keys derived from the request ID and the recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import CrisisConfig
from bot.domain.crisis import (
    BROADCAST_TIER,
    Bridge,
    RequestState,
    close,
    next_step,
    rank_bridges,
    unanswered,
)
from bot.services.contacts import ContactService
from bot.services.crisis_fit import Fit, contact_fits
from bot.services.crisis_texts import CrisisTexts
from bot.services.ports import Messenger, Say
from bot.store.contacts import StoredContact
from bot.store.crisis import CrisisStore, StoredRequest, is_former

WEEK = timedelta(days=7)

StatusUpdate = Literal["post", "edit", "none"]


def ask_key(request_id: str, person: str) -> str:
    return f"crisis:{request_id}:ask:{person}"


class CrisisRouting:
    def __init__(
        self,
        store: CrisisStore,
        messenger: Messenger,
        contacts: ContactService,
        texts: CrisisTexts,
        crisis: CrisisConfig,
        timezone: ZoneInfo,
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.contacts = contacts
        self.texts = texts
        self.crisis = crisis
        self.timezone = timezone

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

    async def advance(
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
                await self.edit_status(req)
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
        common = self.texts.common(req)
        if status == "post" and req.status_room is not None:
            await self.messenger.post(
                req.status_room, self.texts.status(req), effect_key=f"crisis:{req.id}:status"
            )
        elif status == "edit" and (changed or step.state != state):
            await self.edit_status(req)
        if note and req.status_room is not None:
            await self.messenger.post(
                req.status_room,
                Say(
                    "crisis.broadcast_note" if fresh else "crisis.nobody_left_note",
                    {**common, "count": fresh, "fallback": self.texts.fallback()},
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
                        "fallback": self.texts.fallback(),
                    },
                ),
                effect_key=ask_key(req.id, asked.person),
                reactions=("👍", "👎"),
            )
        if step.expired:
            await self.store.add_event(req.id, now, "expired")
            if not is_former(req.requester):
                await self.messenger.tell(
                    req.requester,
                    Say("crisis.expired_requester", {**common, "fallback": self.texts.fallback()}),
                    effect_key=f"crisis:{req.id}:expired",
                )
            await self.tell_settled(req, unanswered(step.state), now)
        return req

    async def tell_settled(self, req: StoredRequest, people: Sequence[str], now: datetime) -> None:
        for person in people:
            if is_former(person):
                continue
            await self.store.add_event(req.id, now, "settled", person)
            await self.messenger.tell(
                person,
                Say("crisis.settled", self.texts.common(req)),
                effect_key=f"crisis:{req.id}:settled:{person}",
            )

    async def edit_status(self, req: StoredRequest) -> None:
        if req.status_room is None:
            return
        number = await self.store.next_status_edit(req.id)
        await self.messenger.edit(
            f"crisis:{req.id}:status",
            self.texts.status(req),
            effect_key=f"crisis:{req.id}:status:{number}",
        )

    async def connect(self, req: StoredRequest, person: str, now: datetime) -> None:
        await self.store.add_event(req.id, now, "connected", person)
        common = self.texts.common(req)
        invite = [p for p in (req.requester, person) if not is_former(p)]
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
                    "requester": req.requester if not is_former(req.requester) else "–",
                    "bridge": person,
                    "organisation": organisation,
                    "sector": sector,
                    "fallback": self.texts.fallback(),
                },
            ),
            effect_key=f"crisis:{req.id}:connect",
        )


def next_check(state: RequestState) -> datetime | None:
    """When routing may next have something to do for this state."""
    if state.closed_at is not None or state.expired_at is not None:
        return None
    if state.connected_to is not None or state.tier >= BROADCAST_TIER:
        return state.expires_at
    if state.tier == 0:
        return state.created_at
    deadline = state.tier_started[-1] + state.timing.timeout(state.tier, state.urgent)
    return min(deadline, state.expires_at)
