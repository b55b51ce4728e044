"""The integration harness itself: a real Synapse and real E2EE clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import pytest
from nio import ReactionEvent, RoomMessageText

from bot.devserver import LocalSynapse
from tests.support.fixtures import MakeUser
from tests.support.matrix_user import MatrixError, MatrixUser, unique_localpart


async def test_encrypted_dm_opened_like_element(make_user: MakeUser) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob", accept_invites=True)

    room_id = await alice.open_dm(bob.user_id)
    assert await bob.wait_for_invite() == room_id
    first = await alice.send_text(room_id, "Grüß Gott, Bob!")

    received = await bob.wait_for_message(room_id, sender=alice.user_id)
    assert isinstance(received, RoomMessageText)
    assert received.event_id == first
    assert received.body == "Grüß Gott, Bob!"
    assert received.decrypted

    # And back: a member who joined later encrypts for the room's creator.
    await bob.wait_for_room(room_id, encrypted=True)
    reply = await bob.send_text(room_id, "Servus, Alice")
    answer = await alice.wait_for_message(room_id, sender=bob.user_id)
    assert (answer.event_id, answer.body) == (reply, "Servus, Alice")

    reaction = await bob.react(room_id, first, "👍")

    def reacted() -> ReactionEvent | None:
        for event in alice.room_events(room_id):
            if isinstance(event, ReactionEvent) and event.event_id == reaction:
                return event
        return None

    event = await alice._wait_until(reacted, 10, "reaction")
    assert (event.reacts_to, event.key) == (first, "👍")

    # The server saw ciphertext only, and the DM markers Element sets.
    raw = await alice.raw_room_events(room_id)
    types = [e["type"] for e in raw]
    assert "m.room.message" not in types
    assert "m.reaction" not in types
    encrypted = [e for e in raw if e["type"] == "m.room.encrypted"]
    assert {e["event_id"] for e in encrypted} >= {first, reply, reaction}
    invite = next(
        e
        for e in raw
        if e["type"] == "m.room.member" and e["content"].get("membership") == "invite"
    )
    assert invite["content"]["is_direct"] is True
    assert await alice.account_data("m.direct") == {bob.user_id: [room_id]}


async def test_synapse_restart_keeps_users_and_rooms(
    synapse: LocalSynapse, make_user: MakeUser
) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob", accept_invites=True)
    room_id = await alice.open_dm(bob.user_id)
    await bob.wait_for_invite()

    await asyncio.to_thread(synapse.stop)
    await asyncio.to_thread(synapse.start)

    # Same access tokens, same room; the sync loops reconnect by themselves.
    whoami = await bob.client.whoami()
    assert getattr(whoami, "user_id", None) == bob.user_id
    sent = await alice.send_text(room_id, "still here?")
    received = await bob.wait_for_message(room_id, sender=alice.user_id, timeout=20)
    assert (received.event_id, received.body) == (sent, "still here?")


async def test_message_sent_before_the_invitee_joins_is_readable(make_user: MakeUser) -> None:
    # Someone opens a DM with the bot and types at once: the room key must reach the
    # invited (not yet joined) device, and the backlog must decrypt after joining.
    alice = await make_user("alice")
    bob = await make_user("bob", accept_invites=False)
    room_id = await alice.open_dm(bob.user_id)
    assert await bob.wait_for_invite() == room_id
    sent = await alice.send_text(room_id, "hilfe")

    await bob.client.join(room_id)
    received = await bob.wait_for_message(room_id, sender=alice.user_id)
    assert (received.event_id, received.body, received.decrypted) == (sent, "hilfe", True)


async def test_default_rate_limits_answer_429(
    synapse_default_limits: LocalSynapse, tmp_path: Path
) -> None:
    carol = await MatrixUser.create(
        synapse_default_limits, unique_localpart("carol"), tmp_path, start=False
    )
    try:
        created = await carol._http("POST", "/_matrix/client/v3/createRoom", {})
        room = quote(created["room_id"], safe="")
        with pytest.raises(MatrixError, match=r"429.*M_LIMIT_EXCEEDED"):
            for n in range(30):  # rc_message: burst 10, then 0.2/s
                path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{n}"
                await carol._http("PUT", path, {"msgtype": "m.text", "body": str(n)})
    finally:
        await carol.close()


async def test_encrypted_dm_across_federation(
    synapse_pair: tuple[LocalSynapse, LocalSynapse], tmp_path: Path
) -> None:
    home, remote = synapse_pair
    alice = await MatrixUser.create(home, unique_localpart("alice"), tmp_path)
    bob = await MatrixUser.create(remote, unique_localpart("bob"), tmp_path)
    try:
        room_id = await alice.open_dm(bob.user_id)
        assert await bob.wait_for_invite(timeout=30) == room_id
        sent = await alice.send_text(room_id, "über die Föderation")
        received = await bob.wait_for_message(room_id, sender=alice.user_id, timeout=30)
        assert (received.event_id, received.body, received.decrypted) == (
            sent,
            "über die Föderation",
            True,
        )
        await bob.wait_for_room(room_id, encrypted=True)
        await bob.send_text(room_id, "zurück")
        answer = await alice.wait_for_message(room_id, sender=bob.user_id, timeout=30)
        assert answer.body == "zurück"
    finally:
        await alice.close()
        await bob.close()
