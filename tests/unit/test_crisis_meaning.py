"""The meaning side of crisis routing: lifts from organisation, sector pool and own text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config.features import DEFAULT_SECTORS, CrisisConfig
from bot.domain.crisis import MEANING_FULL, WEAK_FIT
from bot.domain.crisis_meaning import (
    WEAK_LIFT_MARGIN,
    OrganisationKinds,
    kind_lifts,
    kind_of,
    lifts,
    organisation_kinds,
    relative_to_best,
    weak_lift,
)
from bot.services.contact_vectors import (
    reference_requests,
    sector_descriptions,
    sector_examples,
    sector_phrases,
    sector_pools,
)
from bot.services.encoder import MODEL_ID, E5Encoder
from bot.services.organisation_kinds import KINDS_FILE, glossary, kinds_in, shipped_kind_vectors
from tests.support.encoders import bundled_encoder


def unit(*rows: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- pure ---------------------------------------------------------------------------------


def test_a_contact_of_a_sector_without_a_pool_is_lifted_by_its_organisation_only() -> None:
    orgs = unit([1, 0, 0], [0, 1, 0])
    reference = unit([1, 1, 0], [0, 0, 1])
    query = unit([1, 0.2, 0])
    found = lifts(query, orgs, ["A", "B"], {}, reference)
    expected = orgs.astype(np.float64) @ query[0] - (reference @ orgs.T).mean(axis=0)
    assert found == pytest.approx(expected)


def test_of_two_contacts_of_a_sector_the_one_whose_own_text_is_asked_for_fits_better() -> None:
    # One sector, two kinds of help in its pool; each contact stands for one of them.
    pool = unit([1, 0, 0, 0], [0, 1, 0, 0])
    orgs = unit([0.9, 0.1, 0.4, 0], [0.1, 0.9, 0.4, 0])
    reference = unit([0, 0, 0, 1], [0.3, 0.3, 0, 1])
    for asked, best in ((pool[:1], 0), (pool[1:], 1)):
        found = lifts(asked, orgs, ["Logistik", "Logistik"], {"Logistik": pool}, reference)
        assert int(np.argmax(found)) == best


def test_whatever_resembles_every_request_gains_nothing() -> None:
    # The contact is as close to this request as to every reference request: lift 0.
    orgs = unit([1, 1, 1])
    reference = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    found = lifts(reference[:1], orgs, ["A"], {}, reference)
    assert found[0] == pytest.approx(0.0, abs=1e-9)


lift_values = st.floats(-0.2, 0.5, allow_nan=False)


def axis(i: int, value: float = 1.0) -> np.ndarray:
    x = np.zeros(8)
    x[i] = value
    return x


# Toy kinds in 8 dimensions: needs on axes 0-3, wording on axes 4 and 5 (every kind's
# requests vary there), names on 6 and 7. Each contact's name names its kind.
WORDINGS = [axis(4, a) + axis(5, b) for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
KIND_TEXTS = ["Fahrschule", "Busbetrieb", "Tafel", "Spedition"]
CALLED = ["Fahrschule Demir", "Busbetrieb Lang", "Tafel Au", "Spedition Kühne"]
TOY_REFERENCE = unit(
    axis(7) + axis(4, 0.3), axis(6) + axis(5, 0.3), axis(0) + axis(1) + axis(2) + axis(3)
)


def toy_kinds(requests: list[np.ndarray]) -> OrganisationKinds:
    """Four kinds of four requests each, in kind order."""
    names = unit(*[axis(6) + axis(k, 0.1) for k in range(4)])
    of_request = [k for k in range(4) for _ in range(4)]
    return organisation_kinds(
        (KIND_TEXTS, names), range(4), unit(*requests), of_request, TOY_REFERENCE
    )


def toy_lifts(kinds: OrganisationKinds, request: np.ndarray) -> np.ndarray:
    organisations = unit(*[axis(6) + axis(7) for _ in CALLED])
    return kind_lifts(unit(request), organisations, CALLED, kinds)


def test_a_contact_is_lifted_by_the_need_its_kind_is_asked_for_not_by_wording() -> None:
    # The first kind's requests vary widely along the wording axis 4; the request names the
    # second kind's need with much of that wording. By e5's own cosine the first kind's
    # requests come nearest; in the request space, where what requests of one kind vary in
    # counts little, the need decides (this failed before the request space).
    wide = [axis(4, 2.0 * a) + axis(5, 0.3 * b) for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    requests = [axis(0) + w for w in wide]
    requests += [axis(k) + 0.6 * w for k in (1, 2, 3) for w in WORDINGS]
    kinds = toy_kinds(requests)
    assert int(np.argmax(toy_lifts(kinds, axis(1) + axis(4, 3.0)))) == 1
    assert int(np.argmax(toy_lifts(kinds, axis(2) + axis(5, -1.0)))) == 2


def test_a_kind_most_of_whose_requests_fit_comes_before_one_with_a_single_look_alike() -> None:
    # The first kind has one request that is the very request asked and three elsewhere (a
    # kind whose requests range widely resembles some request for any need); all of the second
    # kind's requests are close to it. By the single nearest request the first kind would win
    # (this fails with KIND_TOP = 1); by the best two, the second.
    asked = axis(0) + axis(1, 0.2)
    half = [0.5 * w for w in WORDINGS]
    requests = [asked, axis(2) + half[1], axis(3) + half[2], axis(2) + axis(3)]
    requests += [axis(0) + axis(1, 0.4) + w for w in half]
    requests += [axis(k) + w for k in (2, 3) for w in half]
    lifted = toy_lifts(toy_kinds(requests), asked)
    assert lifted[1] > lifted[0] > max(lifted[2], lifted[3])


def test_the_kind_a_name_names_comes_before_the_nearest_by_meaning() -> None:
    # The first organisation's vector is nearest to the first kind's name words, but its
    # name says it is of the second kind; the second has no kind's name in its name.
    names = unit([1, 0, 0, 0], [0, 1, 0, 0], [0.9, 0.1, 0, 0])
    requests = unit([0, 0, 1, 0], [0, 0, 0, 1])
    reference = unit([0.5, 0.5, 0.5, 0.5])
    texts = ["Bauhof", "Hotel", "Wirtschaftshof"]
    kinds = organisation_kinds((texts, names), [0, 1, 0], requests, [0, 1], reference)
    orgs = unit([1, 0.1, 0, 0], [1, 0.1, 0, 0])
    called = ["Parkhotel Kaiserhof", "Kaiserhof GmbH"]
    assert kind_of(orgs, called, kinds).tolist() == [1, 0]
    lifted = kind_lifts(unit([0, 0, 0, 1]), orgs, called, kinds)
    assert lifted[0] > lifted[1]


def test_among_kinds_named_alike_the_longest_name_and_then_the_meaning_decide() -> None:
    names = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    requests = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    # Two kinds share the name "Landkreis" (as "Caritasverband" is a name of two kinds).
    texts = ["Landkreis", "Veterinäramt", "Landkreis"]
    kinds = organisation_kinds((texts, names), [0, 1, 2], requests, [0, 1, 2], names)
    orgs = unit([1, 0, 0], [0, 0.2, 1], [1, 0.3, 0])
    called = ["Landkreis Oberfeld, Veterinäramt", "Landkreis Talheim", "Landkreis Au"]
    # "Veterinäramt" is the longer name; the other two name a district, and which of the
    # two kinds called so is nearer by meaning decides.
    assert kind_of(orgs, called, kinds).tolist() == [1, 2, 0]


def test_a_kind_as_close_to_every_request_as_to_this_one_adds_nothing() -> None:
    names = unit([1, 0, 0])
    requests = unit([0, 1, 1])
    reference = unit([0, 1, 0], [0, 0, 1])
    kinds = organisation_kinds((["Tafel"], names), [0], requests, [0], reference)
    added = kind_lifts(reference[:1], unit([1, 0, 0]), ["Tafel Au"], kinds)
    assert added[0] == pytest.approx(0.0, abs=1e-6)


def test_without_kinds_nothing_is_added() -> None:
    empty = np.zeros((0, 3), dtype=np.float32)
    kinds = organisation_kinds(([], empty), [], empty, [], unit([1, 0, 0]))
    orgs = unit([1, 0, 0], [0, 1, 0])
    assert kind_lifts(unit([1, 0, 0]), orgs, ["Tafel", "DRK"], kinds).tolist() == [0, 0]


@given(st.dictionaries(st.text(min_size=1, max_size=3), lift_values, min_size=1, max_size=8))
def test_relative_lifts_keep_the_order_and_cap_only_the_best(found: dict[str, float]) -> None:
    full = 0.04
    scaled = relative_to_best(found, full)
    assert scaled.keys() == found.keys()
    assert max(scaled.values()) <= full + 1e-12
    for a in found:
        for b in found:
            if found[a] > found[b]:
                assert scaled[a] >= scaled[b]
    if max(found.values()) <= full:
        assert scaled == found  # a weak request stays weak
    else:
        assert max(scaled.values()) == pytest.approx(full)


# -- the shipped examples and the real model -----------------------------------------------


def test_every_default_sector_has_example_requests_and_they_are_the_reference() -> None:
    examples = sector_examples()
    assert {name for name, _ in DEFAULT_SECTORS} == set(examples)
    assert all(len(texts) >= 10 for texts in examples.values())
    flat = reference_requests()
    assert len(flat) == sum(len(t) for t in examples.values()) == len(set(flat))


CONTACTS = [
    ("Omnibusbetrieb Krause", "Logistik"),
    ("Kühllogistik Nord GmbH", "Logistik"),
    ("Umzugsfirma Hansen", "Logistik"),
    ("Streetwork Süd", "Wohnungslosenhilfe"),
    ("Baustoffhandel Petersen", "Wirtschaft"),
    ("Pfarrei St. Josef", "Religionsgemeinschaften"),
]


@dataclass(frozen=True)
class Routing:
    """The shipped background, encoded once for this module."""

    encoder: E5Encoder
    pools: dict[str, np.ndarray]
    reference: np.ndarray
    kinds: OrganisationKinds

    def ranked(
        self,
        request: str,
        contacts: Sequence[tuple[str, str]] = CONTACTS,
        *,
        with_kinds: bool = True,
    ) -> list[str]:
        """The contacts' organisations by their lift for `request`, as the bot computes it."""
        asked = self.encoder.encode_blocking([request], query=True)
        texts = [f"{o} | {s}" for o, s in contacts]
        organisations = self.encoder.encode_blocking(texts, query=True)
        sectors = [s for _, s in contacts]
        found = lifts(asked, organisations, sectors, self.pools, self.reference)
        if with_kinds:
            found += kind_lifts(asked, organisations, [o for o, _ in contacts], self.kinds)
        return [contacts[i][0] for i in np.argsort(-found)]


