"""Every outbox item ends, against a real Synapse (review finding S-05, issue #14).

The real `OutboxSender`, store, `DirectRooms` and a plain matrix-nio client of the bot run
in this process against the session's Synapse (no bot process: these tests put items
straight into the outbox, as the services would, and watch what the homeserver stored).
Each kind of stuck item from the review ends: a DM the homeserver refuses as too large, a
purpose room whose creation failed, the reaction buttons of a failed message, a group
follow-up whose room was never created, a room the bot is not in. The admin room hears
once, in aggregate. And the order: crisis asks first, a flood to one person never holds
back another, and 5,000 stuck items for one target cost another target less than 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, RoomCreateResponse

from bot.chat.given_up import GivenUpNotices
from bot.chat.health import Metrics
from bot.chat.rooms import DirectRooms
from bot.chat.sender import OutboxSender
from bot.config import OutboxConfig
from bot.devserver import LocalSynapse
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.rooms import RoomDirectory
from tests.support.homeserver import Homeserver, unique, until

NOTE = {"msgtype": "m.notice", "body": "Hallo", "m.mentions": {}}
FINAL = ("sent", "failed")


@dataclass
class Live:
    """The bot's side, in this process: store, client (syncing), sender (running)."""

    synapse: LocalSynapse
    server: Homeserver
    db: Database
    outbox: Outbox
    directory: RoomDirectory
    client: AsyncClient
    direct: DirectRooms
    admin_room: str
    notices: GivenUpNotices
    sender: OutboxSender

    async def person(self) -> str:
        name = unique("kollegin")
        return await asyncio.to_thread(self.synapse.register_user, name, f"pw-{name}")

    async def dm(self, user_id: str) -> str:
        """The bot's DM with `user_id`, created and synced (nothing sent yet)."""
        room_id = await self.direct.ensure(user_id)
        await until(lambda: room_id in self.client.rooms, 30, "the DM synced")
        return room_id

    async def put(self, key: str, action: str, kind: str, target: str, payload: Any) -> None:
        await self.outbox.enqueue(key, action, kind, target, payload)  # type: ignore[arg-type]
        self.sender.wake()

    async def message(self, key: str, kind: str, target: str, body: str = "Hallo") -> None:
        await self.put(key, "message", kind, target, {"content": {**NOTE, "body": body}})

    async def buttons(self, key: str, kind: str, target: str) -> None:
        for emoji in ("👍", "👎"):
            await self.put(
                f"{key}:react:{emoji}", "reaction", kind, target, {"original": key, "key": emoji}
            )

    async def row(self, key: str) -> tuple[str, int, str | None, str]:
        found = await self.db.fetchone(
            "SELECT status, attempts, last_error, payload FROM outbox WHERE key = ?", (key,)
        )
        assert found is not None, key
        return str(found[0]), int(found[1]), found[2], str(found[3])

    async def settled(self, *keys: str, within: float = 30.0) -> dict[str, str]:
        states: dict[str, str] = {}

        async def done() -> bool:
            for key in keys:
                states[key] = (await self.row(key))[0]
            return all(s in FINAL for s in states.values())

        await until(done, within, f"{keys} delivered or given up", interval=0.05)
        return states

    async def admin_notices(self) -> list[str]:
        return [
            str(e["content"].get("body", ""))
            for e in await self.server.events(self.admin_room)
            if e["type"] == "m.room.message" and e["sender"] == self.client.user_id
        ]


@pytest.fixture
def concurrency() -> int:
    """The sender's slots (tests of the order parametrize this to 1)."""
    return 4


@pytest.fixture
async def live(
    synapse: LocalSynapse, homeserver: Homeserver, tmp_path: Path, concurrency: int
) -> AsyncIterator[Live]:
    db = Database(tmp_path / "flurfunk.db")
    await db.open()
    name = unique("flurfunk")
    user_id = await asyncio.to_thread(synapse.register_user, name, f"pw-{name}")
    client = AsyncClient(synapse.url, user_id)
    await client.login(f"pw-{name}")
    created = await client.room_create(name="Administration", invite=[homeserver.admin.user_id])
    assert isinstance(created, RoomCreateResponse), created
    await client.sync(timeout=0)

    async def syncing() -> None:
        while True:
            await client.sync(timeout=500)

    sync = asyncio.create_task(syncing())
    outbox = Outbox(db)
    directory = RoomDirectory(db)
    direct = DirectRooms(client, directory, encrypted=False)
    notices = GivenUpNotices(outbox, created.room_id, "de")
    config = OutboxConfig(max_attempts=2, concurrency=concurrency, give_up_after_s=120)
    sender = OutboxSender(client, outbox, directory, direct, config, Metrics(), notices=notices)
    running = asyncio.create_task(sender.run())
    try:
        yield Live(
            synapse,
            homeserver,
            db,
            outbox,
            directory,
            client,
            direct,
            created.room_id,
            notices,
            sender,
        )
    finally:
        for task in (running, sync):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.close()
        await db.close()


