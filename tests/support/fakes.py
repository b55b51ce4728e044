"""A Messenger that records what services asked to send (the Matrix side is tested in
tests/integration against a real Synapse), and a stand-in for nio's raw HTTP responses.

`RecordingMessenger` subclasses the `Messenger` port, so mypy reports it as soon as the
port gains or changes a method it does not follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.services.ports import Attachment, Messenger, Say


@dataclass
class Sent:
    kind: str
    target: str
    message: Say | None
    effect_key: str
    extra: dict[str, Any] = field(default_factory=dict)


class RecordingMessenger(Messenger):
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._keys: set[str] = set()

    def _record(self, sent: Sent) -> None:
        # Same contract as the outbox: an effect key is delivered at most once.
        if sent.effect_key not in self._keys:
            self._keys.add(sent.effect_key)
            self.sent.append(sent)

    async def tell(
        self,
        user_id: str,
        message: Say,
        *,
        effect_key: str,
        attachment: Attachment | None = None,
        reactions: tuple[str, ...] = (),
    ) -> None:
        self._record(
            Sent(
                "tell",
                user_id,
                message,
                effect_key,
                {"attachment": attachment, "reactions": reactions},
            )
        )

    async def post(
        self, room_id: str, message: Say, *, effect_key: str, mention: list[str] | None = None
    ) -> None:
        self._record(Sent("post", room_id, message, effect_key, {"mention": mention}))

    async def edit(self, original_effect_key: str, message: Say, *, effect_key: str) -> None:
        self._record(Sent("edit", original_effect_key, message, effect_key))

    async def open_room(
        self, room_key: str, *, name: Say, invite: list[str], intro: Say, effect_key: str
    ) -> None:
        self._record(
            Sent("open_room", room_key, intro, effect_key, {"invite": invite, "name": name})
        )

    async def post_in_room(
        self, room_key: str, message: Say, *, effect_key: str, reactions: tuple[str, ...] = ()
    ) -> None:
        self._record(Sent("post_in_room", room_key, message, effect_key, {"reactions": reactions}))

    async def post_file(
        self,
        room_id: str,
        attachment: Attachment,
        *,
        effect_key: str,
        picture: tuple[int, int] | None = None,
    ) -> None:
        self._record(
            Sent("file", room_id, None, effect_key, {"attachment": attachment, "picture": picture})
        )

    def to(self, target: str) -> list[Sent]:
        return [s for s in self.sent if s.target == target]

    def keys(self) -> list[str]:
        return [s.message.key for s in self.sent if s.message is not None]


@dataclass
class FakeHttpResponse:
    """What nio's raw `send` returns to the callers that read JSON (m.direct, profiles)."""

    status: int
    data: dict[str, Any]

    async def json(self, content_type: str | None = None) -> dict[str, Any]:
        return self.data

    def release(self) -> None:
        pass
