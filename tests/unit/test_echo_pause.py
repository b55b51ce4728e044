"""While the outbox sends, every echo of the bot's own messages ends the sync's long-poll:
the loop pauses briefly after such a batch (bot.chat.pacing.ECHO_PAUSE_S), and only after
such a batch, so that a fan-out is not slowed by a sync per message while anything someone
else says is still picked up at once."""

from __future__ import annotations

from typing import Any

from nio import SyncResponse

from bot.chat.pacing import only_own_messages

BOT = "@flurfunk:rathaus.example"
PERSON = "@kollegin:rathaus.example"
ROOM = "!dm:rathaus.example"


def message(sender: str, n: int) -> dict[str, Any]:
    return {
        "type": "m.room.encrypted",
        "event_id": f"$e{n}",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000 + n,
        "content": {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "x",
            "sender_key": "k",
            "session_id": "s",
            "device_id": "D",
        },
    }


def member(sender: str, n: int) -> dict[str, Any]:
    return {
        **message(sender, n),
        "type": "m.room.member",
        "state_key": PERSON,
        "content": {"membership": "leave"},
    }


def batch(
    timeline: list[dict[str, Any]], *, invite: bool = False, to_device: bool = False
) -> SyncResponse:
    rooms: dict[str, Any] = {"join": {ROOM: {"timeline": {"events": timeline}}} if timeline else {}}
    body: dict[str, Any] = {"next_batch": "s1", "rooms": rooms}
    if invite:
        rooms["invite"] = {"!new:rathaus.example": {"invite_state": {"events": []}}}
    if to_device:
        body["to_device"] = {"events": [{"type": "m.dummy", "sender": PERSON, "content": {}}]}
    response = SyncResponse.from_dict(body)
    assert isinstance(response, SyncResponse), response
    return response


def test_a_batch_of_the_bots_own_echoes_pauses_the_next_sync() -> None:
    assert only_own_messages(batch([message(BOT, 1), message(BOT, 2)]), BOT)


def test_anything_else_in_the_batch_means_no_pause() -> None:
    # Someone else's message, however many echoes around it: answered without delay.
    assert not only_own_messages(batch([message(BOT, 1), message(PERSON, 2)]), BOT)
    # State, even the bot's own (a DM it just created must come down the sync at once).
    assert not only_own_messages(batch([member(BOT, 1)]), BOT)
    # An invitation, or a to-device message (room keys), with the echoes.
    assert not only_own_messages(batch([message(BOT, 1)], invite=True), BOT)
    assert not only_own_messages(batch([message(BOT, 1)], to_device=True), BOT)
    # An empty batch: the long-poll ran out, nothing to gather.
    assert not only_own_messages(batch([]), BOT)
