"""Benchmark of standing hospitation wishes: which offers a wish is told about.

    .venv/bin/python -m bench.hospitation

`bench/data/hospitation_wishes.yaml` (written blind: its author read nothing of the bot) holds
30 offers and 60 wishes as people type them after `!hospitation wunsch`, each with the offers
that really fit it (ten fit none). Every wish is compared with every offer as the bot does
(`bot.services.hospitation_followups`): the rescaled e5 cosine of the wish ("query: ") and the
offer's passage, plus `WISH_WORDS_SHARE` of the words they share (TF-IDF weighted over all
offers, `bot.domain.hospitation.shared_words`); a wish is told when that reaches
`WISH_MEANING_THRESHOLD`. Per split: fitting pairs found, wrong pairs told, wishes told about
a wrong offer, and wishes with a fitting offer that hear of none. Deterministic.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import yaml

from bench.semantic import DATA, embed, table
from bot.domain.dates import When
from bot.domain.hospitation import shared_words
from bot.domain.meaning import rescaled
from bot.services.hospitation_vectors import (
    WISH_MEANING_THRESHOLD,
    WISH_WORDS_SHARE,
    offer_passage,
    offer_words,
)
from bot.store.hospitation_rows import HospitationOffer
from tests.support.offers import stored_offer

DAY = date(2026, 12, 7)


def offer(entry: dict[str, str]) -> HospitationOffer:
    """An open offer of the data set as the store gives it (one municipality for all)."""
    return stored_offer(
        id=entry["id"],
        host="@host:bench.example",
        department=entry["department"],
        title=entry["title"],
        description=entry["description"],
        when=When(DAY, DAY),
    )


def main() -> None:
    data = yaml.safe_load((DATA / "hospitation_wishes.yaml").read_text(encoding="utf-8"))
    offers = [offer(o) for o in data["offers"]]
    wishes = data["wishes"]
    areas = [str(w["text"]) for w in wishes]
    cosines = embed(areas, True) @ embed([offer_passage(o) for o in offers], False).T
    meaning = np.vectorize(rescaled)(cosines.astype(np.float64))
    texts = [offer_words(o) for o in offers]
    words = np.array(
        [shared_words(text, texts[:j] + texts[j + 1 :], areas) for j, text in enumerate(texts)]
    ).T
    fits = np.array([[o.id in w["fits"] for o in offers] for w in wishes])
    split = np.array([w["split"] for w in wishes])
    rows = []
    for name, share in (("**shipped**", WISH_WORDS_SHARE), ("meaning alone", 0.0)):
        told = meaning + share * words >= WISH_MEANING_THRESHOLD
        for part in ("dev", "holdout"):
            sel = split == part
            right, wrong = (told & fits)[sel], (told & ~fits)[sel]
            fitting = fits[sel].any(axis=1)
            rows.append([
                f"{name} (words × {share:g})", part,
                f"{int(right.sum())} of {int(fits[sel].sum())}", str(int(wrong.sum())),
                f"{int(wrong.any(axis=1).sum())} of {int(sel.sum())}",
                f"{int((fitting & ~right.any(axis=1)).sum())} of {int(fitting.sum())}",
            ])  # fmt: skip
    print(f"## Standing wishes ({len(wishes)} wishes × {len(offers)} offers)\n")
    header = ["comparison", "split", "fitting pairs told", "wrong pairs told"]
    print(table([*header, "wishes told a wrong offer", "fitting wishes told none"], rows))


if __name__ == "__main__":
    main()
