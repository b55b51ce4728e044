"""The chat layer's own store methods: the language a person chose, their reactions on
our messages, which outbox item an event of ours came from, and the WAL checkpoint after
`!vergessen` (issue #15: these statements moved here from the chat and command layers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.chat_traces import ChatTraceStore, ReactionRow
from bot.store.db import Database
from bot.store.outbox import Outbox

ERIKA = "@erika:rathaus.example"
MAX = "@max:rathaus.example"


async def test_a_language_choice_is_kept_and_can_be_changed(db: Database) -> None:
    traces = ChatTraceStore(db)
    assert await traces.language(ERIKA) is None
    await traces.set_language(ERIKA, "en")
    assert await traces.language(ERIKA) == "en"
    await traces.set_language(ERIKA, "de")
    assert await traces.language(ERIKA) == "de"
    assert await traces.language(MAX) is None
    assert await traces.user_ids() == {ERIKA}


async def test_a_reaction_is_kept_once_and_can_be_withdrawn(db: Database) -> None:
    traces = ChatTraceStore(db)
    thumbs = ReactionRow(ERIKA, "followup:7:ask", "👍")
    await traces.add_reaction("$r1", thumbs)
    # The same event again (a replay after a restart) changes nothing.
    await traces.add_reaction("$r1", ReactionRow(ERIKA, "followup:7:ask", "👎"))
    assert await traces.reaction("$r1") == thumbs
    assert await traces.reactions_of(ERIKA) == [("👍", "followup:7:ask")]
    await traces.remove_reaction("$r1")
    assert await traces.reaction("$r1") is None
    assert await traces.reactions_of(ERIKA) == []


async def test_forgetting_a_person_takes_their_language_and_reactions(db: Database) -> None:
    traces = ChatTraceStore(db)
    await traces.set_language(ERIKA, "en")
    await traces.add_reaction("$r1", ReactionRow(ERIKA, "followup:7:ask", "👍"))
    await traces.add_reaction("$r2", ReactionRow(MAX, "followup:7:ask", "👎"))
    await traces.forget(ERIKA)
    assert await traces.language(ERIKA) is None
    assert await traces.reaction("$r1") is None
    assert await traces.reaction("$r2") is not None
    assert await traces.user_ids() == {MAX}


async def test_an_event_of_ours_leads_back_to_its_outbox_key(db: Database) -> None:
    outbox = Outbox(db)
    message = {"content": {"msgtype": "m.notice", "body": "Treffen Sie sich?"}}
    await outbox.enqueue("followup:7:ask", "message", "dm", ERIKA, message)
    [item] = await outbox.due()
    await outbox.mark_sent(item.id, "$ours", "!dm:rathaus.example")
    assert await outbox.key_of_event("$ours") == "followup:7:ask"
    assert await outbox.key_of_event("$somebody-elses") is None


@pytest.mark.sqlite_only("PostgreSQL has no WAL file per database to copy back")
async def test_a_checkpoint_empties_the_write_ahead_log(db: Database) -> None:
    await ChatTraceStore(db).set_language(ERIKA, "en")
    assert isinstance(db.path, Path)
    wal = db.path.with_name(db.path.name + "-wal")
    assert wal.stat().st_size > 0
    assert await db.checkpoint() is True
    assert wal.stat().st_size == 0
