"""Kaffeeküche, part 1: conversation prompts in shared rooms and staff suggestions.

On every scheduled slot (default Tuesday and Thursday 10:00) each configured room gets
one prompt. The rotation is a deterministic shuffle per room and cycle: no prompt
repeats in a room before every prompt of the rotation (shipped catalogue, prompts from
the config, accepted suggestions) was posted there once. Freshly accepted suggestions
go first, so the person who suggested one sees it soon.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as TimeOfDay
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from bot.config import Config
from bot.services.admins import post_to_admins
from bot.services.ports import Messenger, Say
from bot.store.db import Database
from bot.store.kitchen_prompts import PromptStore, Suggestion
from bot.store.outbox import Outbox

log = logging.getLogger(__name__)

CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "kitchen_prompts.yaml"

SUGGESTION_MIN = 10
SUGGESTION_MAX = 280
PENDING_PER_PERSON = 5
# A scheduled slot that was missed by more than this (bot down) is skipped, not posted late.
SCHEDULE_GRACE_S = 3600.0


@dataclass(frozen=True)
class Prompt:
    id: str  # 'b:<n>' shipped, 'c:<hash>' from the config, 's:<id>' accepted suggestion
    de: str
    en: str
    kind: str  # 'work', 'light', 'config', 'suggestion'

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.de


@cache
def builtin_prompts() -> tuple[Prompt, ...]:
    """The catalogue shipped in bot/data/kitchen_prompts.yaml."""
    entries = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")) or []
    return tuple(
        Prompt(f"b:{int(e['id'])}", str(e["de"]).strip(), str(e["en"]).strip(), str(e["kind"]))
        for e in entries
    )


def config_prompts(de: list[str], en: list[str]) -> list[Prompt]:
    prompts = []
    for index, text in enumerate(de):
        text = text.strip()
        if not text:
            continue
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        english = en[index].strip() if index < len(en) and en[index].strip() else text
        prompts.append(Prompt(f"c:{digest}", text, english, "config"))
    return prompts


def suggestion_prompt(item: Suggestion) -> Prompt:
    return Prompt(f"s:{item.id}", item.text, item.text, "suggestion")


def _shuffle_key(room_id: str, cycle: int, prompt_id: str) -> str:
    return hashlib.sha256(f"{room_id}|{cycle}|{prompt_id}".encode()).hexdigest()


def next_prompt(
    pool: Iterable[Prompt],
    *,
    room_id: str,
    cycle: int,
    posted_this_cycle: set[str],
    ever_posted: set[str],
    last_posted: str | None,
) -> tuple[Prompt, int] | None:
    """The next prompt for a room and the cycle it belongs to (pure, deterministic).

    Within a cycle every prompt of the pool comes once, in an order shuffled by
    (room, cycle); when all were posted the next cycle starts, never with the prompt
    that was just posted. Accepted suggestions never posted in the room come first.
    """
    prompts = list({p.id: p for p in pool}.values())
    remaining = [p for p in prompts if p.id not in posted_this_cycle]
    if not remaining:
        cycle += 1
        remaining = [p for p in prompts if p.id != last_posted] or prompts
    if not remaining:
        return None

    def order(p: Prompt) -> tuple[int, str]:
        fresh = p.kind == "suggestion" and p.id not in ever_posted
        return (0 if fresh else 1, _shuffle_key(room_id, cycle, p.id))

    return min(remaining, key=order), cycle


def latest_weekly_slot(now: datetime, slots: list[tuple[int, TimeOfDay]]) -> datetime | None:
    """The latest scheduled moment at or before `now` (aware datetime, local zone)."""
    best: datetime | None = None
    for back in range(8):
        day = (now - timedelta(days=back)).date()
        for weekday, at in slots:
            if day.weekday() != weekday:
                continue
            moment = datetime.combine(day, at, tzinfo=now.tzinfo)
            if moment <= now and (best is None or moment > best):
                best = moment
    return best


def normalise_suggestion(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


SuggestError = Literal["too_short", "too_long", "duplicate", "too_many"]
DecideError = Literal["not_admin", "not_found", "already_decided"]


@dataclass(frozen=True)
class Suggested:
    id: int


@dataclass(frozen=True)
class SuggestRefused:
    reason: SuggestError


@dataclass(frozen=True)
class Decided:
    suggestion: Suggestion
    accepted: bool


@dataclass(frozen=True)
class DecideRefused:
    reason: DecideError
    status: str | None = None


class KitchenService:
    def __init__(
        self,
        config: Config,
        db: Database,
        messenger: Messenger,
    ) -> None:
        self.config = config
        self.kitchen = config.kitchen
        self.db = db
        self.messenger = messenger
        self.store = PromptStore(db)
        self.outbox = Outbox(db)

    # -- the rotation --------------------------------------------------------------------

    async def pool(self) -> list[Prompt]:
        prompts: list[Prompt] = list(builtin_prompts()) if self.kitchen.use_builtin_prompts else []
        prompts += config_prompts(self.kitchen.extra_prompts_de, self.kitchen.extra_prompts_en)
        prompts += [suggestion_prompt(s) for s in await self.store.suggestions("accepted")]
        return prompts

    def current_slot(self, now: float) -> tuple[float, float]:
        """(slot, grace): the scheduled moment due at `now` and how late it may still go."""
        interval = self.kitchen.prompt_interval_s
        if interval:
            return (now // interval) * interval, interval
        from zoneinfo import ZoneInfo

        local = datetime.fromtimestamp(now, ZoneInfo(self.config.timezone))
        slot = latest_weekly_slot(local, self.kitchen.slots())
        return (slot.timestamp() if slot else 0.0), SCHEDULE_GRACE_S

    def poll_interval_s(self) -> float:
        interval = self.kitchen.prompt_interval_s
        return max(0.2, min(interval / 4, 30.0)) if interval else 30.0

    async def post_due_prompts(self, now: float) -> int:
        """Post the prompt of the current slot in every room that has not had it yet.
        Idempotent: a slot is served at most once per room. Returns how many were posted."""
        posted = 0
        slot, grace = self.current_slot(now)
        if slot <= 0:
            return 0
        for room_id in self.kitchen.rooms:
            async with self.db.transaction("kitchen.post_due_prompts"):
                if await self._post_in_room(room_id, slot, grace, now):
                    posted += 1
        return posted

    async def _post_in_room(self, room_id: str, slot: float, grace: float, now: float) -> bool:
        cycle, last_slot = await self.store.room_state(room_id)
        if last_slot is not None and last_slot >= slot:
            return False
        if now - slot > grace:
            await self.store.skip_slot(room_id, slot)
            return False
        previous = await self.store.last_post(room_id)
        if previous is not None and await self.outbox.status(previous.effect_key) == "pending":
            # The last prompt has not reached the room (bot not invited?): don't pile up.
            log.warning("kitchen room %s: previous prompt still undelivered, skipping", room_id)
            await self.store.skip_slot(room_id, slot)
            return False
        chosen = next_prompt(
            await self.pool(),
            room_id=room_id,
            cycle=cycle,
            posted_this_cycle=await self.store.posted_in_cycle(room_id, cycle),
            ever_posted=await self.store.ever_posted(room_id),
            last_posted=None if previous is None else previous.prompt_id,
        )
        if chosen is None:
            await self.store.skip_slot(room_id, slot)
            return False
        prompt, cycle = chosen
        effect_key = f"kitchen:prompt:{room_id}:{int(slot)}"
        await self.store.record_post(room_id, cycle, prompt.id, slot, effect_key, now)
        text = prompt.text(self.config.bot.default_language)
        await self.messenger.post(
            room_id, Say("kitchen.prompt.post", {"text": text}), effect_key=effect_key
        )
        return True

    async def tick(self) -> None:
        await self.post_due_prompts(time.time())

    # -- suggestions ---------------------------------------------------------------------

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.config.bot.admins

    async def suggest(self, user_id: str, text: str, now: float) -> Suggested | SuggestRefused:
        text = normalise_suggestion(text)
        if len(text) < SUGGESTION_MIN:
            return SuggestRefused("too_short")
        if len(text) > SUGGESTION_MAX:
            return SuggestRefused("too_long")
        async with self.db.transaction("kitchen.suggest"):
            if await self.store.same_text_exists(text) or any(
                p.de.casefold() == text.casefold() or p.en.casefold() == text.casefold()
                for p in await self.pool()
            ):
                return SuggestRefused("duplicate")
            if await self.store.pending_count_by(user_id) >= PENDING_PER_PERSON:
                return SuggestRefused("too_many")
            suggestion_id = await self.store.add_suggestion(text, user_id, now)
            await post_to_admins(
                self.messenger,
                self.config,
                Say(
                    "kitchen.suggestion.for_admins",
                    {"id": suggestion_id, "text": text, "prefix": self.config.bot.command_prefix},
                ),
                effect_key=f"kitchen:suggestion:{suggestion_id}:admins",
            )
        return Suggested(suggestion_id)

    async def pending(self, user_id: str) -> list[Suggestion] | None:
        """Pending suggestions for an admin; None if the person is no admin."""
        if not self.is_admin(user_id):
            return None
        return await self.store.suggestions("pending")

    async def decide(
        self, admin: str, suggestion_id: int, accept: bool, now: float
    ) -> Decided | DecideRefused:
        if not self.is_admin(admin):
            return DecideRefused("not_admin")
        async with self.db.transaction("kitchen.decide"):
            item = await self.store.suggestion(suggestion_id)
            if item is None:
                return DecideRefused("not_found")
            if item.status != "pending":
                return DecideRefused("already_decided", item.status)
            status: Literal["accepted", "rejected"] = "accepted" if accept else "rejected"
            await self.store.decide(suggestion_id, status, admin, now)
            if item.suggested_by is not None:
                await self.messenger.tell(
                    item.suggested_by,
                    Say(f"kitchen.suggestion.{status}", {"id": item.id, "text": item.text}),
                    effect_key=f"kitchen:suggestion:{item.id}:decided",
                )
        return Decided(item, accept)


class KitchenPersonalData:
    """Suggestions someone made: exported; on `!vergessen` pending and rejected ones are
    deleted, accepted ones stay in the rotation as anonymous text."""

    section = "kitchen_suggestions"

    def __init__(self, db: Database) -> None:
        self.store = PromptStore(db)

    async def export(self, user_id: str) -> object:
        return await self.store.export(user_id)

    async def user_ids(self) -> set[str]:
        return await self.store.user_ids()

    async def forget(self, user_id: str) -> None:
        await self.store.forget(user_id)
