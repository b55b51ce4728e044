"""How well a bridge's contact fits a crisis request text: meaning and words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.crisis import MEANING_FULL, hybrid_fit
from bot.domain.crisis_meaning import relative_to_best
from bot.domain.similarity import Document
from bot.domain.tfidf import TfidfSimilarity
from bot.store.contacts import StoredContact


@dataclass(frozen=True)
class Fit:
    score: float
    contact: StoredContact


def lexical_fits(
    text: str, contacts: Sequence[StoredContact], descriptions: Mapping[str, str]
) -> list[float]:
    """How many words each contact ("organisation sector description") shares with the
    request, as a TF-IDF cosine in [0, 1].

    The one place that knows the similarity API, so swapping the measure touches nothing else.
    """
    if not contacts:
        return []
    # No max_df cut: when many bridges know someone at a "Tafel", that common word is exactly
    # what makes them fit; idf only orders them (and the fit bands of the domain rotate them).
    index = TfidfSimilarity(max_df=1.0).index(
        [
            Document(
                f"{c.organisation} {c.sector} {descriptions.get(c.sector, '')}".strip(),
                (c.sector,),
            )
            for c in contacts
        ]
    )
    scores = [0.0] * len(contacts)
    for i, score in index.rank(Document(text), len(contacts)):
        scores[i] = score
    return scores


def contact_fits(
    text: str,
    contacts: Sequence[StoredContact],
    descriptions: Mapping[str, str] | None = None,
    *,
    lifts: Mapping[str, float] | None = None,
) -> list[float]:
    """How well each contact fits a request, in [0, 1] (`bot.domain.crisis.hybrid_fit`).

    `lifts` is the meaning per contact ID (`bot.domain.crisis_meaning.lifts`), taken relative
    to the best one (`relative_to_best`); a contact without one (or every contact, without the
    model) is compared by its words only.
    """
    words = lexical_fits(text, contacts, descriptions or {})
    found = relative_to_best(lifts or {}, MEANING_FULL)
    return [hybrid_fit(found.get(c.id), w) for c, w in zip(contacts, words, strict=True)]
