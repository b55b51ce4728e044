"""The meaning side of hospitation wishes: offers and wishes as texts to encode.

An offer is the searched side ("passage: "): one passage of title, description and the
host's office ("Hospitation im Bauordnungsamt: Baugenehmigungen prüfen. Bauordnungsamt").
The municipality is left out: on the measured examples it only added noise. A wish is the
asking side ("query: "), as typed ("Bauaufsicht"). Both are stored by the vector refresh
(owner = offer ID / wish ID, user = host / wisher); an offer that is checked before its
vector is stored is encoded right there, outside any transaction.

A wish fits an offer when the rescaled cosine (`bot.domain.meaning`) plus a share of the
words they share reaches `WISH_MEANING_THRESHOLD`; without the model the word score and
`hospitation.wish_threshold` decide, as before (docs/hospitations.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import numpy as np

from bot.domain.meaning import rescaled
from bot.services.vectors import SourceText, VectorService, VectorSource
from bot.store.hospitation_rows import HospitationOffer, Wish
from bot.store.hospitations import HospitationStore

log = logging.getLogger(__name__)

OFFER_KIND = "offer"
WISH_KIND = "wish"
# Measured on 16 wishes x 8 offers written for this (tests/services/test_hospitations_service
# and docs/hospitations.md): fitting pairs have a cosine of 0.836-0.886 (mean 0.863),
# unrelated ones 0.80-0.86 (mean 0.817). 0.14 is a cosine of about 0.845: 11 of the 12
# fitting pairs reach it, 1 of the 116 unrelated ones does.
WISH_MEANING_THRESHOLD = 0.14
# Words a wish shares with an offer add this share of their TF-IDF cosine (weighted over all
# open offers, `bot.domain.hospitation.shared_words`): e5 puts a wish that names the office
# ("Personalamt") barely closer to "Hospitation im Personalamt" than to other offers (0.07).
# Chosen on the dev half of a blind set (bench/data/hospitation_wishes.yaml, bench/hospitation.py)
# among 0.1-0.35: the most fitting pairs (19 -> 22 of 27) without telling more dev wishes about
# a wrong offer (17 %); the holdout half, run once: 23 -> 24 of 26 fitting pairs found, wishes
# told about a wrong offer 23 -> 27 %.
WISH_WORDS_SHARE = 0.25


def offer_passage(offer: HospitationOffer) -> str:
    """What an offer is about: title, description, office."""
    head = offer.title.strip()
    if offer.description:
        head = f"{head}: {offer.description.strip()}"
    return f"{head}. {offer.department}" if offer.department else head


def offer_words(offer: HospitationOffer) -> str:
    """What an offer says in words: title, description, office and municipality."""
    parts = (offer.title, offer.description, offer.department, offer.municipality)
    return " ".join(p for p in parts if p)


def offer_source(store: HospitationStore, today: Callable[[], date]) -> VectorSource:
    async def texts() -> Mapping[str, SourceText]:
        return {
            o.id: SourceText(o.host, (offer_passage(o),))
            for o in await store.open_offers_from(today())
        }

    return VectorSource(OFFER_KIND, query=False, texts=texts)


def wish_source(store: HospitationStore) -> VectorSource:
    async def texts() -> Mapping[str, SourceText]:
        return {str(w.id): SourceText(w.user_id, (w.area,)) for w in await store.all_wishes()}

    return VectorSource(WISH_KIND, query=True, texts=texts)


async def wish_scores(
    vectors: VectorService, offer: HospitationOffer, wishes: Sequence[Wish]
) -> dict[int, float] | None:
    """Wish ID -> how well the offer fits it by meaning (0..1); None without the model.

    Stored vectors where they are current; what is missing (an offer or wish typed a moment
    ago) is encoded now. Never call this inside a store transaction.
    """
    if not vectors.available or not wishes:
        return None
    passage = offer_passage(offer)
    try:
        offer_vector = (await vectors.vectors(OFFER_KIND, {offer.id: (passage,)})).get(offer.id)
        if offer_vector is None:
            offer_vector = await vectors.encode([passage], query=False)
        areas = {str(w.id): (w.area,) for w in wishes}
        stored = await vectors.vectors(WISH_KIND, areas)
        missing = [w for w in wishes if str(w.id) not in stored]
        if missing:
            fresh = await vectors.encode([w.area for w in missing], query=True)
            assert fresh is not None
            stored.update({str(w.id): fresh[i : i + 1] for i, w in enumerate(missing)})
    except Exception:
        log.exception("encoding a hospitation offer or wish failed; comparing words instead")
        return None
    if offer_vector is None:
        return None
    matrix = np.concatenate([stored[str(w.id)][:1] for w in wishes])
    cosines = matrix @ np.asarray(offer_vector, dtype=np.float32)[0]
    return {w.id: rescaled(float(c)) for w, c in zip(wishes, cosines, strict=True)}
