"""What happens to a hospitation after the offer: standing wishes are told about it,
host and participants are reminded the day before, and afterwards both sides are asked
whether it took place. A confirmed hospitation is a tie of the network.

Wishes are compared with offers by meaning (`bot.services.hospitation_vectors`); only
without the embedding model by their words (`wish_score`).

One periodic job (`run_due`) finds everything due in the store and acts idempotently:
flags in the same transaction as the queued messages, effect keys derived from offer and
person, so a restart continues where it stopped and never sends twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.domain.hospitation import (
    WishErrorCode,
    matching_wishes,
    normalise_short_id,
    parse_wish,
    shared_words,
)
from bot.services.hospitation_messages import host_contact, person_label, when_say
from bot.services.hospitation_vectors import (
    WISH_MEANING_THRESHOLD,
    WISH_WORDS_SHARE,
    offer_words,
    wish_scores,
)
from bot.services.hospitations import HospitationService
from bot.services.ports import Say
from bot.services.vectors import VectorService
from bot.store.hospitation_rows import HospitationOffer, HospitationTie, Wish

log = logging.getLogger(__name__)

FEEDBACK_REACTIONS = ("👍", "👎")


def wish_score(offer_text: str, area: str) -> float:
    """How much of a wish (``Bauaufsicht``) the offer text covers by its words, 0..1: the
    fallback when the embedding model is not available.

    The wish is indexed on its own and the offer is ranked against it, so words of the
    offer that the wish does not use do not dilute the score; ``1.0`` means every word of
    the wish appears in the offer.
    """
    from bot.domain.similarity import Document
    from bot.domain.tfidf import TfidfSimilarity

    ranked = TfidfSimilarity().index([Document(area)]).rank(Document(offer_text), 1)
    return ranked[0][1] if ranked else 0.0


WishOutcome = Literal["added", "exists", "too_many"] | WishErrorCode
FeedbackOutcome = Literal["recorded", "not_asked", "not_found", "bad_id"]


@dataclass(frozen=True)
class FeedbackResult:
    outcome: FeedbackOutcome
    offer: HospitationOffer | None = None


class HospitationFollowups:
    def __init__(self, service: HospitationService, vectors: VectorService | None = None) -> None:
        self.service = service
        self.vectors = vectors
        self.store = service.store
        self.db = service.db
        self.messenger = service.messenger
        self.settings = service.settings

    async def run_due(self) -> None:
        await self.notify_wishes()
        await self.send_reminders()
        await self.ask_feedback()

    # -- standing wishes -----------------------------------------------------------------

    async def add_wish(self, user_id: str, text: str) -> tuple[WishOutcome, str]:
        area = parse_wish(text)
        if area == "wish_empty":
            return "wish_empty", text
        if area == "wish_too_long":
            return "wish_too_long", text
        async with self.db.transaction("hospitation_followups.add_wish"):
            existing = await self.store.wishes_of(user_id)
            if any(w.area.casefold() == area.casefold() for w in existing):
                return "exists", area
            if len(existing) >= self.settings.wishes_max:
                return "too_many", area
            await self.store.add_wish(user_id, area, self.service.now().timestamp())
            self.service.texts_changed()
        return "added", area

    async def wishes(self, user_id: str) -> list[str]:
        return [w.area for w in await self.store.wishes_of(user_id)]

    async def delete_wish(self, user_id: str, number: int | None) -> int:
        """Delete the wish with this number in the person's list (None: all); how many."""
        async with self.db.transaction("hospitation_followups.delete_wish"):
            wishes = await self.store.wishes_of(user_id)
            if number is None:
                return await self.store.delete_wishes(user_id)
            if not 1 <= number <= len(wishes):
                return 0
            return int(await self.store.delete_wish(user_id, wishes[number - 1].id))

    async def notify_wishes(self) -> None:
        offers = await self.store.offers_with_unchecked_wishes()
        if not offers:
            return
        wishes = await self.store.all_wishes()
        for offer in offers:
            # Outside the store transaction: encoding and comparing take a moment.
            hits = await self._hits(offer, wishes) if wishes else []
            async with self.db.transaction("hospitation_followups.notify_wishes"):
                current = await self.store.offer(offer.id)
                if hits and current is not None and not current.cancelled and current.host:
                    await self._tell_wishers(current, hits)
                await self.store.mark_wishes_checked(offer.id)

    async def _hits(self, offer: HospitationOffer, wishes: list[Wish]) -> list[Wish]:
        """The wishes the offer fits, best first: by meaning and a share of the words they
        share, or without the model by words alone (CPU work: off the event loop)."""
        scores = await wish_scores(self.vectors, offer, wishes) if self.vectors else None
        if scores is None:
            return await asyncio.to_thread(self._matches, offer, wishes)
        open_offers = await self.store.open_offers_from(self.service.today())
        others = [offer_words(o) for o in open_offers if o.id != offer.id]
        areas = [w.area for w in wishes]
        words = await asyncio.to_thread(shared_words, offer_words(offer), others, areas)
        fit = {
            w.id: scores[w.id] + WISH_WORDS_SHARE * v for w, v in zip(wishes, words, strict=True)
        }
        fitting = [w for w in wishes if fit[w.id] >= WISH_MEANING_THRESHOLD]
        # sorted() is stable: equal scores keep the order the wishes were made in.
        return sorted(fitting, key=lambda w: -fit[w.id])

    def _matches(self, offer: HospitationOffer, wishes: list[Wish]) -> list[Wish]:
        scored = matching_wishes(
            offer_words(offer),
            [(w, w.area) for w in wishes],
            wish_score,
            self.settings.wish_threshold,
        )
        return [wish for wish, _ in scored]

    async def _tell_wishers(self, offer: HospitationOffer, hits: list[Wish]) -> None:
        still_wished = {(w.user_id, w.area) for w in await self.store.all_wishes()}
        told: set[str] = set()
        for wish in hits:
            person = wish.user_id
            if person == offer.host or person in told or (person, wish.area) not in still_wished:
                continue
            told.add(person)
            await self.messenger.tell(
                person,
                Say(
                    "hosp.wish_match",
                    {
                        "id": offer.id,
                        "title": offer.title,
                        "when": when_say(offer.when),
                        "host": host_contact(offer),
                        "area": wish.area,
                        "prefix": self.service.prefix,
                    },
                ),
                effect_key=f"hosp:{offer.id}:wish:{person}",
            )

    # -- reminders -----------------------------------------------------------------------

    async def send_reminders(self) -> None:
        service = self.service
        today = service.today()
        days = self.settings.reminder_days_before
        for offer in await self.store.offers_needing_reminders(today, today + timedelta(days)):
            due = service.local(
                offer.when.start_date - timedelta(days), self.settings.reminder_time
            )
            if service.now() < due or service.has_started(offer):
                continue
            async with self.db.transaction("hospitation_followups.send_reminders"):
                current = await self.store.offer(offer.id)  # withdrawn in the meantime?
                if current is not None and not current.cancelled:
                    await self._remind(current)

    async def _remind(self, offer: HospitationOffer) -> None:
        rows = [r for r in await self.store.seat_rows(offer.id) if r.state == "confirmed"]
        params: dict[str, object] = {
            "id": offer.id,
            "title": offer.title,
            "when": when_say(offer.when),
            "prefix": self.service.prefix,
        }
        for row in rows:
            if row.reminded:
                continue
            await self.messenger.tell(
                row.user_id,
                Say("hosp.remind.participant", {**params, "host": host_contact(offer)}),
                effect_key=f"hosp:{offer.id}:remind:{row.user_id}",
            )
            await self.store.mark_seat_reminded(offer.id, row.user_id)
        if offer.host is not None and not await self.store.host_reminded(offer.id):
            names = [person_label(r.user_id, await self.service.people(r.user_id)) for r in rows]
            say = (
                Say("hosp.remind.host", {**params, "people": "; ".join(names)})
                if names
                else Say("hosp.remind.host_empty", params)
            )
            await self.messenger.tell(
                offer.host, say, effect_key=f"hosp:{offer.id}:remind:{offer.host}"
            )
        await self.store.mark_host_reminded(offer.id)

    # -- feedback and ties ---------------------------------------------------------------

    async def ask_feedback(self) -> None:
        service = self.service
        days = self.settings.feedback_days_after
        for offer in await self.store.offers_needing_feedback(service.today() - timedelta(days)):
            due = service.local(offer.when.end_date + timedelta(days), self.settings.feedback_time)
            if service.now() < due:
                continue
            async with self.db.transaction("hospitation_followups.ask_feedback"):
                current = await self.store.offer(offer.id)
                if current is not None and not current.cancelled:
                    await self._ask(current)

    async def _ask(self, offer: HospitationOffer) -> None:
        now = self.service.now().timestamp()
        participants = [
            r.user_id for r in await self.store.seat_rows(offer.id) if r.state == "confirmed"
        ]
        if participants and offer.host is not None:
            asked: list[tuple[str, Literal["host", "participant"]]] = [(offer.host, "host")]
            asked += [(p, "participant") for p in participants]
            for person, role in asked:
                await self.store.ask_feedback(offer.id, person, role, now)
                await self.messenger.tell(
                    person,
                    Say(
                        f"hosp.feedback.ask_{role}",
                        {
                            "id": offer.id,
                            "title": offer.title,
                            "when": when_say(offer.when),
                            "prefix": self.service.prefix,
                        },
                    ),
                    effect_key=feedback_key(offer.id, person),
                    reactions=FEEDBACK_REACTIONS,
                )
        await self.store.mark_feedback_asked(offer.id)

    async def record_feedback(
        self, user_id: str, typed_id: str, took_place: bool | None
    ) -> FeedbackResult:
        """An answer by command or reaction (None: a reaction was taken back)."""
        offer_id = normalise_short_id(typed_id)
        if offer_id is None:
            return FeedbackResult("bad_id")
        async with self.db.transaction("hospitation_followups.record_feedback"):
            offer = await self.store.offer(offer_id)
            if offer is None:
                return FeedbackResult("not_found")
            now = self.service.now().timestamp()
            if not await self.store.set_feedback(offer_id, user_id, took_place, now):
                return FeedbackResult("not_asked", offer)
            await self._update_ties(offer)
        return FeedbackResult("recorded", offer)

    async def withdraw_feedback(self, user_id: str, offer_id: str, took_place: bool) -> None:
        """A reaction was taken back: the answer goes only if it was this reaction's."""
        async with self.db.transaction("hospitation_followups.withdraw_feedback"):
            answers = {f.user_id: f.took_place for f in await self.store.feedback(offer_id)}
            if answers.get(user_id) is took_place:
                await self.record_feedback(user_id, offer_id, None)

    async def _update_ties(self, offer: HospitationOffer) -> None:
        """A tie per participant when at least one side said 👍 and neither said 👎."""
        answers = await self.store.feedback(offer.id)
        host_says = next((a.took_place for a in answers if a.role == "host"), None)
        for answer in answers:
            if answer.role != "participant":
                continue
            says = (host_says, answer.took_place)
            if True in says and False not in says:
                guest = await self.service.people(answer.user_id)
                tie = HospitationTie(
                    offer_id=offer.id,
                    host=offer.host,
                    participant=answer.user_id,
                    happened_on=offer.when.start_date,
                    host_department=offer.department,
                    host_municipality=offer.municipality,
                    participant_department=guest.department,
                    participant_municipality=guest.municipality,
                )
                await self.store.save_tie(tie, self.service.now().timestamp())
            else:
                await self.store.delete_tie(offer.id, answer.user_id)


def feedback_key(offer_id: str, user_id: str) -> str:
    return f"hosp:{offer_id}:feedback:{user_id}"


def parse_feedback_key(key: str) -> tuple[str, str] | None:
    """(offer ID, person) of a feedback question's effect key."""
    parts = key.split(":", 3)
    if len(parts) == 4 and parts[0] == "hosp" and parts[2] == "feedback":
        return parts[1], parts[3]
    return None


def export_tie(tie: HospitationTie, user_id: str) -> dict[str, Any]:
    return {
        "offer": tie.offer_id,
        "date": tie.happened_on.isoformat(),
        "role": "host" if tie.host == user_id else "participant",
    }
