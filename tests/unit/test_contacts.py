from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, parse_config
from bot.config.features import DEFAULT_SECTORS, Sector
from bot.domain.contacts import (
    MAX_SUGGESTIONS,
    ContactDeclaration,
    ContactError,
    ContactErrorCode,
    find_personal_data,
    match_sector,
    status,
    suggest_sectors,
    validate_contact,
)
from bot.services.contact_vectors import contact_text, sector_descriptions
from bot.store.contacts import StoredContact

SECTORS = (
    "Soziale Träger",
    "Migrantenorganisationen",
    "Wohnungslosenhilfe",
    "Logistik",
    "Veranstaltungswirtschaft",
    "Gesundheitswesen",
    "Wissenschaft",
    "Wirtschaft",
    "Religionsgemeinschaften",
    "Nachbarkommune",
)


def test_valid_declaration_is_cleaned() -> None:
    assert validate_contact("  Tafel   Musterstadt ", "soziale  träger", SECTORS) == (
        ContactDeclaration("Tafel Musterstadt", "Soziale Träger")
    )


@pytest.mark.parametrize("sector", ["Soziale Träger", "SOZIALE TRÄGER", "soziale traeger"])
def test_sector_matches_exactly_or_ignoring_case_and_umlaut_spelling(sector: str) -> None:
    assert match_sector(sector, SECTORS) == "Soziale Träger"


@pytest.mark.parametrize(
    ("text", "first_suggestion"),
    [
        ("Soziales", "Soziale Träger"),
        ("Träger", "Soziale Träger"),
        ("Gesundheit", "Gesundheitswesen"),
        ("Wohnungslose", "Wohnungslosenhilfe"),
        ("Logsitik", "Logistik"),
        ("Migranten", "Migrantenorganisationen"),
    ],
)
def test_unknown_sector_comes_with_suggestions(text: str, first_suggestion: str) -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact("Tafel", text, SECTORS)
    error = caught.value
    assert (error.code, error.field, error.fragment) == (
        ContactErrorCode.SECTOR_UNKNOWN,
        "sector",
        text,
    )
    assert error.suggestions[0] == first_suggestion


def test_far_away_sector_has_no_suggestions() -> None:
    with pytest.raises(ContactError) as caught:
        match_sector("Raumfahrt", SECTORS)
    assert caught.value.suggestions == ()


def test_missing_sector_offers_the_whole_list() -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact("Tafel", " ", SECTORS)
    assert caught.value.code == ContactErrorCode.SECTOR_MISSING
    assert caught.value.suggestions == SECTORS


@pytest.mark.parametrize(
    ("organisation", "code"),
    [
        ("T", ContactErrorCode.ORGANISATION_TOO_SHORT),
        ("   ", ContactErrorCode.ORGANISATION_TOO_SHORT),
        ("x" * 121, ContactErrorCode.ORGANISATION_TOO_LONG),
    ],
)
def test_organisation_length(organisation: str, code: ContactErrorCode) -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact(organisation, "Logistik", SECTORS)
    assert (caught.value.code, caught.value.field) == (code, "organisation")


def test_organisation_length_bounds_are_inclusive() -> None:
    assert validate_contact("DB", "Logistik", SECTORS).organisation == "DB"
    assert len(validate_contact("x" * 120, "Logistik", SECTORS).organisation) == 120


@pytest.mark.parametrize(
    "text",
    [
        "+49 30 1234567",
        "+49 (0)30 123456",
        "0049 30 1234567",
        "030/1234567",
        "(030) 123 456",
        "0171-1234567",
        "030-123 45-67",
        "0351 4884 0",
        "Tafel, Tel. 12345",
        "Caritas Fon: 123",
        "123456789",
    ],
)
def test_phone_numbers_are_refused(text: str) -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact(f"Tafel {text}", "Soziale Träger", SECTORS)
    assert (caught.value.code, caught.value.field) == (
        ContactErrorCode.PHONE_NUMBER,
        "organisation",
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("info@tafel-musterstadt.de", ContactErrorCode.EMAIL_ADDRESS),
        ("anna (at) tafel.de", ContactErrorCode.EMAIL_ADDRESS),
        ("anna[at]tafel.de", ContactErrorCode.EMAIL_ADDRESS),
        ("https://anna:geheim@tafel.de/", ContactErrorCode.URL_WITH_USERINFO),
        ("ftp://anna@files.tafel.de", ContactErrorCode.URL_WITH_USERINFO),
        ("@anna.schmidt:musterstadt.de", ContactErrorCode.MATRIX_ID),
        ("Frau Müller", ContactErrorCode.PERSON_NAME),
        ("Herrn Özdemir", ContactErrorCode.PERSON_NAME),
    ],
)
def test_other_personal_data_is_refused(text: str, code: ContactErrorCode) -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact(f"Tafel {text}", "Soziale Träger", SECTORS)
    assert caught.value.code == code


def test_personal_data_in_the_sector_field_is_refused_too() -> None:
    with pytest.raises(ContactError) as caught:
        validate_contact("Tafel", "0171 1234567", SECTORS)
    assert (caught.value.code, caught.value.field) == (ContactErrorCode.PHONE_NUMBER, "sector")


def test_refusal_names_the_offending_fragment() -> None:
    found = find_personal_data("Tafel Musterstadt, 030/123 45 67, Lager")
    assert found == (ContactErrorCode.PHONE_NUMBER, "030/123 45 67")


