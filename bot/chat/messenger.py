"""The Messenger port implemented on the outbox: render in the recipient's language,
store the effect, wake the sender. Nothing here talks to the homeserver directly.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from bot.chat.content import notice, with_reply
from bot.i18n import Lang
from bot.i18n.render import Rendered, render
from bot.services.ports import Attachment, Say
from bot.store.outbox import Outbox

# The language a person chose, or None if they never chose one.
LanguagePreference = Callable[[str], Awaitable[Lang | None]]


def preferred_language(
    preference: LanguagePreference, default: Lang
) -> Callable[[str], Awaitable[Lang]]:
    """The language to write to a person in: the one they chose, else the default. Also for
    what is built before the messenger (read-only mode, which the sender needs, whose wake
    the messenger needs)."""

    async def language_of(user_id: str) -> Lang:
        return await preference(user_id) or default

    return language_of


class ChatMessenger:
    def __init__(
        self,
        outbox: Outbox,
        preference: LanguagePreference,
        default_lang: Lang,
        wake: Callable[[], None],
    ) -> None:
        self.outbox = outbox
        self.preference = preference
        self.default_lang = default_lang
        self.wake = wake
        self.language_of = preferred_language(preference, default_lang)

    async def has_language_choice(self, user_id: str) -> bool:
        return await self.preference(user_id) is not None

    def render(self, message: Say, lang: Lang) -> Rendered:
        params = {
            k: (render(v.key, lang, **v.params) if isinstance(v, Say) else v)
            for k, v in message.params.items()
        }
        return render(message.key, lang, **params)

    async def send_rendered(
        self,
        target_kind: str,
        target: str,
        rendered: Rendered,
        *,
        effect_key: str,
        mention: list[str] | None = None,
        extra: dict[str, object] | None = None,
        subject_user: str | None = None,
    ) -> None:
        content = {**notice(rendered, mention), **(extra or {})}
        await self.outbox.enqueue(
            effect_key,
            "message",
            target_kind,  # type: ignore[arg-type]
            target,
            {"content": content},
            subject_user=subject_user,
        )
        self.wake()

    async def reply(
        self,
        room_id: str,
        rendered: Rendered,
        *,
        effect_key: str,
        in_reply_to: str | None = None,
        subject_user: str | None = None,
    ) -> None:
        """The answer to a command or dialog text; `in_reply_to` (the event answered)
        makes it a Matrix reply, which says whom it is for in a shared room."""
        relation = {} if in_reply_to is None else with_reply({}, in_reply_to)
        await self.send_rendered(
            "room",
            room_id,
            rendered,
            effect_key=effect_key,
            extra=relation,
            subject_user=subject_user,
        )

    async def tell(
        self,
        user_id: str,
        message: Say,
        *,
        effect_key: str,
        attachment: Attachment | None = None,
        reactions: tuple[str, ...] = (),
    ) -> None:
        lang = await self.language_of(user_id)
        await self.send_rendered(
            "dm", user_id, self.render(message, lang), effect_key=effect_key, subject_user=user_id
        )
        for emoji in reactions:
            # Same target as the message, so the sender delivers it after the message.
            await self.outbox.enqueue(
                f"{effect_key}:react:{emoji}",
                "reaction",
                "dm",
                user_id,
                {"original": effect_key, "key": emoji},
                subject_user=user_id,
            )
        if attachment is not None:
            await self.send_file("dm", user_id, attachment, effect_key=effect_key + ":file")

    async def send_file(
        self,
        target_kind: str,
        target: str,
        attachment: Attachment,
        *,
        effect_key: str,
        msgtype: str = "m.file",
        info: dict[str, object] | None = None,
    ) -> None:
        """`msgtype="m.image"` with `info={"w": …, "h": …}` sends a picture clients show inline."""
        payload: dict[str, object] = {
            "filename": attachment.filename,
            "mimetype": attachment.mimetype,
            "data": base64.b64encode(attachment.data).decode("ascii"),
        }
        if msgtype != "m.file":
            payload["msgtype"] = msgtype
        if info:
            payload["info"] = info
        await self.outbox.enqueue(
            effect_key,
            "file",
            target_kind,  # type: ignore[arg-type]
            target,
            payload,
            subject_user=target if target_kind == "dm" else None,
        )
        self.wake()

    async def post_file(
        self,
        room_id: str,
        attachment: Attachment,
        *,
        effect_key: str,
        picture: tuple[int, int] | None = None,
    ) -> None:
        if picture is None:
            await self.send_file("room", room_id, attachment, effect_key=effect_key)
            return
        width, height = picture
        await self.send_file(
            "room",
            room_id,
            attachment,
            effect_key=effect_key,
            msgtype="m.image",
            info={"w": width, "h": height},
        )

    async def post(
        self, room_id: str, message: Say, *, effect_key: str, mention: list[str] | None = None
    ) -> None:
        rendered = self.render(message, self.default_lang)
        await self.send_rendered("room", room_id, rendered, effect_key=effect_key, mention=mention)

    async def edit(self, original_effect_key: str, message: Say, *, effect_key: str) -> None:
        content = notice(self.render(message, self.default_lang))
        await self.outbox.enqueue(
            effect_key, "edit", "room", "-", {"original": original_effect_key, "content": content}
        )
        self.wake()

    async def open_room(
        self, room_key: str, *, name: Say, invite: list[str], intro: Say, effect_key: str
    ) -> None:
        title = self.render(name, self.default_lang).plain
        await self.outbox.enqueue(
            effect_key + ":create",
            "create_room",
            "roomkey",
            room_key,
            {"name": title, "invite": sorted(set(invite))},
        )
        await self.post_in_room(room_key, intro, effect_key=effect_key, mention=invite)

    async def post_in_room(
        self,
        room_key: str,
        message: Say,
        *,
        effect_key: str,
        reactions: tuple[str, ...] = (),
        mention: list[str] | None = None,
    ) -> None:
        rendered = self.render(message, self.default_lang)
        await self.send_rendered(
            "roomkey", room_key, rendered, effect_key=effect_key, mention=mention
        )
        for emoji in reactions:
            await self.outbox.enqueue(
                f"{effect_key}:react:{emoji}",
                "reaction",
                "roomkey",
                room_key,
                {"original": effect_key, "key": emoji},
            )
        self.wake()
