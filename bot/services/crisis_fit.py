"""How well a bridge's contact fits a crisis request text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.similarity import Document, TfidfSimilarity
from bot.store.contacts import StoredContact


@dataclass(frozen=True)
class Fit:
    score: float
    contact: StoredContact


def contact_fits(text: str, contacts: Sequence[StoredContact]) -> list[float]:
    """How well each contact ("organisation | sector") fits a request text, 0 = not at all.

    The one place that knows the similarity API, so swapping the measure touches nothing else.
    """
    if not contacts:
        return []
    # No max_df cut: when many bridges know someone at a "Tafel", that common word is exactly
    # what makes them fit; idf only orders them (and the fit bands of the domain rotate them).
    index = TfidfSimilarity(max_df=1.0).index(
        [Document(f"{c.organisation} {c.sector}", (c.sector,)) for c in contacts]
    )
    scores = [0.0] * len(contacts)
    for i, score in index.rank(Document(text), len(contacts)):
        scores[i] = score
    return scores
