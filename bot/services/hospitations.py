"""Hospitations: offers, places with a waiting list, announcements and sign-ups.

Every change of an offer bumps its version; the version is part of every effect key the
change produces (announcement edits, notices to host and participants), so each change
is announced exactly once, and a replay after a crash repeats nothing. Follow-ups
(standing wishes, reminders, feedback) live in `hospitation_followups`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.hospitation import OfferDraft, OfferError, Seats, new_short_id, normalise_short_id
from bot.domain.ics import offer_to_ics
from bot.services import hospitation_messages as messages
from bot.services.hospitation_messages import (
    PersonLookup,
    clean_label,
    host_contact,
    person_label,
    profile_lookup,
    too_many_offers,
    when_say,
)
from bot.services.hospitation_notices import HostNotices
from bot.services.ports import AccountDirectory, Attachment, Messenger, Say
from bot.store.db import Database
from bot.store.hospitation_rows import HospitationOffer
from bot.store.hospitations import HospitationStore

Clock = Callable[[], datetime]

_Unavailable = Literal["not_found", "bad_id", "cancelled", "started", "past"]
Refusal = Literal[_Unavailable, "own_offer", "not_host", "is_host", "too_many_joins"]


@dataclass(frozen=True)
class OfferView:
    offer: HospitationOffer
    seats: Seats[str]


@dataclass(frozen=True)
class JoinOutcome:
    outcome: Literal["confirmed", "waiting", "already_confirmed", "already_waiting"] | Refusal
    offer: HospitationOffer | None = None
    position: int | None = None


@dataclass(frozen=True)
class CancelOutcome:
    outcome: Literal["left_confirmed", "left_waiting", "not_registered"] | Refusal
    offer: HospitationOffer | None = None
    promoted: str | None = None


@dataclass(frozen=True)
class WithdrawOutcome:
    outcome: Literal["withdrawn"] | Refusal
    offer: HospitationOffer | None = None
    notified: int = 0


class HospitationService:
    def __init__(
        self,
        config: Config,
        db: Database,
        messenger: Messenger,
        *,
        people: PersonLookup | None = None,
        accounts: AccountDirectory | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.settings = config.hospitation
        self.db = db
        self.store = HospitationStore(db)
        self.messenger = messenger
        self.tz = ZoneInfo(config.timezone)
        self.people = people or profile_lookup(db, accounts)
        # Called after an offer or wish was added (the hub wakes the vector refresh with it).
        self.texts_changed: Callable[[], None] = lambda: None
        self.clock: Clock = clock or (lambda: datetime.now(self.tz))
        self.rng = rng or random.SystemRandom()
        self.notices = HostNotices(self)

    @property
    def prefix(self) -> str:
        return self.config.bot.command_prefix

    def now(self) -> datetime:
        return self.clock().astimezone(self.tz)

    def today(self) -> date:
        return self.now().date()

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self.tz)

    # -- offers --------------------------------------------------------------------------

    async def create_offer(self, host: str, draft: OfferDraft) -> HospitationOffer | Say:
        now = self.now()
        info = await self.people(host)
        async with self.db.transaction("hospitations.create_offer"):
            refused = await self.offer_limit(host)
            if refused is not None:
                return refused
            offer_id = new_short_id(self.rng)
            while await self.store.offer_id_taken(offer_id):
                offer_id = new_short_id(self.rng)
            offer = HospitationOffer(
                id=offer_id,
                host=host,
                # A snapshot shown to everybody: one clean line each (S-15).
                host_name=clean_label(info.name),
                department=clean_label(info.department),
                municipality=clean_label(info.municipality),
                title=draft.title,
                description=draft.description,
                when=draft.when,
                capacity=draft.places,
                status="open",
                cancelled_by=None,
                version=0,
                created_at=now.timestamp(),
            )
            await self.store.insert_offer(offer)
            say = self.announcement(offer, Seats(offer.capacity))
            for room_id in dict.fromkeys(self.settings.announcement_rooms):
                key = f"hosp:{offer_id}:announce:{room_id}"
                await self.messenger.post(room_id, say, effect_key=key)
                await self.store.add_announcement(offer_id, room_id, key)
            self.texts_changed()
        # Standing wishes are compared by the periodic job, off the command's transaction.
        return offer

    async def offer_limit(self, host: str) -> Say | None:
        """Why `host` may not offer one more right now (too many open ones, S-11), or None."""
        open_ids = await self.store.open_offer_ids(host, self.today())
        most = self.settings.open_offers_max
        return too_many_offers(open_ids, most, self.prefix) if len(open_ids) >= most else None

    def offered(self, offer: HospitationOffer) -> Say:
        return messages.offered(offer, self.prefix, len(set(self.settings.announcement_rooms)))

    def offer_error(self, error: OfferError) -> Say:
        return messages.offer_error(error, self.prefix, self.today())

    def announcement(self, offer: HospitationOffer, seats: Seats[str]) -> Say:
        return messages.announcement(offer, seats, self.prefix)

    async def update_announcements(self, offer_id: str) -> None:
        """Edit every announcement of the offer to show its current places and status."""
        offer = await self.store.offer(offer_id)
        if offer is None:
            return
        say = self.announcement(offer, await self.store.seats(offer_id, offer.capacity))
        for _room_id, key in await self.store.announcements(offer_id):
            await self.messenger.edit(key, say, effect_key=f"{key}:v{offer.version}")

    def ics(self, offer: HospitationOffer) -> Attachment:
        data = offer_to_ics(
            offer_id=offer.id,
            title=offer.title,
            when=offer.when,
            dtstamp=self.now(),
            description=offer.description,
            department=offer.department,
            municipality=offer.municipality,
            uid_domain=self.config.server_name,
        )
        return Attachment(f"hospitation-{offer.id}.ics", "text/calendar", data)

    def has_started(self, offer: HospitationOffer) -> bool:
        """Sign-ups close when the first day begins (all-day offers: when it ends)."""
        when = offer.when
        if when.start_time is None:
            return self.today() > when.start_date
        return self.now() >= self.local(when.start_date, when.start_time)

    def is_past(self, offer: HospitationOffer) -> bool:
        return self.today() > offer.when.end_date

    async def find(self, typed_id: str) -> HospitationOffer | None:
        offer_id = normalise_short_id(typed_id)
        return None if offer_id is None else await self.store.offer(offer_id)

    async def view(self, typed_id: str) -> OfferView | None:
        offer = await self.find(typed_id)
        if offer is None:
            return None
        return OfferView(offer, await self.store.seats(offer.id, offer.capacity))

    async def open_offers(self, query: str | None = None) -> list[OfferView]:
        """Offers one can still sign up for, soonest first; `query` searches title,
        description, host, department and municipality (case-insensitive)."""
        words = (query or "").casefold().split()
        views = []
        for offer in await self.store.open_offers_from(self.today()):
            if offer.host is None or self.has_started(offer):
                continue
            haystack = " ".join(
                p or ""
                for p in (
                    offer.title,
                    offer.description,
                    offer.host_name,
                    offer.department,
                    offer.municipality,
                )
            ).casefold()
            if all(word in haystack for word in words):
                views.append(OfferView(offer, await self.store.seats(offer.id, offer.capacity)))
        return views

    async def hosted_by(self, user_id: str) -> list[OfferView]:
        """The person's own offers that are not over yet."""
        return [
            OfferView(offer, await self.store.seats(offer.id, offer.capacity))
            for offer in await self.store.offers_of_host(user_id)
            if not self.is_past(offer)
        ]

    async def seats_of(self, user_id: str) -> list[tuple[HospitationOffer, str, int | None]]:
        """(offer, state, waiting position) of the person's seats in offers not over yet."""
        found: list[tuple[HospitationOffer, str, int | None]] = []
        for offer, state in await self.store.seats_of_user(user_id):
            if self.is_past(offer):
                continue
            seats = await self.store.seats(offer.id, offer.capacity)
            position = seats.waiting.index(user_id) + 1 if state == "waiting" else None
            found.append((offer, state, position))
        return found

    # -- sign-ups ------------------------------------------------------------------------

    async def join(self, user_id: str, typed_id: str) -> JoinOutcome:
        async with self.db.transaction("hospitations.join"):
            offer = await self.find(typed_id)
            if offer is None:
                return JoinOutcome("not_found" if normalise_short_id(typed_id) else "bad_id")
            if offer.cancelled or offer.host is None:
                return JoinOutcome("cancelled", offer)
            if self.has_started(offer):
                return JoinOutcome("started", offer)
            if offer.host == user_id:
                return JoinOutcome("own_offer", offer)
            result = (await self.store.seats(offer.id, offer.capacity)).join(user_id)
            if result.outcome in ("already_confirmed", "already_waiting"):
                return JoinOutcome(result.outcome, offer, result.position)
            if await self.store.joins(offer.id, user_id) >= self.settings.joins_per_offer_max:
                return JoinOutcome("too_many_joins", offer)
            await self.store.count_join(offer.id, user_id)
            state: Literal["confirmed", "waiting"] = (
                "confirmed" if result.outcome == "confirmed" else "waiting"
            )
            await self.store.add_seat(offer.id, user_id, state, self.now().timestamp())
            version = await self.store.bump_version(offer.id)
            prefix = f"hosp:{offer.id}:v{version}"
            info = await self.people(user_id)
            common = self._offer_params(offer)
            seats = result.seats
            if state == "confirmed":
                await self.messenger.tell(
                    user_id,
                    Say("hosp.joined", {**common, "host": host_contact(offer)}),
                    effect_key=f"{prefix}:seat:{user_id}",
                    attachment=self.ics(offer),
                )
                host_say = Say(
                    "hosp.host.joined",
                    {
                        **common,
                        "person": person_label(user_id, info),
                        "taken": len(seats.confirmed),
                        "capacity": seats.capacity,
                    },
                )
            else:
                await self.messenger.tell(
                    user_id,
                    Say("hosp.waiting", {**common, "position": result.position}),
                    effect_key=f"{prefix}:seat:{user_id}",
                )
                host_say = Say(
                    "hosp.host.waiting",
                    {**common, "person": person_label(user_id, info), "position": result.position},
                )
            await self.notices.changed(offer, version, host_say, joined=True)
        return JoinOutcome(result.outcome, offer, result.position)

    async def cancel_seat(self, user_id: str, typed_id: str) -> CancelOutcome:
        async with self.db.transaction("hospitations.cancel_seat"):
            offer = await self.find(typed_id)
            if offer is None:
                return CancelOutcome("not_found" if normalise_short_id(typed_id) else "bad_id")
            if offer.host == user_id:
                return CancelOutcome("is_host", offer)
            if offer.cancelled:
                return CancelOutcome("cancelled", offer)
            if self.is_past(offer):
                return CancelOutcome("past", offer)
            return await self._leave(offer, user_id, anonymous=False)

    async def _leave(
        self, offer: HospitationOffer, user_id: str, *, anonymous: bool
    ) -> CancelOutcome:
        """Give up a seat: the first waiting person moves up and is told; so is the host.
        `anonymous` when the person asked to be forgotten (the host sees no name)."""
        result = (await self.store.seats(offer.id, offer.capacity)).cancel(user_id)
        if result.outcome == "not_registered":
            return CancelOutcome("not_registered", offer)
        await self.store.remove_seat(offer.id, user_id)
        version = await self.store.bump_version(offer.id)
        prefix = f"hosp:{offer.id}:v{version}"
        common = self._offer_params(offer)
        promoted = result.promoted
        if promoted is not None:
            await self.store.confirm_seat(offer.id, promoted)
            await self.messenger.tell(
                promoted,
                Say("hosp.promoted", {**common, "host": host_contact(offer)}),
                effect_key=f"{prefix}:promoted:{promoted}",
                attachment=self.ics(offer),
            )
        person = (
            Say("hosp.someone") if anonymous else person_label(user_id, await self.people(user_id))
        )
        moved_up = (
            Say(
                "hosp.host.moved_up",
                {"person": person_label(promoted, await self.people(promoted))},
            )
            if promoted is not None
            else Say("hosp.empty")
        )
        seats = result.seats
        host_say = Say(
            "hosp.host.left",
            {
                **common,
                "person": person,
                "taken": len(seats.confirmed),
                "capacity": seats.capacity,
                "moved_up": moved_up,
            },
        )
        await self.notices.changed(offer, version, host_say, joined=False)
        return CancelOutcome(result.outcome, offer, promoted)

    async def withdraw(self, user_id: str, typed_id: str) -> WithdrawOutcome:
        """The host cancels the whole offer; everyone signed up or waiting is told."""
        async with self.db.transaction("hospitations.withdraw"):
            offer = await self.find(typed_id)
            if offer is None:
                return WithdrawOutcome("not_found" if normalise_short_id(typed_id) else "bad_id")
            if offer.host != user_id:
                return WithdrawOutcome("not_host", offer)
            if offer.cancelled:
                return WithdrawOutcome("cancelled", offer)
            if self.is_past(offer):
                return WithdrawOutcome("past", offer)
            notified = await self._cancel_offer(offer, "host")
        return WithdrawOutcome("withdrawn", offer, notified)

    async def _cancel_offer(self, offer: HospitationOffer, by: Literal["host", "forgotten"]) -> int:
        seats = await self.store.seats(offer.id, offer.capacity)
        await self.store.cancel_offer(offer.id, by, self.now().timestamp())
        version = await self.store.bump_version(offer.id)
        if by == "host":
            say = Say("hosp.cancelled", {**self._offer_params(offer), "host": host_contact(offer)})
        else:
            # The host's name and free text must not travel any further.
            say = Say(
                "hosp.cancelled_forgotten",
                {"id": offer.id, "when": when_say(offer.when), "prefix": self.prefix},
            )
        for person in seats.everyone:
            await self.messenger.tell(
                person, say, effect_key=f"hosp:{offer.id}:v{version}:cancelled:{person}"
            )
        await self.update_announcements(offer.id)
        return len(seats.everyone)

    def _offer_params(self, offer: HospitationOffer) -> dict[str, object]:
        return messages.offer_params(offer, self.prefix)
