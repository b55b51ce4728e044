"""Kaffeeküche prompts: the shipped catalogue, the deterministic rotation, the schedule."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import KitchenConfig, parse_weekly_slot
from bot.services.coffee_break import break_id_of_followup, partner_rank
from bot.services.kitchen import (
    SUGGESTION_MAX,
    Prompt,
    builtin_prompts,
    config_prompts,
    latest_weekly_slot,
    next_prompt,
)
from bot.store.coffee_breaks import BreakOffer, Placement

BERLIN = ZoneInfo("Europe/Berlin")


def test_catalogue_has_enough_distinct_prompts_in_both_languages() -> None:
    prompts = builtin_prompts()
    assert len(prompts) >= 60
    assert len({p.id for p in prompts}) == len(prompts)
    assert len({p.de.casefold() for p in prompts}) == len(prompts)
    assert len({p.en.casefold() for p in prompts}) == len(prompts)
    assert {p.kind for p in prompts} == {"work", "light"}
    for p in prompts:
        assert 10 <= len(p.de) <= SUGGESTION_MAX and 10 <= len(p.en) <= SUGGESTION_MAX
        assert p.de.endswith("?") and p.en.endswith("?"), p.id
    # The two examples from the product brief are in it.
    texts = {p.de for p in prompts}
    assert "Welches Werkzeug hat Ihnen diese Woche Zeit gespart?" in texts
    assert "Was würden Sie einer neuen Kollegin aus Ihrem Amt als Erstes zeigen?" in texts


def test_catalogue_uses_formal_address() -> None:
    informal = {"du", "dich", "dein", "deine", "dir", "euch", "euer"}
    for p in builtin_prompts():
        words = {w.strip("?,.–!»«") for w in p.de.split()}
        assert not {w.casefold() for w in words} & informal, p.de
        assert "ihr" not in words, p.de  # "Ihr" (formal) is fine, "ihr" (you all) is not


def test_config_prompts_pair_translations_and_fall_back_to_german() -> None:
    prompts = config_prompts(["Erste Frage hier?", "Zweite Frage hier?"], ["First one?", ""])
    assert [p.en for p in prompts] == ["First one?", "Zweite Frage hier?"]
    assert prompts[0].id.startswith("c:") and prompts[0].id != prompts[1].id
    assert config_prompts(["Erste Frage hier?"], [])[0].id == prompts[0].id  # stable


def rotate(pool: list[Prompt], room: str, steps: int) -> list[str]:
    cycle, last = 0, None
    posted: dict[int, set[str]] = {0: set()}
    ever: set[str] = set()
    order = []
    for _ in range(steps):
        chosen = next_prompt(
            pool,
            room_id=room,
            cycle=cycle,
            posted_this_cycle=posted.setdefault(cycle, set()),
            ever_posted=ever,
            last_posted=last,
        )
        assert chosen is not None
        prompt, cycle = chosen
        posted.setdefault(cycle, set()).add(prompt.id)
        ever.add(prompt.id)
        last = prompt.id
        order.append(prompt.id)
    return order


def pool_of(n: int) -> list[Prompt]:
    return [Prompt(f"b:{i}", f"Frage {i}?", f"Prompt {i}?", "light") for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=40), room=st.text(min_size=1, max_size=12))
def test_no_repeat_before_the_catalogue_is_used_up(n: int, room: str) -> None:
    order = rotate(pool_of(n), room, 3 * n)
    for start in range(0, 3 * n, n):
        assert sorted(order[start : start + n]) == sorted(p.id for p in pool_of(n))
    if n > 1:
        # A new cycle never starts with the prompt that ended the last one.
        assert all(order[i] != order[i + 1] for i in range(len(order) - 1))


def test_rotation_is_deterministic_and_differs_between_rooms_and_cycles() -> None:
    pool = pool_of(30)
    assert rotate(pool, "!a:x", 30) == rotate(pool, "!a:x", 30)
    assert rotate(pool, "!a:x", 30) != rotate(pool, "!b:x", 30)
    two = rotate(pool, "!a:x", 60)
    assert two[:30] != two[30:]


def test_fresh_accepted_suggestion_comes_next() -> None:
    pool = pool_of(10)
    suggestion = Prompt("s:7", "Neue Frage?", "Neue Frage?", "suggestion")
    chosen = next_prompt(
        [*pool, suggestion],
        room_id="!r:x",
        cycle=0,
        posted_this_cycle={"b:1", "b:2"},
        ever_posted={"b:1", "b:2"},
        last_posted="b:2",
    )
    assert chosen == (suggestion, 0)


def test_empty_pool_posts_nothing() -> None:
    chosen = next_prompt(
        [], room_id="!r:x", cycle=0, posted_this_cycle=set(), ever_posted=set(), last_posted=None
    )
    assert chosen is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("Di 10:00", (1, time(10, 0))),
        ("thu 9:30", (3, time(9, 30))),
        ("Donnerstag 14:05", (3, time(14, 5))),
        ("Mo. 08:00", (0, time(8, 0))),
    ],
)
def test_schedule_entries(entry: str, expected: tuple[int, time]) -> None:
    assert parse_weekly_slot(entry) == expected


@pytest.mark.parametrize("entry", ["Dienstag", "10:00", "Xy 10:00", "Di 25:00", "Di zehn"])
def test_unreadable_schedule_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 'Di 10:00'"):
        parse_weekly_slot(entry)


def test_default_schedule_is_tuesday_and_thursday_at_ten() -> None:
    assert KitchenConfig.model_validate({}).slots() == [(1, time(10)), (3, time(10))]


def test_extra_translations_must_match_in_number() -> None:
    with pytest.raises(ValueError, match="one entry per"):
        KitchenConfig.model_validate(
            {"extra_prompts_de": ["Eine Frage hier?"], "extra_prompts_en": ["a?", "b?"]}
        )


def test_latest_weekly_slot() -> None:
    slots = [(1, time(10)), (3, time(10))]
    # Wednesday 2026-03-04 09:00 -> Tuesday 10:00
    now = datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN)
    assert latest_weekly_slot(now, slots) == datetime(2026, 3, 3, 10, 0, tzinfo=BERLIN)
    # Thursday exactly at 10:00 -> that very slot
    now = datetime(2026, 3, 5, 10, 0, tzinfo=BERLIN)
    assert latest_weekly_slot(now, slots) == now
    # Monday -> last Thursday
    now = datetime(2026, 3, 9, 12, 0, tzinfo=BERLIN)
    assert latest_weekly_slot(now, slots) == datetime(2026, 3, 5, 10, 0, tzinfo=BERLIN)


def test_followup_keys() -> None:
    assert break_id_of_followup("coffeebreak:12:followup") == 12
    assert break_id_of_followup("coffeebreak:12:intro") is None
    assert break_id_of_followup("crisis:12:followup") is None
    assert break_id_of_followup("coffeebreak:x:followup") is None


def test_partner_rank_prefers_other_department_then_unknown_then_longest_waiting() -> None:
    def offer(i: int, at: float) -> BreakOffer:
        return BreakOffer(i, f"@u{i}:x", 15, at, at + 900, "open")

    mine = Placement("Bauamt")
    same = partner_rank(mine, Placement("bauamt"), offer(1, 0))
    unknown = partner_rank(mine, None, offer(2, 5))
    other = partner_rank(mine, Placement("Ordnungsamt"), offer(3, 10))
    older_other = partner_rank(mine, Placement("Sozialamt"), offer(4, 1))
    assert sorted([same, unknown, other, older_other]) == [older_other, other, unknown, same]
