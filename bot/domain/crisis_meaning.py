"""How much better a contact fits a request than it fits crisis requests in general.

Measured on the routing evaluation set (bench/semantic.py, dev part): raw e5 cosines between
a request and "organisation | sector" sit in a narrow band (0.74-0.87), and a few contacts
are close to almost every request (a "Kältebus" was among the first three for 31 of 75
requests). Two things helped on dev and held on the held-out part:

- the **lift**: a contact's cosine to this request minus its mean cosine to a fixed set of
  typical crisis requests (bot/data/crisis_reference_requests.yaml). A contact that resembles
  every request gains nothing from that; a request is judged by what sets it apart;
- half of it from the organisation ("Spedition Kühne | Logistik", query prefix on both
  sides), half from the best phrase of the sector's description ("Kühlfahrzeuge",
  passage prefix), each lifted against the same reference requests.

Pure numpy; the vectors come from bot.services.contact_vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]

# Share of the organisation in the lift; the rest comes from the sector's description.
ORGANISATION_SHARE = 0.5


def lifts(
    query: Vectors,
    organisations: Vectors,
    sectors: Sequence[str],
    sector_phrases: Mapping[str, Vectors],
    reference: Vectors,
) -> NDArray[np.float64]:
    """The lift of each contact (row i of `organisations`, sector `sectors[i]`) for the
    request `query` (one unit row; several rows: their mean is used)."""
    asked = np.asarray(query, dtype=np.float64).reshape(-1, organisations.shape[1]).mean(0)
    orgs = np.asarray(organisations, dtype=np.float64)
    refs = np.asarray(reference, dtype=np.float64)
    by_org = orgs @ asked - (refs @ orgs.T).mean(axis=0)
    by_sector = np.zeros(len(sectors))
    for name in dict.fromkeys(sectors):
        phrases = sector_phrases.get(name)
        if phrases is None or not len(phrases):
            continue
        own = np.asarray(phrases, dtype=np.float64)
        lift = float((own @ asked).max() - (refs @ own.T).max(axis=1).mean())
        by_sector[[s == name for s in sectors]] = lift
    described = np.array([bool(sector_phrases.get(s) is not None) for s in sectors])
    share = np.where(described, ORGANISATION_SHARE, 1.0)
    return np.asarray(share * by_org + (1.0 - share) * by_sector)
