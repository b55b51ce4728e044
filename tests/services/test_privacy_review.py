"""`!meinedaten` and `!vergessen` after the December 2026 review: the export shows pending
messages and every crisis event of the person (S-19), erasure matches whole Matrix IDs and
scrubs only the forgotten host's own messages (S-20), and the bot's `m.direct` account
data no longer lists a forgotten person."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.chat.rooms import DirectRooms
from bot.domain.crisis import RequestState
from bot.services.crisis_personal_data import export_requests
from bot.services.personal_data import ChatTraces
from bot.services.privacy import PrivacyService
from bot.store.crisis import CrisisStore, StoredRequest
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory
from tests.support.fakes import FakeHttpResponse
from tests.support.harness import ADMIN, SHARED_ROOM, STAFF, Harness, dm, harness_config

BERLIN = ZoneInfo("Europe/Berlin")
BOT = "@flurfunk:example.org"
AL = "@al:example.org"
AL_UK = "@al:example.org.uk"  # somebody else whose ID starts with AL's
BEN = "@ben:example.org"


# -- S-19: the export -------------------------------------------------------------------


async def test_export_lists_pending_messages_about_the_person(db: Database) -> None:
    """S-19: messages queued and not delivered yet that are about the person (subject,
    their DM, or naming them) are part of `!meinedaten`; nobody else's are."""
    outbox = Outbox(db)
    await outbox.enqueue(
        "crisis:A-1:ask:al",
        "message",
        "dm",
        AL,
        {"content": {"body": "Kennen Sie jemanden beim Wasserverband?"}},
        subject_user=AL,
    )
    await outbox.enqueue(
        "coffee:1/0:intro",
        "message",
        "roomkey",
        "coffee:1/0",
        {"content": {"body": f"Sie beide: {AL} und {BEN}"}},
    )
    await outbox.enqueue(
        "coffee:1/1:intro", "message", "roomkey", "coffee:1/1", {"content": {"body": AL_UK}}
    )
    await outbox.enqueue(
        "sent-already", "message", "dm", AL, {"content": {"body": "zugestellt"}}, subject_user=AL
    )
    [delivered] = [i for i in await outbox.due() if i.key == "sent-already"]
    await outbox.mark_sent(delivered.id, "$e", "!dm")

    export = await ChatTraces(db).export(AL)

    texts = [m.get("text") for m in export["pending_messages"]]
    assert texts == ["Kennen Sie jemanden beim Wasserverband?", f"Sie beide: {AL} und {BEN}"]
    assert all(m["kind"] == "message" and m["queued_at"] for m in export["pending_messages"])
    assert [m["text"] for m in (await ChatTraces(db).export(AL_UK))["pending_messages"]] == [AL_UK]


async def test_export_has_the_crisis_events_where_the_person_acted(db: Database) -> None:
    """S-19: crisis timeline entries with the person as actor (closed, connected,
    hint_forwarded) are exported too, not only asks and answers."""
    store = CrisisStore(db)
    created = datetime(2026, 11, 20, 10, tzinfo=BERLIN)
    state = RequestState(created_at=created, drill=False)
    request = StoredRequest("A-1234", BEN, "Wer kennt jemanden?", False, False, None, state)
    assert await store.create(request)
    await store.add_event("A-1234", created, "asked", AL, 1, "Wasserverband | Versorgung")
    await store.add_event("A-1234", created + timedelta(minutes=1), "yes", AL, detail="Frau X")
    await store.add_event("A-1234", created + timedelta(minutes=2), "hint_forwarded", AL)
    await store.add_event("A-1234", created + timedelta(minutes=3), "connected", AL)
    await store.add_event("A-1234", created + timedelta(minutes=4), "closed", AL)

    export = await export_requests(store, AL, BERLIN)

    events = [e["event"] for e in export["requests_received"]]
    assert events == ["asked", "yes", "hint_forwarded", "connected", "closed"]


# -- S-20: erasure matches whole IDs ----------------------------------------------------


async def test_forgetting_matches_the_whole_matrix_id_in_the_outbox(db: Database) -> None:
    """S-20: `@al:example.org` is not a prefix match for `@al:example.org.uk`."""
    outbox = Outbox(db)
    for key, body in (
        ("quoted", json.dumps(AL)),
        ("in-text", f"Das passt: {AL} hat auch Zeit."),
        ("at-the-end", f"Eingeladen: {AL}."),
        ("longer-id", f"Das passt: {AL_UK} hat auch Zeit."),
        ("with-port", f"Eingeladen: {AL}:8448"),
        ("nobody", "Guten Morgen"),
    ):
        await outbox.enqueue(key, "message", "room", "!flur", {"content": {"body": body}})

    await ChatTraces(db).forget(AL)

    left = {str(r[0]) for r in await db.fetchall("SELECT key FROM outbox")}
    assert left == {"longer-id", "with-port", "nobody"}


