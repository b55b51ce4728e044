"""Stored embedding vectors: computed once per text, current or not used, erasable.

Runs the real model (it loads in a fraction of a second)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bot.services.encoder import E5Encoder
from bot.services.profile_vectors import profile_documents, profile_source
from bot.services.vectors import VectorService
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.encoders import CountingEncoder, bundled_encoder

ANNA = "@anna:rathaus.example"
BEN = "@ben:rathaus.example"


@pytest.fixture
def encoder() -> E5Encoder:
    return bundled_encoder()


async def _service(db: Database, encoder: E5Encoder) -> tuple[VectorService, ProfileRepository]:
    repo = ProfileRepository(db)
    service = VectorService(db, encoder)
    service.add_source(profile_source(repo))
    return service, repo


async def test_a_round_reads_vectors_only_for_the_text_they_were_computed_from(
    db: Database, encoder: E5Encoder
) -> None:
    service, repo = await _service(db, encoder)
    await repo.create(ANNA, 0)
    await repo.update(ANNA, 0, tasks="Vergabe von Kita-Plätzen; Elternberatung")
    await repo.create(BEN, 0)  # no tasks: nothing to encode
    assert await service.refresh() == 1
    assert await service.refresh() == 0  # nothing changed, nothing encoded again

    docs = await profile_documents(service, await repo.all())
    by_text = {d.text: d for d in docs}
    anna = by_text["Vergabe von Kita-Plätzen; Elternberatung"]
    assert anna.vectors is not None and anna.vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(anna.vectors, axis=1), 1.0, atol=1e-3)
    assert by_text[""].vectors is None

    # An edited text is compared by words until its new vectors are stored.
    await repo.update(ANNA, 1, tasks="Bauanträge prüfen")
    (stale,) = [d for d in await profile_documents(service, await repo.all()) if d.text]
    assert stale.vectors is None
    assert await service.refresh() == 1
    (fresh,) = [d for d in await profile_documents(service, await repo.all()) if d.text]
    assert fresh.vectors is not None and fresh.vectors.shape == (1, 384)


async def test_meaning_not_spelling(db: Database, encoder: E5Encoder) -> None:
    service = VectorService(db, encoder)
    vectors = await service.encode(
        [
            "Kita-Plätze vergeben",
            "Betreuungsplätze in Kindertagesstätten vermitteln",
            "Hundesteuer veranlagen",
        ],
        query=True,
    )
    assert vectors is not None
    kita, paraphrase, other = vectors  # the paraphrase shares no word with the first text
    assert float(kita @ paraphrase) > float(kita @ other) + 0.02


async def test_vectors_of_a_deleted_text_are_deleted(db: Database, encoder: E5Encoder) -> None:
    service, repo = await _service(db, encoder)
    await repo.create(ANNA, 0)
    await repo.update(ANNA, 0, tasks="Wohngeldanträge bearbeiten")
    await service.refresh()
    await repo.delete(ANNA)
    await service.refresh()
    assert await db.fetchall("SELECT * FROM text_vectors") == []


async def test_forget_and_export(db: Database, encoder: E5Encoder) -> None:
    service, repo = await _service(db, encoder)
    for user in (ANNA, BEN):
        await repo.create(user, 0)
        await repo.update(user, 0, tasks="Gewerbeanmeldungen bearbeiten")
    await service.refresh()
    assert await service.export(ANNA) == {"computed_for": {"profile": 1}}
    await service.forget(ANNA)
    assert await service.export(ANNA) == {"computed_for": {}}
    rows = await db.fetchall("SELECT user_id FROM text_vectors")
    assert [r["user_id"] for r in rows] == [BEN]


async def test_without_the_model_everything_is_compared_by_words(db: Database) -> None:
    service = VectorService(db, None)
    service.add_source(profile_source(ProfileRepository(db)))
    assert not service.available
    assert await service.refresh() == 0
    assert await service.encode(["x"], query=True) is None
    assert await service.vectors("profile", {ANNA: ("Wohngeld",)}) == {}


async def test_a_phrase_many_people_share_is_encoded_once(db: Database, encoder: E5Encoder) -> None:
    counting = CountingEncoder(encoder)
    repo = ProfileRepository(db)
    service = VectorService(db, counting, batch_phrases=4)
    service.add_source(profile_source(repo))
    for i in range(30):
        user = f"@p{i}:rathaus.example"
        await repo.create(user, 0)
        await repo.update(user, 0, tasks=f"Aufgabe Nummer {i}", topics=("Digitalisierung",))
    assert await service.refresh() == 30
    assert counting.background and all(counting.background), "stored texts: in the background"
    assert counting.texts.count("Digitalisierung") == 1
    assert sorted(counting.texts) == sorted({*counting.texts})
    stored = await service.vectors(
        "profile", {"@p7:rathaus.example": ("Aufgabe Nummer 7", "Digitalisierung")}
    )
    (vectors,) = stored.values()
    assert vectors.shape == (2, 384)


async def test_waiting_and_background_encodes_may_run_at_once(encoder: E5Encoder) -> None:
    """The two worker threads share one model: results must not depend on overlap."""
    texts = [f"Anträge auf Wohngeld Nummer {i} prüfen" for i in range(48)]
    alone = await encoder.encode(texts, query=True)
    together = await asyncio.gather(
        encoder.encode(texts, query=True, background=True),
        *(encoder.encode([t], query=True) for t in texts[:8]),
    )
    assert np.allclose(together[0], alone, atol=1e-5)
    for i, single in enumerate(together[1:]):
        assert np.allclose(single[0], alone[i], atol=1e-5)
