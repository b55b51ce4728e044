"""Wires the hospitation feature into the services: one object per concern, the personal
data owner and the periodic job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.services.hospitation_dialog import OfferDialog
from bot.services.hospitation_followups import HospitationFollowups
from bot.services.hospitation_notices import TICK_S as NOTICES_TICK_S
from bot.services.hospitation_privacy import HospitationData
from bot.services.hospitation_vectors import offer_source, wish_source
from bot.services.hospitations import HospitationService

if TYPE_CHECKING:
    from bot.services.hub import Services

JOB_ID = "hospitation_followups"
NOTICES_JOB_ID = "hospitation_notices"


@dataclass
class Hospitations:
    offers: HospitationService
    dialog: OfferDialog
    followups: HospitationFollowups
    data: HospitationData


def install_hospitations(services: Services) -> Hospitations:
    offers = HospitationService(
        services.config, services.db, services.messenger, accounts=services.accounts
    )
    feature = Hospitations(
        offers,
        OfferDialog(offers),
        HospitationFollowups(offers, services.vectors),
        HospitationData(offers),
    )
    services.personal_data.append(feature.data)
    # Offers and wishes are compared by meaning: their vectors are kept with the others'.
    services.vectors.add_source(offer_source(offers.store, offers.today))
    services.vectors.add_source(wish_source(offers.store))
    offers.texts_changed = services.vectors.wake
    interval = services.config.hospitation.check_interval_s

    def schedule() -> None:
        services.jobs.every(JOB_ID, feature.followups.run_due, interval)
        services.jobs.every(NOTICES_JOB_ID, offers.notices.run_due, NOTICES_TICK_S)

    services.job_setups.append(schedule)
    return feature
