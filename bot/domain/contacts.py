"""Bridge contacts: what a person may declare, and how long a declaration stays valid.

A contact names an organisation and a sector, never a person: the bot must not become a register
of third parties' personal data, so anything that looks like a phone number, an e-mail address,
a Matrix ID, credentials in a URL or "Frau Müller" is refused. Error codes only; the i18n layer
explains them in German.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

ORGANISATION_MIN_LENGTH = 2
ORGANISATION_MAX_LENGTH = 120
MAX_SUGGESTIONS = 3
# A German number has at least an area code and a few subscriber digits; postcodes ("01067") have
# five, so seven keeps "01067 Dresden" and "Tafel 2000" acceptable.
_MIN_PHONE_DIGITS = 7
# Without a leading 0 or + a digit run is only a phone number when it is too long to be anything
# else an organisation's name would contain.
_MIN_BARE_PHONE_DIGITS = 9

# Possessive quantifiers and start-of-word lookbehinds keep every pattern linear in the input, which
# arrives straight from chat.
_SEP = r"[\s\-–/().]"
_DIGIT_RUN = rf"(?:{_SEP}*+\d)*+"
_PHONE_PREFIXED_RE = re.compile(rf"(?:(?<![\w+])\+{_SEP}*+\d|(?<!\w)\(?\s*0){_DIGIT_RUN}")
_PHONE_BARE_RE = re.compile(rf"(?<!\w)\d{_DIGIT_RUN}")
_PHONE_LABEL_RE = re.compile(
    rf"\b(?:tel|telefon|fon|phone|mobil|mobile|handy|fax|whatsapp)\b\.?\s*:?\s*\+?\d{_DIGIT_RUN}",
    re.IGNORECASE,
)
_URL_USERINFO_RE = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s/?#@]+@", re.IGNORECASE)
_EMAIL_RE = re.compile(
    r"(?<![\w.+\-])[\w.+\-]++(?:@|\s*[\[(]\s*(?:at|ät)\s*[\])]\s*)[\w\-]+(?:\.[\w\-]+)+",
    re.IGNORECASE,
)
_MATRIX_ID_RE = re.compile(r"(?<![\w.+\-])@[\w.=\-/+]+:[\w.\-]+\.[a-z]{2,}", re.IGNORECASE)
# Nouns are capitalised in German, so "Frau Müller" is a name while "Frauenhaus" or
# "Frau und Beruf e.V." are not.
_PERSON_NAME_RE = re.compile(r"(?<!\w)(?:Herr|Herrn|Frau|Hr\.|Fr\.)\s+[A-ZÄÖÜ][\w\-]+")


class ContactErrorCode(StrEnum):
    ORGANISATION_TOO_SHORT = "organisation_too_short"
    ORGANISATION_TOO_LONG = "organisation_too_long"
    SECTOR_MISSING = "sector_missing"
    SECTOR_UNKNOWN = "sector_unknown"
    PHONE_NUMBER = "phone_number"
    EMAIL_ADDRESS = "email_address"
    URL_WITH_USERINFO = "url_with_userinfo"
    MATRIX_ID = "matrix_id"
    PERSON_NAME = "person_name"


ContactField = Literal["organisation", "sector"]


class ContactError(ValueError):
    """`fragment` is the offending text; `suggestions` are configured sectors the user may have
    meant (only for the sector codes)."""

    def __init__(
        self,
        code: ContactErrorCode,
        field: ContactField,
        fragment: str = "",
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(f"{field}: {code.value}")
        self.code = code
        self.field = field
        self.fragment = fragment
        self.suggestions = suggestions


@dataclass(frozen=True)
class ContactDeclaration:
    organisation: str
    sector: str


def validate_contact(organisation: str, sector: str, sectors: Sequence[str]) -> ContactDeclaration:
    """Return the cleaned declaration, or raise `ContactError` for the first problem found."""
    organisation = " ".join(organisation.split())
    sector = " ".join(sector.split())
    # Personal data is checked first so that "0171 1234567" is refused as a phone number rather
    # than merely as too short or an unknown sector.
    fields: tuple[tuple[ContactField, str], ...] = (
        ("organisation", organisation),
        ("sector", sector),
    )
    for field, text in fields:
        found = find_personal_data(text)
        if found is not None:
            raise ContactError(found[0], field, found[1])
    if len(organisation) < ORGANISATION_MIN_LENGTH:
        raise ContactError(ContactErrorCode.ORGANISATION_TOO_SHORT, "organisation", organisation)
    if len(organisation) > ORGANISATION_MAX_LENGTH:
        raise ContactError(ContactErrorCode.ORGANISATION_TOO_LONG, "organisation", organisation)
    return ContactDeclaration(organisation, match_sector(sector, sectors))


def find_personal_data(text: str) -> tuple[ContactErrorCode, str] | None:
    """The first thing in `text` that looks like a third party's personal data."""
    # Credentials in a URL would also read as an e-mail address; name the more specific problem.
    for code, pattern in (
        (ContactErrorCode.URL_WITH_USERINFO, _URL_USERINFO_RE),
        (ContactErrorCode.EMAIL_ADDRESS, _EMAIL_RE),
        (ContactErrorCode.MATRIX_ID, _MATRIX_ID_RE),
        (ContactErrorCode.PHONE_NUMBER, _PHONE_LABEL_RE),
    ):
        match = pattern.search(text)
        if match is not None:
            return code, match.group(0).strip()
    for pattern, min_digits in (
        (_PHONE_PREFIXED_RE, _MIN_PHONE_DIGITS),
        (_PHONE_BARE_RE, _MIN_BARE_PHONE_DIGITS),
    ):
        for match in pattern.finditer(text):
            if sum(ch.isdigit() for ch in match.group(0)) >= min_digits:
                return ContactErrorCode.PHONE_NUMBER, match.group(0).strip()
    match = _PERSON_NAME_RE.search(text)
    if match is not None:
        return ContactErrorCode.PERSON_NAME, match.group(0)
    return None


