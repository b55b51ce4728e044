"""Creating the private room for a purpose (a match, a circle, a crisis connection) once.

Matrix has no idempotent room creation. A marker row is written before the request and
the room carries its purpose as state, so after a crash in the middle the room the
homeserver did create is found again instead of a second one being made.
"""

from __future__ import annotations

from nio import AsyncClient, RoomCreateResponse

from bot.chat.errors import check
from bot.chat.rooms import ENCRYPTION_STATE
from bot.store.rooms import RoomDirectory

PURPOSE_EVENT = "org.flurfunk.purpose"


async def create_purpose_room(
    client: AsyncClient, rooms: RoomDirectory, key: str, name: str, invite: list[str]
) -> str:
    existing = await rooms.purpose_room(key)
    if existing is None and await rooms.creation_started(key):
        existing = await _find_created_room(client, key, name, invite)
        if existing is not None:
            await rooms.set_purpose_room(key, existing, invite)
    if existing is not None:
        return existing
    await rooms.start_creation(key, invite)
    response = check(
        await client.room_create(
            name=name,
            invite=invite,
            is_direct=False,
            initial_state=[
                ENCRYPTION_STATE,
                {"type": PURPOSE_EVENT, "state_key": "", "content": {"key": key}},
            ],
        )
    )
    assert isinstance(response, RoomCreateResponse)
    await rooms.set_purpose_room(key, response.room_id, invite)
    return str(response.room_id)


async def _find_created_room(
    client: AsyncClient, key: str, name: str, invite: list[str]
) -> str | None:
    invited = set(invite)
    for room_id, room in list(client.rooms.items()):
        if room.name != name or not invited <= set(room.users):
            continue
        marker = await client.room_get_state_event(room_id, PURPOSE_EVENT)
        if getattr(marker, "content", {}).get("key") == key:
            return room_id
    return None
