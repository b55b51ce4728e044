"""The guided `!hospitation anbieten`: title, date, places, description, one at a time.

The state lives in `hospitation_dialogs`, written in the same transaction as the answer
that moved it, so a restart continues the dialog. `abbrechen` (or `cancel`) ends it.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.dates import DateError, parse_when
from bot.domain.hospitation import (
    PLACES_MAX,
    PLACES_MIN,
    TITLE_MAX,
    OfferDraft,
    OfferError,
    OfferErrorCode,
    parse_offer,
)
from bot.services.hospitation_messages import example_dates
from bot.services.hospitations import HospitationService
from bot.services.ports import Say
from bot.store.hospitation_rows import HospitationDialog

CANCEL_WORDS = frozenset({"abbrechen", "abbruch", "stopp", "stop", "cancel", "abort"})
NO_DESCRIPTION = frozenset({"-", "–", "keine", "nein", "ohne", "none", "no", "nothing"})


class OfferDialog:
    def __init__(self, service: HospitationService) -> None:
        self.service = service
        self.store = service.store
        self.db = service.db

    def _ask(self, step: str, **params: object) -> Say:
        limits = {"places_min": PLACES_MIN, "places_max": PLACES_MAX}
        examples = example_dates(self.service.today())
        return Say(
            f"hosp.dialog.ask_{step}",
            {"prefix": self.service.prefix, **limits, **examples, **params},
        )

    async def start(self, user_id: str) -> Say:
        now = self.service.now().timestamp()
        await self.store.save_dialog(HospitationDialog(user_id, "title", None, None, None, now))
        return self._ask("title")

    async def is_open(self, user_id: str) -> bool:
        return await self._current(user_id) is not None

    async def _current(self, user_id: str) -> HospitationDialog | None:
        dialog = await self.store.dialog(user_id)
        if dialog is None:
            return None
        age_h = (self.service.now().timestamp() - dialog.updated_at) / 3600
        if age_h > self.service.settings.dialog_timeout_h:
            await self.store.delete_dialog(user_id)
            return None
        return dialog

    async def answer(self, user_id: str, text: str) -> list[Say] | None:
        """The replies to a DM line, or None when this person has no offer dialog open."""
        async with self.db.transaction("hospitation_dialog.answer"):
            dialog = await self._current(user_id)
            if dialog is None:
                return None
            text = text.strip()
            if text.casefold() in CANCEL_WORDS:
                await self.store.delete_dialog(user_id)
                return [Say("hosp.dialog.cancelled", {"prefix": self.service.prefix})]
            return await self._step(dialog, text)

    async def _step(self, dialog: HospitationDialog, text: str) -> list[Say]:
        service = self.service
        moved = replace(dialog, updated_at=service.now().timestamp())
        if dialog.step == "title":
            title = " ".join(text.split())
            if not title:
                return [
                    service.offer_error(OfferError(OfferErrorCode.EMPTY_TITLE)),
                    self._ask("title"),
                ]
            if len(title) > TITLE_MAX:
                error = OfferError(OfferErrorCode.TITLE_TOO_LONG, str(len(title)))
                return [service.offer_error(error), self._ask("title")]
            await self.store.save_dialog(replace(moved, step="date", title=title))
            return [self._ask("date", title=title)]
        if dialog.step == "date":
            when = parse_when(text, service.today())
            if isinstance(when, DateError):
                error = OfferError(when.code, when.fragment)
                return [service.offer_error(error), self._ask("date", title=dialog.title)]
            await self.store.save_dialog(replace(moved, step="places", when_text=text))
            return [self._ask("places")]
        parts = [dialog.title or "", dialog.when_text or "", dialog.places or text]
        if dialog.step == "description" and text.casefold() not in NO_DESCRIPTION:
            parts.append(text)
        result = parse_offer(parts, service.today())
        if isinstance(result, OfferError):
            return await self._refused(dialog, moved, result)
        if dialog.step == "places":
            await self.store.save_dialog(replace(moved, step="description", places=text))
            return [self._ask("description")]
        await self.store.delete_dialog(dialog.user_id)
        return [await self._create(dialog.user_id, result)]

    async def _refused(
        self, dialog: HospitationDialog, moved: HospitationDialog, error: OfferError
    ) -> list[Say]:
        if str(error.code).startswith("date_"):
            # The day went by while the dialog was open: ask for the date again.
            await self.store.save_dialog(replace(moved, step="date", when_text=None, places=None))
            return [self.service.offer_error(error), self._ask("date", title=dialog.title)]
        return [self.service.offer_error(error), self._ask(dialog.step)]

    async def _create(self, user_id: str, draft: OfferDraft) -> Say:
        offer = await self.service.create_offer(user_id, draft)
        return offer if isinstance(offer, Say) else self.service.offered(offer)