@pytest.fixture(scope="module")
def routing() -> Routing:
    encoder = bundled_encoder()
    descriptions = sector_descriptions(CrisisConfig().sectors)
    phrases = {
        name: encoder.encode_blocking(list(sector_phrases(name, text)), query=False)
        for name, text in descriptions.items()
    }
    reference = encoder.encode_blocking(reference_requests(), query=True)
    shipped = shipped_kind_vectors(MODEL_ID)
    assert shipped is not None
    kinds = glossary().kinds(shipped, reference)
    return Routing(encoder, sector_pools(phrases, reference), reference, kinds)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("Jemand muss nachts die Leute unter der Brücke vor dem Frost warnen", "Streetwork Süd"),
        ("Wer begleitet die Familien der Verstorbenen in den ersten Stunden?", "Pfarrei St. Josef"),
        (
            "Tiefgekühlte Lebensmittelspenden müssen heute noch quer durch die Stadt",
            "Kühllogistik Nord GmbH",
        ),
    ],
)
def test_a_request_without_the_contacts_words_lifts_the_right_one_most(
    routing: Routing, request_text: str, expected: str
) -> None:
    assert routing.ranked(request_text)[0] == expected


def test_within_a_sector_the_contact_standing_for_the_need_comes_first(
    routing: Routing,
) -> None:
    # Both are "Logistik"; moving people is the bus company's part of it, frozen goods the
    # refrigerated haulier's.
    people = routing.ranked(
        "Wir müssen 50 Bewohner eines Altenheims heute an einen sicheren Ort fahren"
    )
    assert people.index("Omnibusbetrieb Krause") < people.index("Kühllogistik Nord GmbH")
    goods = routing.ranked(
        "Tiefgekühlte Lebensmittelspenden müssen heute noch quer durch die Stadt"
    )
    assert goods.index("Kühllogistik Nord GmbH") < goods.index("Omnibusbetrieb Krause")