async def test_forgetting_a_host_scrubs_only_their_own_messages(tmp_path: Path) -> None:
    """S-20: a forgotten host's words are blanked in the messages about their offers, not
    in any other delivered message that happens to contain the same text."""
    announced = harness_config(hospitation={"announcement_rooms": [SHARED_ROOM]})
    async with Harness.open(tmp_path, announced) as bot:
        day = (date.today() + timedelta(days=10)).strftime("%d.%m.%Y")
        assert await bot.say(ADMIN, dm(ADMIN), f"!hospitation anbieten Bauamt Führung | {day} | 2")
        outbox = bot.outbox
        await outbox.enqueue(
            "reply:$other:1",
            "message",
            "room",
            dm(STAFF),
            {"content": {"body": "Meine Bauamt Führung war toll"}},
            subject_user=STAFF,
        )
        await bot.db.execute("UPDATE outbox SET status = 'sent'", name="test.mark_sent")

        await bot.say(ADMIN, dm(ADMIN), "!vergessen")
        await bot.say(ADMIN, dm(ADMIN), "ja")

        row = await bot.db.fetchone("SELECT payload FROM outbox WHERE key = 'reply:$other:1'")
        assert row is not None and "Meine Bauamt Führung war toll" in row[0]
        host_rows = await bot.db.fetchall(
            "SELECT payload FROM outbox WHERE key LIKE 'hosp:%' AND status = 'sent'"
        )
        assert host_rows and all(r[0] == "{}" for r in host_rows)


# -- m.direct ---------------------------------------------------------------------------


@dataclass
class AccountDataClient:
    """What DirectRooms reads and writes of the bot's account data (`m.direct`)."""

    user_id: str = BOT
    access_token: str = "token"
    direct: dict[str, list[str]] = field(default_factory=dict)
    rooms: dict[str, Any] = field(default_factory=dict)
    puts: int = 0

    async def send(
        self, method: str, path: str, data: str | None = None, headers: Any = None
    ) -> FakeHttpResponse:
        assert path.endswith("/account_data/m.direct"), path
        if method == "GET":
            return FakeHttpResponse(200, json.loads(json.dumps(self.direct)))
        assert method == "PUT" and data is not None
        self.puts += 1
        self.direct = json.loads(data)
        return FakeHttpResponse(200, {})


async def test_forget_takes_the_person_off_m_direct_after_the_commit(db: Database) -> None:
    """After `!vergessen` the bot's `m.direct` no longer lists the person; the account data
    is changed only once the deletion is committed, never for a rolled-back one."""
    client = AccountDataClient(direct={AL: ["!dm-al"], BEN: ["!dm-ben"]})
    directory = RoomDirectory(db)
    direct = DirectRooms(client, directory)
    await direct.load()
    for user, room in ((AL, "!dm-al"), (BEN, "!dm-ben")):
        await directory.set_dm_room(user, room)
    privacy = PrivacyService(db, [ChatTraces(db)], None)
    privacy.forgotten.append(direct.forgotten)

    async with db.transaction(
        "test.privacy_review.test_forget_takes_the_person_off_m_direct_after_the_commit"
    ):  # as the dispatcher runs `!vergessen ja`
        await privacy.forget(AL)
        await asyncio.sleep(0.05)
        assert AL in client.direct  # not before the commit
    await direct.settled()
    assert client.direct == {BEN: ["!dm-ben"]}
    # The old DM still answers until the bot restarts (recognised from memory).
    assert await direct.is_dm("!dm-al", AL)

    with pytest.raises(RuntimeError):
        async with db.transaction(
            "test.privacy_review.test_forget_takes_the_person_off_m_direct_after_the_commit"
        ):
            await privacy.forget(BEN)
            await asyncio.sleep(0.05)
            raise RuntimeError("the command failed after forgetting")
    await direct.settled()
    assert client.direct == {BEN: ["!dm-ben"]}


async def test_people_the_store_does_not_know_leave_m_direct_at_start(db: Database) -> None:
    """A crash between the commit and the account data update: the next start removes
    whoever the store holds nothing about."""
    client = AccountDataClient(direct={AL: ["!dm-al"], BEN: ["!dm-ben"]})
    directory = RoomDirectory(db)
    await directory.set_dm_room(BEN, "!dm-ben")
    privacy = PrivacyService(db, [ChatTraces(db)], None)
    direct = DirectRooms(client, directory)
    assert await direct.unlist_unknown(await privacy.people()) == 1
    assert client.direct == {BEN: ["!dm-ben"]}
    assert await direct.unlist_unknown(await privacy.people()) == 0
    assert client.puts == 1
