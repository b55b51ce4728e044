"""The ports services use to reach people. Implemented in `bot.chat`.

Services name *what* to say (a catalogue key and parameters) and *to whom*; the chat
layer decides the language, renders it and delivers it exactly once. Every effect has
a deterministic `effect_key`, so repeating a use case after a crash repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes


@dataclass(frozen=True)
class Say:
    """A catalogue message with its parameters."""

    key: str
    params: dict[str, object] = field(default_factory=dict)


class Messenger(Protocol):
    async def tell(
        self,
        user_id: str,
        message: Say,
        *,
        effect_key: str,
        attachment: Attachment | None = None,
        reactions: tuple[str, ...] = (),
    ) -> None:
        """A direct message to one person, in that person's language, optionally with
        reaction buttons (answers arrive through `HOOKS.reaction` with `effect_key`)."""

    async def post(
        self, room_id: str, message: Say, *, effect_key: str, mention: list[str] | None = None
    ) -> None:
        """A notice in a room the bot is in (announcement, crisis, admin room)."""

    async def edit(self, original_effect_key: str, message: Say, *, effect_key: str) -> None:
        """Replace the text of an earlier post (announcements, request status)."""

    async def open_room(
        self, room_key: str, *, name: Say, invite: list[str], intro: Say, effect_key: str
    ) -> None:
        """Create a private encrypted room for a purpose, invite people, post an intro."""

    async def post_in_room(
        self, room_key: str, message: Say, *, effect_key: str, reactions: tuple[str, ...] = ()
    ) -> None:
        """A notice in a room created by `open_room`, optionally with reaction buttons."""

    async def post_file(
        self,
        room_id: str,
        attachment: Attachment,
        *,
        effect_key: str,
        picture: tuple[int, int] | None = None,
    ) -> None:
        """A file in a room the bot is in; with `picture` (width, height in pixels) it is
        shown inline as an image."""


class AccountDirectory(Protocol):
    """What the homeserver knows about accounts (implemented in `bot.chat.accounts`)."""

    async def is_active(self, user_id: str) -> bool | None:
        """True: the account exists and is active. False: deactivated or unknown to its
        homeserver. None: could not tell right now (network, refused lookup)."""

    def known_display_name(self, user_id: str) -> str | None:
        """The display name as last seen in a shared room; never asks the homeserver."""


class NoAccountDirectory:
    """For tests and tools without a homeserver connection: knows nothing."""

    async def is_active(self, user_id: str) -> bool | None:
        return None

    def known_display_name(self, user_id: str) -> str | None:
        return None