def test_what_a_kind_of_organisation_offers_is_known_beyond_its_name(routing: Routing) -> None:
    """Nothing in "DEHOGA" or "Wirtschaft" says hotel beds: the glossary of organisation kinds
    does (by e5 alone the tent hire came first)."""
    contacts = [
        ("DEHOGA Kreisverband Nord", "Wirtschaft"),
        ("Baustoffhandel Petersen", "Wirtschaft"),
        ("Sanitätshaus Vogel", "Gesundheitswesen"),
        ("Hausarztpraxis Dr. Lenz", "Gesundheitswesen"),
        ("Zeltverleih Brandt", "Veranstaltungswirtschaft"),
        ("Stadthalle Nord", "Veranstaltungswirtschaft"),
    ]
    request = "Übernachtung für 60 Feuerwehrleute aus dem Nachbarkreis, zwei Nächte"
    assert routing.ranked(request, contacts)[0] == "DEHOGA Kreisverband Nord"
    assert routing.ranked(request, contacts, with_kinds=False)[0] != "DEHOGA Kreisverband Nord"


def test_a_contact_is_of_the_kind_its_name_names(routing: Routing) -> None:
    """By meaning alone "Hotel Lindenhof | Wirtschaft" was nearest to the municipal depot's
    name words ("Wirtschaftshof") and "Streetwork Innenstadt | Wohnungslosenhilfe" to the day
    shelter's; their names say what they are."""
    contacts = [("Hotel Lindenhof", "Wirtschaft"), ("Streetwork Innenstadt", "Wohnungslosenhilfe")]
    vectors = routing.encoder.encode_blocking([f"{o} | {s}" for o, s in contacts], query=True)
    found = kind_of(vectors, [o for o, _ in contacts], routing.kinds)
    shipped = kinds_in(KINDS_FILE)
    assert [shipped[k].names[0] for k in found] == ["Hotel", "Streetwork"]
    by_meaning = kind_of(vectors, ["", ""], routing.kinds)
    assert [shipped[k].names[0] for k in by_meaning] != ["Hotel", "Streetwork"]


