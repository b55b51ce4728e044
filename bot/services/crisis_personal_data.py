"""A person's crisis requests and asks: their export, and forgetting them."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.crisis import RequestState, close
from bot.services.crisis_routing import CrisisRouting, next_check
from bot.store.crisis import FORMER_PREFIX, CrisisStore

# Timeline entries about the person: asked and their answers, and where they acted or were
# acted for (closed a request, were connected, got a hint forwarded; review finding S-19).
PERSON_EVENTS = ("asked", "yes", "no", "settled", "hint_forwarded", "connected", "closed")


async def export_requests(store: CrisisStore, user_id: str, timezone: ZoneInfo) -> dict[str, Any]:
    started = []
    asked = []
    for req in await store.involving(user_id):
        if req.requester == user_id:
            started.append(
                {
                    "id": req.id,
                    "text": req.text,
                    "drill": req.drill,
                    "created": req.state.created_at.isoformat(),
                }
            )
        for entry in await store.timeline(req.id):
            if entry.person == user_id and entry.kind in PERSON_EVENTS:
                asked.append(
                    {
                        "request": req.id,
                        "event": entry.kind,
                        "at": datetime.fromtimestamp(entry.at, timezone).isoformat(),
                        **({"hint": entry.detail} if entry.detail else {}),
                    }
                )
    return {"requests_started": started, "requests_received": asked}


async def forget_person(
    store: CrisisStore, routing: CrisisRouting, user_id: str, now: datetime
) -> None:
    """The person becomes `~former-…` in every request; their own open requests are closed
    (the bridges still waiting hear it is settled) and lose their text. Runs inside the
    caller's transaction."""
    for req in await store.involving(user_id):
        label = FORMER_PREFIX + secrets.token_hex(4)
        state = req.state
        text: str | None = None
        if req.requester == user_id:
            if req.active:
                result = close(state, now)
                state = result.state
                await store.add_event(req.id, now, "closed")
                await routing.tell_settled(replace(req, state=state), result.notify, now)
            await store.forget_effects(req.id, f"crisis:{req.id}:settled:")
            text = ""
        if any(asked.person == user_id for asked in state.asked):
            # The routed note names the organisation of her contact (review: erasure test).
            await store.forget_routed_note(req.id)
        state = _replace_person(state, user_id, label)
        await store.save_state(req.id, state, next_check(state))
        await store.replace_person(req.id, user_id, label, state, text)


def _replace_person(state: RequestState, user_id: str, label: str) -> RequestState:
    def swap(person: str) -> str:
        return label if person == user_id else person

    return replace(
        state,
        asked=tuple(replace(a, person=swap(a.person)) for a in state.asked),
        answers=tuple(
            replace(a, person=swap(a.person), hint=None if a.person == user_id else a.hint)
            for a in state.answers
        ),
        connected_to=None if state.connected_to is None else swap(state.connected_to),
    )
