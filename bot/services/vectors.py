"""Embedding vectors of what people wrote: computed when a text changes, stored, reused.

Each feature registers a `VectorSource`: a kind ("profile", "contact", ...), whether its texts
are the asking side ("query: ") or the searched side ("passage: "), and a function that reads
its current texts, already cut into phrases. `refresh` (a scheduled job, woken after every
change) compares a hash of each text with the stored one, encodes what is new or changed on the
encoder's worker thread, and writes the vectors in short transactions; rows whose owner is gone
are deleted. A round, a routing step or a search then only reads stored vectors, and a text
whose vectors are not ready yet is compared by its words for that once.

Request-time texts (a crisis request, a search) are encoded with `encode`, outside any store
transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.services.encoder import Encoder
from bot.store.db import Database
from bot.store.vectors import VectorRow, VectorStore

log = logging.getLogger(__name__)

# Phrases encoded at once in the background: the engine's batching pays off up to about this
# (measured: 64 phrases per call ~1.8x the throughput of 16). Request-time encodes do not
# wait for a batch; they run on a thread of their own (bot.services.encoder).
BATCH_PHRASES = 64
# Distinct phrases kept during one refresh run (~1.5 KB each).
_PHRASE_CACHE = 20_000
_PROGRESS_EVERY_S = 10.0
_PROGRESS_MIN_TEXTS = 50

Vectors = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SourceText:
    user_id: str | None  # whose text it is (erasure, export); None for texts of nobody
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VectorSource:
    kind: str
    query: bool  # "query: " prefix (the asking side, or both sides of a symmetric comparison)
    texts: Callable[[], Awaitable[Mapping[str, SourceText]]]


def text_hash(model: str, query: bool, phrases: Sequence[str]) -> str:
    prefix = "query" if query else "passage"
    digest = hashlib.sha256("\n".join([model, prefix, *phrases]).encode("utf-8"))
    return digest.hexdigest()[:32]


class VectorService:
    """Keeps the stored vectors in step with the texts; the personal-data owner of them."""

    section = "text_vectors"

    def __init__(
        self,
        db: Database,
        encoder: Encoder | None,
        *,
        batch_phrases: int = BATCH_PHRASES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.encoder = encoder
        self.store = VectorStore(db, encoder.dimensions if encoder else 0)
        self.sources: dict[str, VectorSource] = {}
        self.batch_phrases = batch_phrases
        self.clock = clock
        # Set by the hub: makes the scheduler run `refresh` now (safe inside a transaction).
        self.wake: Callable[[], None] = lambda: None
        self.ready = encoder is None  # True once a refresh found nothing left to encode

    @property
    def available(self) -> bool:
        return self.encoder is not None

    @property
    def model(self) -> str:
        return self.encoder.model_id if self.encoder else ""

    def add_source(self, source: VectorSource) -> None:
        self.sources[source.kind] = source

    # -- reading -------------------------------------------------------------------------

    async def vectors(self, kind: str, texts: Mapping[str, tuple[str, ...]]) -> dict[str, Vectors]:
        """Owner -> stored phrase vectors, only where they belong to exactly these phrases."""
        if self.encoder is None or not texts:
            return {}
        query = self.sources[kind].query
        stored = await self.store.load(kind, list(texts), self.model)
        return {
            owner: vectors
            for owner, (digest, vectors) in stored.items()
            if owner in texts and digest == text_hash(self.model, query, texts[owner])
        }

    async def encode(self, texts: Sequence[str], *, query: bool) -> Vectors | None:
        """Vectors for texts that are not stored (a request, a search); None without a model.

        Never call this inside a store transaction: it waits for the encoder thread.
        """
        if self.encoder is None:
            return None
        return await self.encoder.encode(list(texts), query=query)

    # -- keeping them current ------------------------------------------------------------

    async def refresh_job(self) -> None:
        await self.refresh()

    async def refresh(self) -> int:
        """Encode every new or changed text, drop vectors of texts that are gone; how many
        texts were encoded. Runs until nothing is left, so a change made meanwhile is caught."""
        if self.encoder is None:
            return 0
        total = 0
        while True:
            done = 0
            for source in list(self.sources.values()):
                done += await self._refresh(source)
            total += done
            if done == 0:
                self.ready = True
                return total

    async def refresh_kind(self, kind: str) -> int:
        """Encode the new or changed texts of one source now, for someone who waits for them
        (at the encoder's normal priority); how many texts were encoded."""
        if self.encoder is None or kind not in self.sources:
            return 0
        return await self._refresh(self.sources[kind], background=False)

    async def _refresh(self, source: VectorSource, background: bool = True) -> int:
        assert self.encoder is not None
        current = await source.texts()
        stored = await self.store.hashes(source.kind)
        gone = [owner for owner in stored if owner not in current]
        if gone:
            await self.store.delete(source.kind, gone)
        todo = [
            (owner, text, digest)
            for owner, text in current.items()
            if text.phrases
            and stored.get(owner) != (digest := text_hash(self.model, source.query, text.phrases))
        ]
        empty = [o for o, t in current.items() if not t.phrases and o in stored]
        if empty:
            await self.store.delete(source.kind, empty)
        if not todo:
            return 0
        progress = _Progress(source.kind, len(todo), self.clock)
        # Topics and stock phrases recur across people: each distinct phrase once per run.
        known: dict[str, Vectors] = {}
        for batch in _batches(todo, self.batch_phrases, known):
            fresh = list(dict.fromkeys(p for _, t, _ in batch for p in t.phrases if p not in known))
            if len(known) + len(fresh) > _PHRASE_CACHE:
                known.clear()
                fresh = list(dict.fromkeys(p for _, t, _ in batch for p in t.phrases))
            matrix = await self.encoder.encode(fresh, query=source.query, background=background)
            known.update(zip(fresh, matrix, strict=True))
            rows = [
                VectorRow(
                    source.kind,
                    owner,
                    text.user_id,
                    digest,
                    np.stack([known[p] for p in text.phrases]),
                )
                for owner, text, digest in batch
            ]
            await self.store.put_many(rows, self.model, self.clock())
            progress.advance(len(batch))
        progress.finish()
        return len(todo)

    # -- personal data -------------------------------------------------------------------

    async def export(self, user_id: str) -> dict[str, Any]:
        """Vectors are numbers derived from the texts exported elsewhere; say which exist."""
        return {"computed_for": await self.store.count_of_user(user_id)}

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        await self.store.forget_user(user_id)


def _batches(
    todo: list[tuple[str, SourceText, str]], phrases: int, known: Mapping[str, Vectors]
) -> Iterator[list[tuple[str, SourceText, str]]]:
    """Consecutive owners whose phrases not encoded yet number about `phrases`.

    A generator: `known` grows while the caller encodes, so later batches count only what is
    really new."""
    batch: list[tuple[str, SourceText, str]] = []
    new: set[str] = set()
    for item in todo:
        own = {p for p in item[1].phrases if p not in known}
        if batch and len(new | own) > phrases:
            yield batch
            batch, new = [], set()
            own = {p for p in item[1].phrases if p not in known}
        batch.append(item)
        new |= own
    if batch:
        yield batch


class _Progress:
    """Progress of a large encoding run on the console: share done and time left."""

    def __init__(self, kind: str, total: int, clock: Callable[[], float]) -> None:
        self.kind, self.total, self.clock = kind, total, clock
        self.done = 0
        self.started = self.last = clock()
        self.loud = total >= _PROGRESS_MIN_TEXTS
        if self.loud:
            log.info("encoding %d %s texts for the similarity search", total, kind)

    def advance(self, count: int) -> None:
        self.done += count
        now = self.clock()
        if self.loud and now - self.last >= _PROGRESS_EVERY_S and self.done < self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            log.info(
                "encoding %s texts: %d/%d (%d %%), about %s left",
                self.kind,
                self.done,
                self.total,
                100 * self.done // self.total,
                _duration((self.total - self.done) / rate),
            )

    def finish(self) -> None:
        if self.loud:
            seconds = self.clock() - self.started
            log.info(
                "encoded %d %s texts in %s (%.0f per second)",
                self.total,
                self.kind,
                _duration(seconds),
                self.total / max(seconds, 1e-9),
            )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
