from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
