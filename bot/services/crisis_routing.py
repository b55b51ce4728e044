"""One routing step of a crisis request: rank the bridges, ask the next tier, keep the crisis
room's status message current, tell the requester whom tier 1 reaches, connect, and tell the
others it is settled.

Callers run every step inside their store transaction: the routing state is saved first, then
the messages are queued with effect keys derived from the request ID and the recipient. The
request's vector (`query`) is computed before, outside the transaction
(`CrisisVectors.query`); without it the words decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import CrisisConfig
from bot.domain.crisis import (
    BROADCAST_TIER,
    Bridge,
    RequestState,
    Step,
    close,
    next_step,
    rank_bridges,
    starts_tier,
    unanswered,
    weak_fit,
)
from bot.domain.crisis_meaning import best_per_sector, weak_lift
from bot.services.contact_vectors import (
    ContactLifts,
    CrisisVectors,
    Vectors,
    sector_descriptions,
)
from bot.services.contacts import ContactService
from bot.services.crisis_fit import Fit, contact_fits
from bot.services.crisis_texts import CrisisTexts
from bot.services.ports import Messenger, Say
from bot.store.contacts import StoredContact
from bot.store.crisis import CrisisStore, StoredRequest, is_former

WEEK = timedelta(days=7)
# The reply to `!werkennt` names at most this many organisations of tier 1.
COVERED_SHOWN = 5

StatusUpdate = Literal["post", "edit", "none"]


def ask_key(request_id: str, person: str) -> str:
    return f"crisis:{request_id}:ask:{person}"


@dataclass(frozen=True)
class Ranking:
    """Every bridge that may be asked now, best first; the contact each one is asked for; and
    whether the request is too vague to route (the requester hears how to sharpen it)."""

    bridges: list[Bridge]
    contact_of: dict[str, StoredContact]
    weak: bool


NO_RANKING = Ranking([], {}, False)


class CrisisRouting:
    def __init__(
        self,
        store: CrisisStore,
        messenger: Messenger,
        contacts: ContactService,
        texts: CrisisTexts,
        crisis: CrisisConfig,
        timezone: ZoneInfo,
        meaning: CrisisVectors | None = None,
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.contacts = contacts
        self.texts = texts
        self.crisis = crisis
        self.timezone = timezone
        self.meaning = meaning or CrisisVectors(None, lambda: 0.0)

    async def ranked_bridges(
        self, req: StoredRequest, now: datetime, query: Vectors | None = None
    ) -> Ranking:
        """Every bridge but the requester, best first (domain ranking), each with the contact
        that fits the request best. `query` is the request's vector (None: words only)."""
        contacts = [c for c in await self.contacts.live_contacts(now) if c.user_id != req.requester]
        descriptions = sector_descriptions(self.crisis.sectors)
        lifts = (
            await self.meaning.lifts(query, contacts) if query is not None else ContactLifts({}, {})
        )
        fits = contact_fits(req.text, contacts, descriptions, lifts=lifts.fit)
        best: dict[str, Fit] = {}
        for contact, score in zip(contacts, fits, strict=True):
            if contact.user_id not in best or score > best[contact.user_id].score:
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
        # By meaning where the contacts have vectors; the fits of their words otherwise.
        need = lifts.need
        if need:
            weak = weak_lift(
                best_per_sector((c.sector, need[c.id]) for c in contacts if c.id in need)
            )
        else:
            weak = weak_fit(
                best_per_sector((c.sector, f) for c, f in zip(contacts, fits, strict=True))
            )
        return Ranking(ranked, {person: fit.contact for person, fit in best.items()}, weak)

    async def advance(
        self,
        req: StoredRequest,
        now: datetime,
        *,
        status: StatusUpdate,
        changed: bool = False,
        query: Vectors | None = None,
    ) -> StoredRequest:
        """Run one routing step and persist it before queueing what it says (same transaction).

        The crisis room hears first (status, broadcast note): a fan-out to hundreds of bridges
        queues hundreds of DMs, and the staff's view must not wait behind them. `changed`: the
        caller changed the state already, so the status needs an edit in any case. `query`:
        the request's vector, computed before the transaction (None: words only).
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
        # Ranking reads every contact: only when a tier starts.
        ranking = (
            await self.ranked_bridges(req, now, query) if starts_tier(state, now) else NO_RANKING
        )
        step = next_step(state, [b.id for b in ranking.bridges], now)
        contact_of = ranking.contact_of
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
        if state.tier == 0 < step.state.tier:
            await self.reply_routed(req, step, ranking)
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
                        "why": Say(
                            "crisis.ask.why.broadcast"
                            if asked.tier == BROADCAST_TIER
                            else "crisis.ask.why.fit",
                            {"organisation": contact.organisation, "sector": contact.sector},
                        ),
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

    async def reply_routed(self, req: StoredRequest, step: Step, ranking: Ranking) -> None:
        """The answer to `!werkennt` once tier 1 is asked: which organisations and sectors it
        reaches (never who), how to sharpen a request that fits nothing well, and the formal
        path. Where the request was made: in the status room, or by DM."""
        first = [a.person for a in step.ask if a.tier == 1]
        in_dm = await self.store.asked_in_dm(req.id)
        if in_dm and is_former(req.requester):
            return
        common = self.texts.common(req)
        if not first:
            if not in_dm:
                return  # the status message in the room says it, with the formal path
            message = Say("crisis.routed_nobody", {**common, "fallback": self.texts.fallback()})
        else:
            covered = list(
                dict.fromkeys(
                    f"{ranking.contact_of[p].organisation} ({ranking.contact_of[p].sector})"
                    for p in first
                )
            )
            more = len(covered) - COVERED_SHOWN
            message = Say(
                "crisis.routed",
                {
                    **common,
                    "count": len(first),
                    "covered": ", ".join(covered[:COVERED_SHOWN]),
                    "more": Say("crisis.routed.more", {"count": more})
                    if more > 0
                    else Say("crisis.empty"),
                    "weak": Say("crisis.routed.weak", {"id": req.id, "prefix": self.texts.prefix})
                    if ranking.weak
                    else Say("crisis.empty"),
                    "fallback": self.texts.fallback(),
                },
            )
        key = f"crisis:{req.id}:routed"
        if in_dm or req.status_room is None:
            await self.messenger.tell(req.requester, message, effect_key=key)
        else:
            await self.messenger.post(req.status_room, message, effect_key=key)

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