async def test_a_dm_too_large_fails_with_its_buttons_and_keeps_the_dm(live: Live) -> None:
    """(A) and (D) of S-05: the homeserver refuses the DM (M_TOO_LARGE). It fails at once,
    its buttons fail with it, the DM record stays, the next DM goes into the same room,
    and the admin room hears one notice for the three, naming nobody."""
    live.notices.gather_s = 1.0
    person = await live.person()
    room_id = await live.dm(person)
    await live.message("huge", "dm", person, body="x" * 70_000)
    await live.buttons("huge", "dm", person)
    await live.message("after", "dm", person, body="Danach")
    states = await live.settled("huge", "huge:react:👍", "huge:react:👎", "after")
    assert states == {
        "huge": "failed",
        "huge:react:👍": "failed",
        "huge:react:👎": "failed",
        "after": "sent",
    }
    _, attempts, error, payload = await live.row("huge")
    assert (attempts, payload) == (1, "{}") and error is not None and "M_TOO_LARGE" in error
    assert await live.directory.dm_room(person) == room_id
    bodies = [
        str(e["content"].get("body"))
        for e in await live.server.sent_by(room_id, live.client.user_id)
    ]
    assert bodies == ["Danach"]

    async def noticed() -> bool:
        return bool(await live.admin_notices())

    await until(noticed, 15, "the admin notice")
    await asyncio.sleep(1.5)  # nothing else follows
    [notice] = await live.admin_notices()
    assert notice.startswith("⚠️ 3 Nachrichten von Flurfunk")
    assert person not in notice and "x" * 20 not in notice


async def test_items_for_a_room_whose_creation_failed_end(live: Live) -> None:
    """(B) of S-05: the room creation is refused; the introduction and its buttons queued
    for that room fail instead of waiting for a room that will never come."""
    key = f"coffee:{unique('runde')}/0"
    await live.put(
        f"{key}:intro:create",
        "create_room",
        "roomkey",
        key,
        {"name": "Kaffee", "invite": ["@kein gueltiger name"]},
    )
    await live.message(f"{key}:intro", "roomkey", key)
    await live.buttons(f"{key}:intro", "roomkey", key)
    states = await live.settled(
        f"{key}:intro:create", f"{key}:intro", f"{key}:intro:react:👍", f"{key}:intro:react:👎"
    )
    assert set(states.values()) == {"failed"}, states
    assert await live.directory.purpose_room(key) is None


async def test_a_follow_up_of_a_group_whose_room_was_never_created_ends(live: Live) -> None:
    """(B) of S-05: a member's `!vergessen` took the room creation and the introduction with
    it; the follow-up and its buttons, queued later, fail at once."""
    key = f"coffee:{unique('runde')}/1"
    started = time.monotonic()
    await live.message(f"{key}:followup", "roomkey", key)
    await live.buttons(f"{key}:followup", "roomkey", key)
    states = await live.settled(
        f"{key}:followup", f"{key}:followup:react:👍", f"{key}:followup:react:👎"
    )
    assert set(states.values()) == {"failed"}
    assert time.monotonic() - started < 5


async def test_items_for_a_room_the_bot_is_not_in_end(live: Live) -> None:
    """(B) of S-05: a room the bot left (or never joined). The message uses up its attempts
    (the bot might be invited back) and fails; it is not polled forever."""
    other = await live.server.call("POST", "/_matrix/client/v3/createRoom", {"name": "ohne Bot"})
    await live.message("elsewhere", "room", other["room_id"])
    # Queued a while ago: not a room that was just created and is still syncing.
    await live.db.execute(
        "UPDATE outbox SET created_at = created_at - 70 WHERE key = 'elsewhere'",
        name="test.age_outbox",
    )
    live.sender.wake()
    states = await live.settled("elsewhere", within=20)
    _, attempts, error, _ = await live.row("elsewhere")
    assert states == {"elsewhere": "failed"} and attempts == 2
    assert error is not None and "M_NOT_JOINED" in error


async def sent_order(live: Live, *room_ids: str) -> list[str]:
    """The bodies (and reaction keys) the bot put into these rooms, in the homeserver's
    order (origin_server_ts)."""
    events = [e for room in room_ids for e in await live.server.sent_by(room, live.client.user_id)]
    events.sort(key=lambda e: e["origin_server_ts"])
    return [
        str(e["content"]["m.relates_to"]["key"])
        if e["type"] == "m.reaction"
        else str(e["content"]["body"])
        for e in events
    ]


