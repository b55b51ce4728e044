"""Bridge registry: who declared a working contact where, when they may be asked, and keeping
the claims fresh (reconfirmation reminders, expiry)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import CrisisConfig
from bot.domain.answers import YES_EMOJI
from bot.domain.availability import Availability, parse_availability
from bot.domain.contacts import ContactStatus, status, validate_contact
from bot.services.contact_vectors import contact_source
from bot.services.ports import Messenger, Say
from bot.services.vectors import VectorService
from bot.store.contacts import ContactStore, StoredContact
from bot.store.db import Database

# Typeable IDs: no 0/O, 1/I/L; upper case, 4 characters after the prefix.
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ID_LENGTH = 4
CONTACT_PREFIX = "K"

Clock = Callable[[], datetime]


def new_id(prefix: str, rng: random.Random) -> str:
    return prefix + "-" + "".join(rng.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalise_id(text: str, prefix: str) -> str | None:
    """`k-7kqx`, `K7KQX`, `7kqx` -> `K-7KQX`; None if it cannot be one of our IDs."""
    match = re.fullmatch(
        rf"(?:{re.escape(prefix)}\s*[-–_]?\s*)?([0-9A-Z]{{{ID_LENGTH}}})", text.strip().upper()
    )
    if match is None or any(ch not in ID_ALPHABET for ch in match[1]):
        return None
    return f"{prefix}-{match[1]}"


@dataclass(frozen=True)
class ContactView:
    contact: StoredContact
    status: ContactStatus
    confirmed: datetime


@dataclass(frozen=True)
class Declared:
    contact: StoredContact
    existed: bool


@dataclass(frozen=True)
class AvailabilityView:
    availability: Availability
    text: str
    is_default: bool


@dataclass(frozen=True)
class CheckResult:
    reminded: int
    expired: int


class ContactService:
    """Personal data owner for contacts and availability (section `crisis_contacts`)."""

    section = "crisis_contacts"

    def __init__(
        self,
        db: Database,
        messenger: Messenger,
        config: CrisisConfig,
        timezone: ZoneInfo,
        *,
        prefix: str = "!",
        clock: Clock | None = None,
        rng: random.Random | None = None,
        vectors: VectorService | None = None,
    ) -> None:
        self.db = db
        self.store = ContactStore(db)
        self.messenger = messenger
        self.config = config
        self.timezone = timezone
        self.prefix = prefix
        self.clock: Clock = clock or (lambda: datetime.now(timezone))
        self.rng = rng or random.SystemRandom()
        # Contacts are compared by meaning: a new contact is encoded right after it is
        # declared (the refresh job, woken here; safe inside a transaction).
        self.texts_changed: Callable[[], None] = lambda: None
        if vectors is not None:
            vectors.add_source(contact_source(self.store))
            self.texts_changed = lambda: vectors.wake()

    @property
    def reconfirm_after(self) -> timedelta:
        return timedelta(days=self.config.contact_reconfirm_days)

    @property
    def expire_after(self) -> timedelta:
        return timedelta(days=self.config.contact_expire_days)

    def _status(self, contact: StoredContact, now: datetime) -> ContactStatus:
        confirmed = datetime.fromtimestamp(contact.confirmed_at, self.timezone)
        return status(confirmed, now, self.reconfirm_after, self.expire_after)

    async def declare(self, user_id: str, organisation: str, sector: str) -> Declared:
        """Raises `ContactError` (from the domain) for anything that is not allowed."""
        declaration = validate_contact(organisation, sector, self.config.sectors)
        now = self.clock().timestamp()
        async with self.db.transaction("contacts.declare"):
            same = await self.store.find_same(user_id, declaration.organisation, declaration.sector)
            if same is not None:
                # Declaring it again is a reconfirmation, not a second claim.
                await self.store.confirm(same.id, user_id, now)
                return Declared(same, existed=True)
            while True:
                contact = StoredContact(
                    new_id(CONTACT_PREFIX, self.rng),
                    user_id,
                    declaration.organisation,
                    declaration.sector,
                    now,
                    now,
                )
                if await self.store.add(contact):
                    self.texts_changed()
                    return Declared(contact, existed=False)

    async def list_own(self, user_id: str) -> list[ContactView]:
        now = self.clock()
        return [
            ContactView(c, self._status(c, now), datetime.fromtimestamp(c.confirmed_at, now.tzinfo))
            for c in await self.store.of_user(user_id)
        ]

    async def delete(self, user_id: str, contact_id: str) -> str | None:
        """The deleted ID, or None if the person has no contact with this ID (someone else's
        ID looks exactly like an unknown one)."""
        normalised = normalise_id(contact_id, CONTACT_PREFIX)
        if normalised is None or not await self.store.delete(normalised, user_id):
            return None
        self.texts_changed()  # its vector goes too
        return normalised

    async def confirm(self, user_id: str, contact_id: str) -> StoredContact | None:
        normalised = normalise_id(contact_id, CONTACT_PREFIX)
        if normalised is None:
            return None
        async with self.db.transaction("contacts.confirm"):
            if not await self.store.confirm(normalised, user_id, self.clock().timestamp()):
                return None
            return await self.store.get(normalised)

    async def set_availability(self, user_id: str, text: str) -> Availability:
        """Raises `AvailabilityError` (from the domain) if the window cannot be read."""
        cleaned = " ".join(text.split())
        availability = parse_availability(cleaned)
        await self.store.set_availability(user_id, cleaned, self.clock().timestamp())
        return availability

    async def availability(self, user_id: str) -> AvailabilityView:
        text = await self.store.availability(user_id)
        if text is None:
            default = self.config.default_availability
            return AvailabilityView(parse_availability(default), default, True)
        return AvailabilityView(parse_availability(text), text, False)

    async def live_contacts(self, now: datetime) -> list[StoredContact]:
        """Contacts that have not expired, grouped by person."""
        return await self.store.confirmed_since((now - self.expire_after).timestamp())

    async def availability_of(self, user_ids: Sequence[str]) -> dict[str, Availability]:
        """Every person's window; the configured default for those who never set one."""
        texts = await self.store.availabilities(list(user_ids))
        default = parse_availability(self.config.default_availability)
        parsed: dict[str, Availability] = {}
        for user_id in user_ids:
            text = texts.get(user_id)
            try:
                parsed[user_id] = default if text is None else parse_availability(text)
            except ValueError:
                parsed[user_id] = default
        return parsed

    async def live_per_sector(self, now: datetime) -> dict[str, int]:
        return await self.store.live_per_sector((now - self.expire_after).timestamp())

    async def check_contacts(self) -> CheckResult:
        """The daily job: remind of contacts due for reconfirmation, let unconfirmed ones
        expire. Idempotent: effect keys carry the confirmation time they refer to."""
        now = self.clock()
        reminded = expired = 0
        due = await self.store.confirmed_before((now - self.reconfirm_after).timestamp())
        for contact in due:
            stamp = int(contact.confirmed_at)
            params: dict[str, object] = {
                "id": contact.id,
                "organisation": contact.organisation,
                "sector": contact.sector,
                "prefix": self.prefix,
            }
            async with self.db.transaction("contacts.check_contacts"):
                if self._status(contact, now) == "expired":
                    await self.store.delete(contact.id, contact.user_id)
                    await self.messenger.tell(
                        contact.user_id,
                        Say("contacts.expired_note", params),
                        effect_key=f"contact:{contact.id}:expired:{stamp}",
                    )
                    expired += 1
                elif contact.reminded_at is None:
                    until = datetime.fromtimestamp(contact.confirmed_at, now.tzinfo)
                    until += self.expire_after
                    await self.store.mark_reminded(contact.id, now.timestamp())
                    await self.messenger.tell(
                        contact.user_id,
                        Say("contacts.reconfirm", {**params, "until": until.strftime("%d.%m.%Y")}),
                        effect_key=f"contact:{contact.id}:reconfirm:{stamp}",
                        reactions=("👍",),
                    )
                    reminded += 1
        return CheckResult(reminded, expired)

    async def on_reaction(self, user_id: str, target_key: str, emoji: str) -> StoredContact | None:
        """A 👍 on a reconfirmation reminder; the confirmed contact, or None if it was not."""
        parts = target_key.split(":")
        if len(parts) != 4 or parts[0] != "contact" or parts[2] != "reconfirm":
            return None
        if emoji not in YES_EMOJI:
            return None
        return await self.confirm(user_id, parts[1])

    # -- personal data ---------------------------------------------------------------------

    async def export(self, user_id: str) -> dict[str, Any]:
        availability = await self.store.availability(user_id)
        contacts = await self.store.of_user(user_id)
        return {
            "availability": availability,
            "contacts": [
                {
                    "id": c.id,
                    "organisation": c.organisation,
                    "sector": c.sector,
                    "declared": datetime.fromtimestamp(c.created_at, self.timezone).isoformat(),
                    "last_confirmed": datetime.fromtimestamp(
                        c.confirmed_at, self.timezone
                    ).isoformat(),
                }
                for c in contacts
            ],
        }

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        await self.store.forget(user_id)
