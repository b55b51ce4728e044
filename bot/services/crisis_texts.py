"""The messages about one crisis request: shared parameters, the fallback, the status."""

from __future__ import annotations

import math

from bot.config import CrisisConfig
from bot.domain.crisis import unanswered
from bot.services.ports import Say
from bot.store.crisis import StoredRequest, is_former


def _label(drill: bool) -> Say:
    return Say("crisis.label.drill" if drill else "crisis.empty")


def _urgent(urgent: bool) -> Say:
    return Say("crisis.mark.urgent" if urgent else "crisis.empty")


class CrisisTexts:
    def __init__(self, crisis: CrisisConfig, prefix: str) -> None:
        self.crisis = crisis
        self.prefix = prefix

    def fallback(self) -> Say:
        return Say(
            "crisis.fallback",
            {"fallback_de": self.crisis.fallback_de, "fallback_en": self.crisis.fallback_en},
        )

    def common(self, req: StoredRequest) -> dict[str, object]:
        return {
            "label": _label(req.drill),
            "urgent": _urgent(req.urgent),
            "id": req.id,
            "prefix": self.prefix,
        }

    def status(self, req: StoredRequest) -> Say:
        state = req.state
        declined = sum(1 for a in state.answers if not a.yes)
        params: dict[str, object] = {
            **self.common(req),
            "text": req.text,
            "asked": len(state.asked_ids),
            "declined": declined,
            "waiting": len(unanswered(state)),
            # Every open or failed state names the formal path beside the bot's own.
            "fallback": self.fallback(),
        }
        if state.closed_at is not None:
            return Say("crisis.status.closed", params)
        if state.expired_at is not None:
            return Say("crisis.status.expired", params)
        if state.connected_to is not None:
            assert state.connected_at is not None
            minutes = math.ceil((state.connected_at - state.created_at).total_seconds() / 60)
            bridge = state.connected_to if not is_former(state.connected_to) else "–"
            return Say("crisis.status.connected", {**params, "bridge": bridge, "minutes": minutes})
        if state.tier == 0:
            return Say("crisis.status.searching", params)
        if not state.asked:
            return Say("crisis.status.nobody", params)
        return Say("crisis.status.asking", {**params, "tier": Say(f"crisis.tier.{state.tier}")})
