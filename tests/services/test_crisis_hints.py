"""One forwarded hint per (bridge, request), and a repeated no counts once (review finding
S-11): `!nein <ID> <Hinweis>` sent again must not reach the requester again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.crisis import AnswerOutcome
from bot.services.crisis import CrisisService
from tests.support.crisis_world import (
    CHIEF,
    STAFF,
    TAFEL,
    CrisisWorld,
    asked_people,
    bridges,
    crisis_world,
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[CrisisWorld]:
    async with crisis_world(tmp_path) as world:
        yield world


def hints(w: CrisisWorld) -> list[str]:
    return [s.target for s in w.messenger.sent if s.message and s.message.key == "crisis.hint"]


async def declined(w: CrisisWorld, request_id: str) -> int:
    [view] = [v for v in await w.crisis.active_requests(STAFF) if v.id == request_id]
    return view.declined


async def test_a_repeated_no_with_a_hint_forwards_one_hint_and_counts_once(
    world: CrisisWorld,
) -> None:
    await bridges(world, *TAFEL)
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    anna = asked_people(world)[0]
    first = await world.crisis.answer(anna, started.id, False, "Fragen Sie die Caritas.")
    assert first.outcome is AnswerOutcome.DECLINED
    for text in ("Fragen Sie die Caritas.", "Oder die Diakonie!", "Noch einmal: Caritas"):
        again = await world.crisis.answer(anna, started.id, False, text)
        assert again.outcome is AnswerOutcome.HINT_ALREADY_FORWARDED
    assert hints(world) == [CHIEF]
    assert await declined(world, started.id) == 1
    # A plain no afterwards, or a 👎 on the ask, is noted once as well.
    plain = await world.crisis.answer(anna, started.id, False)
    assert plain.outcome is AnswerOutcome.ALREADY_DECLINED
    key = CrisisService.ask_key(started.id, anna)
    thumbs = await world.crisis.on_reaction(anna, key, "👎", withdrawn=False)
    assert thumbs is not None and thumbs.outcome is AnswerOutcome.ALREADY_DECLINED
    assert await declined(world, started.id) == 1 and hints(world) == [CHIEF]
    # Changing one's mind to a yes still works.
    yes = await world.crisis.answer(anna, started.id, True)
    assert yes.outcome is AnswerOutcome.CONNECTED


async def test_a_hint_after_a_plain_no_is_forwarded_once(world: CrisisWorld) -> None:
    await bridges(world, *TAFEL)
    started = await world.crisis.start(CHIEF, STAFF, "Wer kennt jemanden bei der Tafel?")
    first = asked_people(world)
    await world.crisis.answer(first[0], started.id, False)
    assert hints(world) == []
    late = await world.crisis.answer(first[0], started.id, False, "Die Caritas hilft.")
    assert late.outcome is AnswerOutcome.DECLINED  # the reply says: passed on
    assert hints(world) == [CHIEF]
    again = await world.crisis.answer(first[0], started.id, False, "Die Caritas hilft.")
    assert again.outcome is AnswerOutcome.HINT_ALREADY_FORWARDED
    assert hints(world) == [CHIEF] and await declined(world, started.id) == 1
    # The repeated no did not end tier 1: the second asked person has not answered yet.
    assert len(asked_people(world)) == 2