@pytest.mark.parametrize(
    "organisation",
    [
        "Tafel 2000 e.V.",
        "01067 Dresden Stadtmission",
        "Caritas Region 3",
        "Frauenhaus Musterstadt",
        "Frauen helfen Frauen e.V.",
        "Haus der Frau und Familie",
        "Hotel Adlon",
        "Projekt 2020-2024",
        "Schule Nr. 12",
        "https://www.tafel.de",
        "DRK-Kreisverband 24/7 Notdienst",
    ],
)
def test_ordinary_organisation_names_pass(organisation: str) -> None:
    assert find_personal_data(organisation) is None


@given(st.text(max_size=80), st.sampled_from(SECTORS))
def test_validation_either_accepts_or_raises_its_error(organisation: str, sector: str) -> None:
    try:
        declaration = validate_contact(organisation, sector, SECTORS)
    except ContactError as error:
        assert isinstance(error.code, ContactErrorCode)
    else:
        assert 2 <= len(declaration.organisation) <= 120
        assert find_personal_data(declaration.organisation) is None


@given(st.text(max_size=30))
def test_suggestions_are_configured_sectors(text: str) -> None:
    suggestions = suggest_sectors(text, SECTORS)
    assert len(suggestions) <= MAX_SUGGESTIONS
    assert set(suggestions) <= set(SECTORS)
    assert len(set(suggestions)) == len(suggestions)


def test_scanning_huge_input_stays_fast() -> None:
    for text in ("0 " * 30_000, "a" * 60_000, "1-" * 30_000, "(0" * 30_000):
        find_personal_data(text)


CONFIRMED = datetime(2026, 1, 1, tzinfo=UTC)
RECONFIRM = timedelta(days=180)
EXPIRE = timedelta(days=210)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(days=-1), "live"),
        (timedelta(0), "live"),
        (RECONFIRM - timedelta(seconds=1), "live"),
        (RECONFIRM, "needs_reconfirmation"),
        (EXPIRE - timedelta(seconds=1), "needs_reconfirmation"),
        (EXPIRE, "expired"),
        (timedelta(days=1000), "expired"),
    ],
)
def test_status(age: timedelta, expected: str) -> None:
    assert status(CONFIRMED, CONFIRMED + age, RECONFIRM, EXPIRE) == expected


def test_status_rejects_naive_times_and_inverted_periods() -> None:
    with pytest.raises(ValueError):
        status(CONFIRMED.replace(tzinfo=None), CONFIRMED, RECONFIRM, EXPIRE)
    with pytest.raises(ValueError):
        status(CONFIRMED, CONFIRMED, EXPIRE, RECONFIRM)


# -- configured sectors ----------------------------------------------------------------------

MINIMAL: dict[str, Any] = {
    "homeserver": {
        "url": "http://127.0.0.1:1",
        "user_id": "@flurfunk:rathaus.example",
        "password": "x",
        "allowed_homeservers": ["rathaus.example"],
    }
}


def sectors_of(raw: object) -> list[Sector]:
    return parse_config({**MINIMAL, "crisis": {"sectors": raw}}, "test", {}).crisis.sectors


def test_sectors_are_names_or_names_with_a_description() -> None:
    sectors = sectors_of(
        ["Logistik", {"name": "Gesundheitswesen", "description": "Kliniken,\n  Praxen"}]
    )
    assert sectors == ["Logistik", "Gesundheitswesen"]  # they are their names everywhere
    assert [s.description for s in sectors] == ["", "Kliniken, Praxen"]
    assert validate_contact("Uniklinik", "gesundheitswesen", sectors).sector == "Gesundheitswesen"
    assert type(validate_contact("Uniklinik", "gesundheitswesen", sectors).sector) is str
    assert sector_descriptions(sectors) == {"Logistik": "", "Gesundheitswesen": "Kliniken, Praxen"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([{"name": "Logistik", "descripton": "LKW"}], "unknown key descripton"),
        ([{"description": "LKW"}], "needs a name"),
        ([3], "a sector is a name or a mapping"),
        (["Logistik", "logistik"], "listed twice"),
        ([{"name": "Logistik", "description": "x" * 401}], "one line of text"),
    ],
)
def test_a_wrong_sector_names_the_problem(raw: object, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sectors_of(raw)
    [found] = caught.value.problems
    assert found.startswith("crisis.sectors") and problem in found


def test_the_default_sectors_have_descriptions_and_the_example_documents_them() -> None:
    defaults = parse_config(MINIMAL, "test", {}).crisis.sectors
    assert [(s, s.description) for s in defaults] == [
        (name, " ".join(text.split())) for name, text in DEFAULT_SECTORS
    ]
    assert all(len(s.description) > 40 for s in defaults)
    example = Path(__file__).parents[2] / "config" / "flurfunk.example.yaml"
    raw = yaml.safe_load(example.read_text(encoding="utf-8"))
    assert [(s, s.description) for s in sectors_of(raw["crisis"]["sectors"])] == [
        (s, s.description) for s in defaults
    ]


def test_a_contact_means_organisation_sector_and_description() -> None:
    contact = StoredContact("K-2345", "@anna:x", "Spedition Kühne", "Logistik", 0.0, 0.0)
    assert contact_text(contact, {"Logistik": "Transport, LKW"}) == (
        "Spedition Kühne | Logistik: Transport, LKW"
    )
    assert contact_text(contact, {}) == "Spedition Kühne | Logistik"
