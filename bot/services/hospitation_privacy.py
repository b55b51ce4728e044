"""`!meinedaten` and `!vergessen` for hospitations.

Forgetting a host withdraws their upcoming offers (everyone signed up is told, without
the host's name or text) and wipes host, name, title and description from all their
offers; the offers stay as a shell (ID, date, department) so the participants' history
and the tie statistics stay consistent. Forgetting a participant gives up their upcoming
seats properly (the waiting list moves up, the host learns that "someone" cancelled) and
removes them from seats, wishes, dialogs and feedback; their ties stay counted, without
their ID.
"""

from __future__ import annotations

from typing import Any

from bot.services.hospitation_followups import export_tie
from bot.services.hospitations import HospitationService
from bot.store.hospitation_rows import HospitationOffer
from bot.store.outbox import Outbox


class HospitationData:
    section = "hospitations"

    def __init__(self, service: HospitationService) -> None:
        self.service = service
        self.store = service.store
        self.db = service.db
        self.outbox = Outbox(service.db)

    async def export(self, user_id: str) -> dict[str, Any]:
        offers = []
        for offer in await self.store.offers_of_host(user_id):
            seats = await self.store.seats(offer.id, offer.capacity)
            offers.append(
                {
                    **_offer(offer),
                    "description": offer.description,
                    "places": offer.capacity,
                    "confirmed": len(seats.confirmed),
                    "waiting": len(seats.waiting),
                    "status": offer.status,
                }
            )
        sign_ups = [
            {**_offer(offer), "state": state}
            for offer, state in await self.store.seats_of_user(user_id)
        ]
        dialog = await self.store.dialog(user_id)
        return {
            "offers": offers,
            "sign_ups": sign_ups,
            "wishes": [w.area for w in await self.store.wishes_of(user_id)],
            "open_dialog": None
            if dialog is None
            else {
                "step": dialog.step,
                "title": dialog.title,
                "date": dialog.when_text,
                "places": dialog.places,
            },
            "feedback": [
                {"offer": f.offer_id, "role": f.role, "took_place": f.took_place}
                for f in await self.store.feedback_of_user(user_id)
            ],
            # Counted against the sign-up cap per offer (S-11).
            "sign_ups_per_offer": await self.store.joins_of(user_id),
            "completed_hospitations": [
                export_tie(t, user_id) for t in await self.store.ties_of_user(user_id)
            ],
        }

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        service = self.service
        async with self.db.transaction("hospitation_privacy.forget"):
            hosted = await self.store.offers_of_host(user_id)
            for offer in hosted:
                # Undelivered notices and edits about the offer quote the host's words; the
                # withdrawal below supersedes them.
                await self.outbox.drop_pending_with_prefix(offer_key_prefix(offer.id))
                if not offer.cancelled and not service.is_past(offer):
                    await service._cancel_offer(offer, "forgotten")
            for offer, _state in await self.store.seats_of_user(user_id):
                if not offer.cancelled and not service.is_past(offer):
                    await service._leave(offer, user_id, anonymous=True)
            await self.store.forget_participant(user_id)
            await self.store.wipe_host(user_id)
            # Our delivered messages about the host's offers quoted their words
            # (announcements, notices, reminders): blank those copies. Only the offers' own
            # messages: other people's messages that happen to contain the same words stay
            # (review finding S-20); the host's own replies went with `ChatTraces`.
            for offer in hosted:
                await self.outbox.blank_delivered_with_prefix(offer_key_prefix(offer.id))


def offer_key_prefix(offer_id: str) -> str:
    """Every effect key about one offer starts with this (`hosp:<id>:…`)."""
    return f"hosp:{offer_id}:"


def _offer(offer: HospitationOffer) -> dict[str, Any]:
    when = offer.when
    return {
        "id": offer.id,
        "title": offer.title,
        "first_day": when.start_date.isoformat(),
        "last_day": when.end_date.isoformat(),
        "from": None if when.start_time is None else f"{when.start_time:%H:%M}",
        "to": None if when.end_time is None else f"{when.end_time:%H:%M}",
    }
