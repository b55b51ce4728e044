"""What a command handler gets: who asked, where, in which language, and how to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.roles import Role
from bot.i18n import Lang
from bot.i18n.render import Rendered, render
from bot.services.ports import Attachment, Say

if TYPE_CHECKING:
    from bot.chat.messenger import ChatMessenger
    from bot.services.hub import Services


@dataclass
class CommandContext:
    sender: str
    room_id: str
    event_id: str
    is_dm: bool
    lang: Lang
    roles: frozenset[Role]
    prefix: str
    services: Services
    messenger: ChatMessenger
    _replies: int = field(default=0, repr=False)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def text(self, key: str, **params: object) -> Rendered:
        return render(key, self.lang, prefix=self.prefix, **params)

    def _next_key(self) -> str:
        self._replies += 1
        return f"reply:{self.event_id}:{self._replies}"

    async def reply(self, key: str, **params: object) -> None:
        await self.reply_rendered(self.text(key, **params))

    async def reply_say(self, message: Say) -> None:
        await self.reply_rendered(self.messenger.render(message, self.lang))

    async def reply_rendered(self, rendered: Rendered) -> None:
        await self.messenger.reply(
            self.room_id,
            rendered,
            # In shared rooms, make clear whom the answer is for.
            in_reply_to=None if self.is_dm else self.event_id,
            effect_key=self._next_key(),
            subject_user=self.sender,
        )

    async def reply_file(
        self,
        attachment: Attachment,
        *,
        msgtype: str = "m.file",
        info: dict[str, object] | None = None,
    ) -> None:
        """A file in the room; `msgtype="m.image"` with `info={"w": …, "h": …}` a picture."""
        await self.messenger.send_file(
            "room",
            self.room_id,
            attachment,
            effect_key=self._next_key(),
            msgtype=msgtype,
            info=info,
        )
