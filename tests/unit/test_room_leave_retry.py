"""A refused invite whose leave fails is refused again after the next sync.

Refusing an invite from another homeserver goes through that homeserver; when it is slow
or away, Synapse answers the leave with an error. nio returns that error instead of raising
it, and the bot used to take it as done: the stranger's invite stayed open for ever.

A room the bot is alone in is left and forgotten, so it no longer comes with every sync; a
forget that fails never undoes the leave.
"""

from __future__ import annotations

from typing import Any, cast

import aiohttp
from nio import RoomForgetError, RoomForgetResponse, RoomLeaveError, RoomLeaveResponse

from bot.chat.room_actions import RoomActions


class FlakyLeaves:
    """A client whose first leave the homeserver answers with an error."""

    user_id = "@flurfunk:hier.example"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.left: list[str] = []

    async def room_leave(self, room_id: str) -> RoomLeaveResponse | RoomLeaveError:
        if self.failures:
            self.failures -= 1
            return RoomLeaveError("Failed to make_leave via dort.example", "502")
        self.left.append(room_id)
        return RoomLeaveResponse()


def actions(client: FlakyLeaves) -> RoomActions:
    unused = cast(Any, None)  # refusing an invite needs none of the other collaborators
    return RoomActions(cast(Any, client), unused, unused, unused, unused, unused)


async def test_a_failed_refusal_is_tried_again_after_the_next_sync() -> None:
    client = FlakyLeaves(failures=1)
    room = actions(client)
    await room.guarded("leave:!fremd:dort.example", "leave", {"room_id": "!fremd:dort.example"})
    assert client.left == []
    await room.retry_failed()  # what the sync loop does after its next sync
    assert client.left == ["!fremd:dort.example"]


async def test_a_refusal_that_keeps_failing_is_given_up_in_the_end() -> None:
    client = FlakyLeaves(failures=1_000)
    room = actions(client)
    await room.guarded("leave:!fremd:dort.example", "leave", {"room_id": "!fremd:dort.example"})
    for _ in range(50):
        await room.retry_failed()
    assert client.left == [] and client.failures == 1_000 - 10


# -- leaving a room the bot is alone in: left and forgotten ----------------------------

ALONE = "!leer:hier.example"


class Forgetting:
    """A client that leaves rooms at once and forgets them as `forget` says, one outcome a
    call: "ok", "refused" (the homeserver says no) or "cut off" (the connection drops)."""

    user_id = "@flurfunk:hier.example"
    olm = None  # no crypto store: nothing to drop there
    store = None

    def __init__(self, *forget: str) -> None:
        self.outcomes = list(forget)
        self.rooms: dict[str, object] = {ALONE: object()}
        self.left: list[str] = []
        self.forgotten: list[str] = []

    async def room_leave(self, room_id: str) -> RoomLeaveResponse | RoomLeaveError:
        if room_id in self.left:  # Synapse refuses to leave a room one is not in
            return RoomLeaveError("You are not in this room", "M_FORBIDDEN")
        self.left.append(room_id)
        return RoomLeaveResponse()

    async def room_forget(self, room_id: str) -> RoomForgetResponse | RoomForgetError:
        outcome = self.outcomes.pop(0)
        if outcome == "cut off":
            raise aiohttp.ClientConnectionError("homeserver unreachable")
        if outcome == "refused":
            return RoomForgetError("nope", "M_UNKNOWN")
        self.forgotten.append(room_id)
        self.rooms.pop(room_id, None)  # as nio does with the answer
        return RoomForgetResponse(room_id)


class NoDms:
    async def dm_user(self, room_id: str) -> str | None:
        return None


def alone_actions(client: Forgetting) -> RoomActions:
    unused = cast(Any, None)  # leaving a room that is no DM needs none of the others
    return RoomActions(cast(Any, client), cast(Any, NoDms()), unused, unused, unused, unused)


async def leave_alone(room: RoomActions) -> None:
    await room.guarded(f"alone:{ALONE}", "alone", {"room_id": ALONE})


async def test_a_room_the_bot_is_alone_in_is_left_and_forgotten() -> None:
    client = Forgetting("ok")
    await leave_alone(alone_actions(client))
    assert client.left == [ALONE]
    assert client.forgotten == [ALONE]
    assert ALONE not in client.rooms


async def test_a_refused_forget_still_leaves_the_room_behind() -> None:
    """The homeserver refuses the forget: the bot is out of the room all the same, drops
    it from memory and does not try again (the next leave would only be refused)."""
    client = Forgetting("refused")
    room = alone_actions(client)
    await leave_alone(room)
    await room.retry_failed()
    assert client.left == [ALONE] and client.outcomes == []
    assert ALONE not in client.rooms


async def test_a_forget_cut_off_is_tried_again_after_the_next_sync() -> None:
    """The connection drops on the forget: after the next sync the leave counts as done
    (the bot is out already) and the forget goes through."""
    client = Forgetting("cut off", "ok")
    room = alone_actions(client)
    await leave_alone(room)
    assert client.left == [ALONE] and client.forgotten == []
    await room.retry_failed()
    assert client.forgotten == [ALONE]
