"""The meaning side of crisis routing: bridge contacts and requests as texts to encode.

A contact is encoded as "organisation | sector" (`contact_meaning_text`, "query: " prefix, as
a request is) when it is declared. Each sector's description is cut into phrases and encoded
as passages; the example requests of bot/data/crisis_sector_examples.yaml as queries, those of
a configured sector as part of its pool and all of them as the reference of typical crisis
requests; the glossary of organisation kinds comes with shipped vectors
(bot.services.organisation_kinds). They live in memory, encoded once per configuration
(`Background`). The fit is the lift of bot.domain.crisis_meaning. A request is encoded once,
right after `!werkennt` committed, outside any store transaction, and its vector is stored so
that the later steps (tier 2 after a "no", the broadcast) only read it; contacts declared
since the vector refresh last ran are encoded at the same moment.

Without the model (`VectorService.available` false) nothing here encodes and every fit falls
back to the words.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from bot.config.features import Sector
from bot.domain.crisis_meaning import OrganisationKinds, kind_lifts, lifts
from bot.domain.phrases import MAX_PHRASES, split_phrases
from bot.services.organisation_kinds import (
    KINDS_FILE,
    Glossary,
    kinds_in,
    shipped_kind_vectors,
)
from bot.services.vectors import SourceText, VectorService, VectorSource, text_hash
from bot.store.contacts import ContactStore, StoredContact
from bot.store.crisis import CrisisStore, StoredRequest, is_former
from bot.store.db import StoreUnavailable
from bot.store.vectors import VectorRow

log = logging.getLogger(__name__)

CONTACT_KIND = "contact"
REQUEST_KIND = "crisis_request"
EXAMPLES_FILE = Path(__file__).resolve().parent.parent / "data" / "crisis_sector_examples.yaml"

Vectors = NDArray[np.float32]


def sector_descriptions(sectors: Sequence[str]) -> dict[str, str]:
    """Sector name -> its configured one-line description ("" if none)."""
    return {str(s): s.description if isinstance(s, Sector) else "" for s in sectors}


def contact_text(contact: StoredContact, descriptions: Mapping[str, str]) -> str:
    """What a contact means: "Spedition Kühne | Logistik: Transport, Fahrzeuge, …"."""
    base = f"{contact.organisation} | {contact.sector}"
    description = descriptions.get(contact.sector, "")
    return f"{base}: {description}" if description else base


def contact_meaning_text(contact: StoredContact) -> str:
    """What is encoded of a contact: "Spedition Kühne | Logistik"."""
    return f"{contact.organisation} | {contact.sector}"


def sector_phrases(name: str, description: str) -> tuple[str, ...]:
    """The sector's name and each item of its description ("Transport, Kühlfahrzeuge, …";
    "Kirchen- und Moscheegemeinden" counts as two), each encoded on its own."""
    items = description.replace(":", ",").replace(" und ", ", ")
    return (name, *split_phrases(items))[: MAX_PHRASES + 1]


def contact_source(store: ContactStore) -> VectorSource:
    async def texts() -> Mapping[str, SourceText]:
        return {c.id: SourceText(c.user_id, (contact_meaning_text(c),)) for c in await store.all()}

    return VectorSource(CONTACT_KIND, query=True, texts=texts)


@dataclass(frozen=True)
class Background:
    """Vectors of the sectors' description phrases (`sectors`), per sector its pool (example
    requests, if it has some, and description phrases), every example request as the
    reference, and the organisation kinds."""

    sectors: dict[str, Vectors]
    pools: dict[str, Vectors]
    reference: Vectors
    kinds: OrganisationKinds


@functools.cache
def sector_examples() -> dict[str, tuple[str, ...]]:
    """Sector name -> example requests for it (the default sectors have some)."""
    loaded = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))
    return {str(name): tuple(map(str, texts)) for name, texts in loaded.items()}


def reference_requests() -> list[str]:
    """Typical crisis requests: every example request of every sector."""
    return [text for texts in sector_examples().values() for text in texts]


def sector_pools(phrases: Mapping[str, Vectors], reference: Vectors) -> dict[str, Vectors]:
    """Per sector its example requests' vectors (rows of `reference`, in the order of
    `reference_requests`), if it has some, followed by its description phrases' vectors."""
    rows: dict[str, Vectors] = {}
    at = 0
    for name, texts in sector_examples().items():
        rows[name] = reference[at : at + len(texts)]
        at += len(texts)
    return {
        name: np.concatenate([rows[name], own]) if name in rows else own
        for name, own in phrases.items()
    }


