"""A refused invite whose leave fails is refused again after the next sync.

Refusing an invite from another homeserver goes through that homeserver; when it is slow
or away, Synapse answers the leave with an error. nio returns that error instead of raising
it, and the bot used to take it as done: the stranger's invite stayed open for ever.
"""

from __future__ import annotations

from typing import Any, cast

from nio import RoomLeaveError, RoomLeaveResponse

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