def test_the_shipped_kind_vectors_are_the_bundled_models_encoding_of_the_glossary(
    routing: Routing,
) -> None:
    """Stale vectors (an edited glossary, another model) would be refused at start and the
    glossary encoded at run time; the shipped ones must be what the model says.

    Compared by cosine: the engine's 4-bit kernels round differently on different CPUs (the
    same text written on one machine and encoded on another: cosine >= 0.9998, single
    numbers up to 0.002 apart), while two different texts of the glossary stay below 0.996
    (the closest: "Selbsthilfekontaktstelle" and "Selbsthilfe-Kontaktstelle")."""
    shipped = shipped_kind_vectors(MODEL_ID)
    assert shipped is not None
    names, requests = shipped
    texts = glossary()
    assert len(names) == len(texts.names) and len(requests) == len(texts.requests)
    for rows, phrases in ((names, texts.names), (requests, texts.requests)):
        picked = [0, len(phrases) // 2, len(phrases) - 1]
        fresh = routing.encoder.encode_blocking([phrases[i] for i in picked], query=True)
        assert np.einsum("ij,ij->i", rows[picked], fresh).min() > 0.999


def test_a_request_is_vague_when_no_sector_stands_out_from_the_median() -> None:
    assert weak_lift({})
    # Below three sectors there is no median to stand out from: the best lift must fit.
    assert weak_lift({"Logistik": 0.9 * WEAK_FIT * MEANING_FULL, "Soziale Träger": -0.02})
    assert not weak_lift({"Logistik": 1.1 * WEAK_FIT * MEANING_FULL, "Soziale Träger": 0.0})
    # A clear request: one sector far above the others, even with a modest lift.
    clear = {"Logistik": 0.02, "Soziale Träger": 0.0, "Wirtschaft": 0.004, "Kirchen": -0.01}
    assert not weak_lift(clear)
    # "Wer kann helfen?" lifts every sector a little: high, but nothing stands out.
    median = 0.025
    vague = {
        "Logistik": median + 0.9 * WEAK_LIFT_MARGIN,
        "Soziale Träger": median,
        "Wirtschaft": median,
        "Kirchen": median - 0.01,
    }
    assert weak_lift(vague)


def test_kind_vectors_of_another_model_or_other_texts_are_refused(tmp_path: Path) -> None:
    """The bot then encodes the glossary itself instead of comparing with wrong vectors."""
    assert shipped_kind_vectors(MODEL_ID) is not None
    assert shipped_kind_vectors("another-model") is None
    edited = tmp_path / "kinds.npz"
    vectors = np.zeros((1, 3), dtype=np.float32)
    np.savez(edited, model=MODEL_ID, digest="of other texts", names=vectors, requests=vectors)
    assert shipped_kind_vectors(MODEL_ID, edited) is None
    assert shipped_kind_vectors(MODEL_ID, tmp_path / "missing.npz") is None
