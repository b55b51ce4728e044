"""What the host hears of sign-ups and cancellations, and when the announcements are edited.

Each offer has a token bucket (`hospitation.notify_burst`, one token back every
`notify_window_s`): a change is told at once, one notice to the host and one edit of every
announcement, while there are tokens. Beyond that the changes are only counted, and as soon
as a token is back they go out as one digest to the host and one edit showing the places
by then (review finding S-11: 25 sign-ups and cancellations made 50 DMs and 50 edits). The
bucket and the counts live in the store, so a restart neither loses a digest nor sends one
twice; the effect keys carry the offer's version, which every change bumps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.domain.token_bucket import Rate, TokenBucket
from bot.services.hospitation_messages import host_digest
from bot.services.ports import Say
from bot.store.hospitation_limits import NoticeBudget
from bot.store.hospitation_rows import HospitationOffer

if TYPE_CHECKING:
    from bot.services.hospitations import HospitationService

# How often the job looks for counted changes whose token is back (a digest is late by at
# most this much).
TICK_S = 5.0


class HostNotices:
    def __init__(self, service: HospitationService) -> None:
        self.service = service
        self.store = service.store
        settings = service.settings
        self.rate = Rate(settings.notify_burst, 1 / settings.notify_window_s)

    async def changed(
        self, offer: HospitationOffer, version: int, host_say: Say, *, joined: bool
    ) -> None:
        """One change of places, inside its transaction; `host_say` tells it on its own."""
        now = self.service.now().timestamp()
        budget = await self.store.notice_budget(offer.id) or NoticeBudget(
            offer.id, self.rate.burst, now
        )
        if not budget.untold:
            bucket = self._bucket(budget)
            if bucket.take(now).allowed:
                if offer.host is not None:
                    await self.service.messenger.tell(
                        offer.host, host_say, effect_key=f"hosp:{offer.id}:v{version}:host"
                    )
                await self.service.update_announcements(offer.id)
                await self._save(budget, bucket)
                return
        counted = replace(budget, joined=budget.joined + joined, left=budget.left + (not joined))
        await self.store.save_notice_budget(counted)
        await self.tell_untold(offer.id, now)

    async def tell_untold(self, offer_id: str, now: float) -> bool:
        """The digest and the edit for the counted changes, if a token is back. True if
        a digest went out."""
        budget = await self.store.notice_budget(offer_id)
        if budget is None or not budget.untold:
            return False
        bucket = self._bucket(budget)
        if not bucket.take(now).allowed:
            return False
        offer = await self.store.offer(offer_id)
        told = offer is not None and not offer.cancelled and offer.host is not None
        if told:
            # Withdrawing and forgetting edit the announcements and tell people themselves.
            assert offer is not None and offer.host is not None
            service = self.service
            seats = await self.store.seats(offer.id, offer.capacity)
            await service.messenger.tell(
                offer.host,
                host_digest(offer, seats, budget.joined, budget.left, service.prefix),
                effect_key=f"hosp:{offer.id}:v{offer.version}:digest",
            )
            await service.update_announcements(offer.id)
        await self._save(budget, bucket)
        return told

    async def run_due(self) -> None:
        """The job: tell the counted changes whose token is back."""
        now = self.service.now().timestamp()
        for offer_id in await self.store.offers_with_untold_changes():
            async with self.service.db.transaction("hospitation_notices.run_due"):
                await self.tell_untold(offer_id, now)

    def _bucket(self, budget: NoticeBudget) -> TokenBucket:
        return TokenBucket(self.rate, budget.tokens, budget.updated_at)

    async def _save(self, budget: NoticeBudget, bucket: TokenBucket) -> None:
        """The bucket after a notice or digest; nothing is untold any more."""
        await self.store.save_notice_budget(
            NoticeBudget(budget.offer_id, bucket.tokens, bucket.updated_at)
        )