def match_sector(text: str, sectors: Sequence[str]) -> str:
    """The configured sector `text` names (exactly, ignoring case, or with ae/oe/ue for umlauts);
    otherwise `ContactError` with suggestions."""
    if not text.strip():
        raise ContactError(ContactErrorCode.SECTOR_MISSING, "sector", "", tuple(sectors))
    if text in sectors:
        return str(text)
    key = _sector_key(text)
    for sector in sectors:
        if _sector_key(sector) == key:
            return str(sector)  # the name, even if the configured sector carries more
    raise ContactError(
        ContactErrorCode.SECTOR_UNKNOWN, "sector", text, suggest_sectors(text, sectors)
    )


def suggest_sectors(text: str, sectors: Sequence[str]) -> tuple[str, ...]:
    """Up to `MAX_SUGGESTIONS` configured sectors close to `text`, best first."""
    key = _sector_key(text)
    by_key = {_sector_key(s): s for s in reversed(sectors)}
    close = difflib.get_close_matches(key, list(by_key), n=MAX_SUGGESTIONS, cutoff=0.6)
    # difflib misses a short word inside a long name ("Träger" in "Soziale Träger").
    contained = [k for k in by_key if len(key) >= 3 and (key in k or k in key)]
    keys = list(dict.fromkeys([*close, *contained]))[:MAX_SUGGESTIONS]
    return tuple(by_key[k] for k in keys)


def _sector_key(text: str) -> str:
    folded = " ".join(text.casefold().split())
    return folded.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")


ContactStatus = Literal["live", "needs_reconfirmation", "expired"]


def status(
    last_confirmed: datetime,
    now: datetime,
    reconfirm_after: timedelta,
    expire_after: timedelta,
) -> ContactStatus:
    """Both periods count from the last confirmation, so a reminder that goes unanswered lets
    the claim expire `expire_after - reconfirm_after` later."""
    if last_confirmed.tzinfo is None or now.tzinfo is None:
        raise ValueError("last_confirmed and now must be timezone-aware")
    if not timedelta(0) < reconfirm_after < expire_after:
        raise ValueError("need 0 < reconfirm_after < expire_after")
    age = now - last_confirmed
    if age >= expire_after:
        return "expired"
    if age >= reconfirm_after:
        return "needs_reconfirmation"
    return "live"