@pytest.mark.parametrize("concurrency", [1])
async def test_crisis_asks_first_then_replies_then_notices_then_buttons(live: Live) -> None:
    """One slot, everything queued at once (in the opposite order): the crisis ask goes
    first, then the answer to a command, then the announcement, then the ask's button."""
    asker, bridge = await live.person(), await live.person()
    asker_dm, bridge_dm = await live.dm(asker), await live.dm(bridge)
    created = await live.client.room_create(name="Ankündigungen")
    assert isinstance(created, RoomCreateResponse)
    board = created.room_id
    await until(lambda: board in live.client.rooms, 30, "the room synced")
    ask = f"crisis:{unique('A')}:ask:{bridge}"
    async with live.db.transaction(
        "test.outbox_stuck.test_crisis_asks_first_then_replies_then_notices_then_buttons"
    ):
        await live.message(unique("hosp"), "room", board, body="Ankündigung")
        await live.message(f"reply:{unique('$e')}:0", "dm", asker, body="Antwort")
        await live.message(ask, "dm", bridge, body="Anfrage")
        await live.put(f"{ask}:react:👍", "reaction", "dm", bridge, {"original": ask, "key": "👍"})

    async def all_out() -> bool:
        return len(await sent_order(live, board, asker_dm, bridge_dm)) == 4

    await until(all_out, 30, "four events")
    assert await sent_order(live, board, asker_dm, bridge_dm) == [
        "Anfrage",
        "Antwort",
        "Ankündigung",
        "👍",
    ]


@pytest.mark.parametrize("concurrency", [1])
async def test_one_persons_flood_does_not_hold_back_anybody_else(live: Live) -> None:
    """30 answers queued for one person, then one for another: with a single slot the
    other person's answer is the second event out, not the 31st."""
    flooder, other = await live.person(), await live.person()
    flooder_dm, other_dm = await live.dm(flooder), await live.dm(other)
    async with live.db.transaction(
        "test.outbox_stuck.test_one_persons_flood_does_not_hold_back_anybody_else"
    ):
        for i in range(30):
            await live.message(f"reply:{unique('$flood')}:{i}", "dm", flooder, body=f"Flut {i}")
        await live.message(f"reply:{unique('$other')}:0", "dm", other, body="Ihre Antwort")

    async def all_out() -> bool:
        return len(await sent_order(live, flooder_dm, other_dm)) == 31

    await until(all_out, 60, "31 answers")
    order = await sent_order(live, flooder_dm, other_dm)
    assert order.index("Ihre Antwort") <= 1, order[:5]


async def crisis_ask_latency(live: Live, person: str) -> float:
    """Seconds from queuing a crisis ask until it is recorded as delivered."""
    key = f"crisis:{unique('A')}:ask:{person}"
    await live.message(key, "dm", person, body="Wer kennt wen?")
    await live.settled(key, within=30)
    row = await live.db.fetchone("SELECT sent_at - created_at FROM outbox WHERE key = ?", (key,))
    assert row is not None and row[0] is not None
    return float(row[0])


async def test_five_thousand_stuck_items_do_not_starve_a_crisis_ask(live: Live) -> None:
    """The review's starvation case at 5,000: one target's items wait for a room that is
    not ready (polled, all due); a crisis ask to another person still goes out within 1 s
    of its time on an idle sender."""
    person = await live.person()
    await live.dm(person)
    await crisis_ask_latency(live, person)  # warm: the DM is used once
    idle = min([await crisis_ask_latency(live, person) for _ in range(3)])
    key = f"coffee:{unique('runde')}/0"
    await live.directory.set_purpose_room(key, f"!nirgends-{unique('r')}:localhost", [person])
    now = time.time()
    async with live.db.transaction(
        "test.outbox_stuck.test_five_thousand_stuck_items_do_not_starve_a_crisis_ask"
    ) as conn:
        await conn.executemany(
            "INSERT INTO outbox (key, action, target_kind, target, payload, next_attempt_at, "
            "created_at, priority) VALUES (?, 'message', 'roomkey', ?, ?, 0, ?, 2)",
            [(f"{key}:stuck:{i}", key, '{"content": {"body": "x"}}', now) for i in range(5000)],
        )
    live.sender.wake()
    await asyncio.sleep(1.0)  # the sender is busy with them
    stuck = max([await crisis_ask_latency(live, person) for _ in range(3)])
    print(f"\ncrisis ask: idle {1000 * idle:.0f} ms, 5,000 stuck items {1000 * stuck:.0f} ms")
    assert stuck <= idle + 1.0
    pending = await live.db.fetchone(
        "SELECT COUNT(*) FROM outbox WHERE target = ? AND status = 'pending'", (key,)
    )
    assert pending is not None and pending[0] == 5000  # still waiting, within their limit
