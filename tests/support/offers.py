"""Hospitation offers as the store gives them back, for tests and benchmarks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from bot.domain.dates import When
from bot.store.hospitation_rows import HospitationOffer

DAY = date(2026, 12, 3)
_OPEN = HospitationOffer(
    id="H-7KQX",
    host="@anna:rathaus.example",
    host_name=None,
    department="Bauamt",
    municipality="Musterstadt",
    title="Einblick in die Bauaufsicht",
    description=None,
    when=When(DAY, DAY),
    capacity=2,
    status="open",
    cancelled_by=None,
    version=0,
    created_at=0.0,
)


def stored_offer(**fields: Any) -> HospitationOffer:
    """An open offer of two seats on one day; `fields` replace any of its values."""
    return replace(_OPEN, **fields)