def request_phrases(text: str) -> tuple[str, ...]:
    return (text,) if text.strip() else ()


def request_source(store: CrisisStore) -> VectorSource:
    """Active requests: the background refresh encodes one the routing has not encoded yet
    (after a restart) and drops the vectors of finished requests."""

    async def texts() -> Mapping[str, SourceText]:
        return {
            request_id: SourceText(
                None if requester is None or is_former(requester) else requester,
                request_phrases(text),
            )
            for request_id, (requester, text) in (await store.active_texts()).items()
        }

    return VectorSource(REQUEST_KIND, query=True, texts=texts)


@dataclass(frozen=True)
class ContactLifts:
    """Per contact ID: `fit`, the whole lift (what ranks the contacts), and `need`, the lift
    without the organisation kinds (what judges whether the request names a need at all:
    `bot.domain.crisis_meaning.weak_lift`). Empty without vectors."""

    fit: dict[str, float]
    need: dict[str, float]


class CrisisVectors:
    """Stored vectors of contacts and requests for the routing; nothing without the model."""

    def __init__(
        self,
        vectors: VectorService | None,
        clock: Callable[[], float],
        sectors: Sequence[str] = (),
        own_kinds: Path | None = None,
    ) -> None:
        self.vectors = vectors
        self.clock = clock
        self.sectors = sectors
        self.own_kinds = own_kinds
        self._background: tuple[tuple[tuple[str, str], ...], Background] | None = None

    @property
    def available(self) -> bool:
        return self.vectors is not None and self.vectors.available

    async def lifts(self, query: Vectors, contacts: Sequence[StoredContact]) -> ContactLifts:
        """The lifts for the request (`bot.domain.crisis_meaning`) of every contact whose
        vector is stored. Encodes nothing (safe inside a transaction): `query` prepared the
        background."""
        background = self._cached()
        if self.vectors is None or background is None or not contacts:
            return ContactLifts({}, {})
        texts = {c.id: (contact_meaning_text(c),) for c in contacts}
        stored = await self.vectors.vectors(CONTACT_KIND, texts)
        known = [c for c in contacts if c.id in stored]
        if not known:
            return ContactLifts({}, {})
        organisations = np.concatenate([stored[c.id] for c in known])
        need = lifts(
            query,
            organisations,
            [c.sector for c in known],
            background.pools,
            background.reference,
        )
        names = [c.organisation for c in known]
        fit = need + kind_lifts(query, organisations, names, background.kinds)
        return ContactLifts(
            {c.id: float(v) for c, v in zip(known, fit, strict=True)},
            {c.id: float(v) for c, v in zip(known, need, strict=True)},
        )

    def _described(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(sector_descriptions(self.sectors).items()))

    def _cached(self) -> Background | None:
        if self._background is None or self._background[0] != self._described():
            return None
        return self._background[1]

    async def background(self) -> Background | None:
        """The sector and reference vectors for this configuration, encoded once. Waits for
        the encoder the first time: never call it inside a store transaction."""
        if self.vectors is None or not self.available:
            return None
        cached = self._cached()
        if cached is not None:
            return cached
        described = self._described()
        phrases = {name: sector_phrases(name, text) for name, text in described}
        flat = [p for group in phrases.values() for p in group]
        encoded = await self.vectors.encode(flat, query=False)
        reference = await self.vectors.encode(reference_requests(), query=True)
        kinds = None if reference is None else await self._kinds(reference)
        if encoded is None or reference is None or kinds is None:
            return None
        by_sector, at = {}, 0
        for name, group in phrases.items():
            by_sector[name] = encoded[at : at + len(group)]
            at += len(group)
        background = Background(by_sector, sector_pools(by_sector, reference), reference, kinds)
        self._background = (described, background)
        return background

    async def _kinds(self, reference: Vectors) -> OrganisationKinds | None:
        """The shipped glossary of organisation kinds with its shipped vectors (encoded here,
        once and slowly, if they do not fit the model or the glossary), followed by the
        operator's own kinds (`crisis.organisation_kinds`), encoded here."""
        assert self.vectors is not None
        shipped = kinds_in(KINDS_FILE)
        vectors = shipped_kind_vectors(self.vectors.model)
        if vectors is None:
            log.warning(
                "the shipped vectors of the organisation kinds do not fit model %s or the "
                "glossary: encoding it once",
                self.vectors.model,
            )
            vectors = await self._encoded(Glossary.of(shipped))
        if vectors is None:
            return None
        own = kinds_in(self.own_kinds) if self.own_kinds is not None else ()
        if own:
            added = await self._encoded(Glossary.of(own))
            if added is None:
                return None
            vectors = (
                np.concatenate([vectors[0], added[0]]),
                np.concatenate([vectors[1], added[1]]),
            )
        # Fitting the kinds' request space takes a few tenths of a second: off the event loop.
        return await asyncio.to_thread(Glossary.of((*shipped, *own)).kinds, vectors, reference)

    async def _encoded(self, texts: Glossary) -> tuple[Vectors, Vectors] | None:
        assert self.vectors is not None
        names = await self.vectors.encode(texts.names, query=True)
        requests = await self.vectors.encode(texts.requests, query=True)
        if names is None or requests is None:
            return None
        return names, requests

    async def _contacts_ready(self) -> None:
        """Contacts without a vector would be compared by their words only, and the lifts of
        the others, taken relative to the best of them, could put a contact that fits by
        meaning alone level with one whose name was asked for. Usually the refresh encoded
        them within a second of `!kontakt`; when it is busy (an import, a first start),
        the request encodes them itself."""
        if self.vectors is None or not self.available:
            return
        try:
            encoded = await self.vectors.refresh_kind(CONTACT_KIND)
        except StoreUnavailable:
            raise  # the routing tick waits for the store; not a failure of the encoder
        except Exception:
            log.exception("could not encode the contacts declared since the last refresh")
            return
        if encoded:
            log.info("encoded %d contacts for a crisis request", encoded)

    async def stored_query(self, req: StoredRequest) -> Vectors | None:
        """The request's stored vector; None without the model, or if it is not stored yet or
        the background is not encoded yet (then only `query`, outside a transaction, helps)."""
        phrases = request_phrases(req.text)
        if self.vectors is None or not self.available or not phrases or self._cached() is None:
            return None
        return (await self.vectors.vectors(REQUEST_KIND, {req.id: phrases})).get(req.id)

    async def query(self, req: StoredRequest) -> Vectors | None:
        """The request's vector: stored, or encoded now and stored; the background and the
        vectors of contacts declared since the last refresh too. Waits for the encoder: never
        call this inside a store transaction."""
        try:
            await self.background()
        except Exception:
            log.exception("could not encode the sector descriptions")
            return None
        await self._contacts_ready()
        stored = await self.stored_query(req)
        if stored is not None or self.vectors is None or not self.available:
            return stored
        phrases = request_phrases(req.text)
        if not phrases:
            return None
        try:
            matrix = await self.vectors.encode(phrases, query=True)
        except Exception:
            # The words still route the request; the refresh job tries again.
            log.exception("could not encode crisis request %s", req.id)
            return None
        if matrix is None:
            return None
        owner = None if is_former(req.requester) else req.requester
        digest = text_hash(self.vectors.model, True, phrases)
        await self.vectors.store.put_many(
            [VectorRow(REQUEST_KIND, req.id, owner, digest, matrix)],
            self.vectors.model,
            self.clock(),
        )
        return matrix
