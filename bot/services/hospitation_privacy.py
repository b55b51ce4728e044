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
from bot.store.hospitation_rows import Offer

# Sent messages that quote the forgotten host's own words are blanked; shorter strings
# would blank unrelated messages (harmless, they are delivered, but pointless).
MIN_SCRUB_LENGTH = 4


class HospitationData:
    section = "hospitations"

    def __init__(self, service: HospitationService) -> None:
        self.service = service
        self.store = service.store
        self.db = service.db

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
            "completed_hospitations": [
                export_tie(t, user_id) for t in await self.store.ties_of_user(user_id)
            ],
        }

    async def forget(self, user_id: str) -> None:
        service = self.service
        async with self.db.transaction() as conn:
            hosted = await self.store.offers_of_host(user_id)
            for offer in hosted:
                # Undelivered notices and edits about the offer quote the host's words; the
                # withdrawal below supersedes them.
                await conn.execute(
                    "DELETE FROM outbox WHERE status = 'pending' AND key LIKE ?",
                    (f"hosp:{offer.id}:%",),
                )
                if not offer.cancelled and not service.is_past(offer):
                    await service._cancel_offer(offer, "forgotten")
            for offer, _state in await self.store.seats_of_user(user_id):
                if not offer.cancelled and not service.is_past(offer):
                    await service._leave(offer, user_id, anonymous=True)
            await self.store.forget_participant(user_id)
            await self.store.wipe_host(user_id)
            # Our delivered messages quoted the host's words (announcements, notices):
            # blank those copies in the outbox; the queued ones above quote nothing.
            quoted = {
                text
                for offer in hosted
                for text in (offer.title, offer.description, offer.host_name)
                if text and len(text) >= MIN_SCRUB_LENGTH
            }
            for text in quoted:
                await conn.execute(
                    "UPDATE outbox SET payload = '{}' WHERE status != 'pending' "
                    "AND instr(payload, ?) > 0",
                    (text,),
                )
            for offer in hosted:
                await conn.execute(
                    "UPDATE outbox SET payload = '{}' WHERE status != 'pending' AND key LIKE ?",
                    (f"hosp:{offer.id}:%",),
                )


def _offer(offer: Offer) -> dict[str, Any]:
    when = offer.when
    return {
        "id": offer.id,
        "title": offer.title,
        "first_day": when.start_date.isoformat(),
        "last_day": when.end_date.isoformat(),
        "from": None if when.start_time is None else f"{when.start_time:%H:%M}",
        "to": None if when.end_time is None else f"{when.end_time:%H:%M}",
    }
