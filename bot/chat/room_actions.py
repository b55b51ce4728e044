"""What the sync loop does to rooms besides handling messages: accept or refuse invites,
leave (refused, or alone), follow upgrades, give up on undecryptable messages.

Each action is guarded: while the store is read-only it is put off (`bot.chat.readonly`,
also across a restart); if anything else fails (connection error, a hook's exception, the
store locked too long) it is logged and tried again after the next sync, at most
`RETRY_ATTEMPTS` times (review findings S-08, S-13). The arguments are plain JSON values,
so a put-off action can be stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    Event,
    InviteMemberEvent,
    MatrixRoom,
    MegolmEvent,
    RoomMemberEvent,
    RoomUpgradeEvent,
)

from bot.chat.configured_rooms import warn_about_upgraded_config
from bot.chat.dispatch import Dispatcher
from bot.chat.errors import NETWORK_ERRORS, check
from bot.chat.key_waits import KeyWaits
from bot.chat.rooms import DirectRooms, InviteGate, join_or_log, leave_for_good
from bot.chat.write_gate import ALWAYS_WRITABLE, WriteGate
from bot.store.db import StoreBusy, StoreUnavailable
from bot.store.rooms import RoomDirectory

log = logging.getLogger(__name__)

# A failed action is tried again after each sync, at most this often.
RETRY_ATTEMPTS = 10

Action = Callable[..., Awaitable[object]]


@dataclass
class RoomActions:
    client: AsyncClient
    rooms: RoomDirectory
    direct: DirectRooms
    dispatcher: Dispatcher
    invites: InviteGate
    keys: KeyWaits
    readonly: WriteGate = ALWAYS_WRITABLE
    # Rooms named in the config: never left for being alone; an upgrade of one is logged
    # as a warning (the config should name the new room).
    configured_rooms: dict[str, list[str]] = field(default_factory=dict)
    # Failed actions to try again after the next sync: key -> (kind, args, attempts).
    _retries: dict[str, tuple[str, dict[str, Any], int]] = field(default_factory=dict)

    def _actions(self) -> dict[str, Action]:
        """What `guarded` can do (and put off, retry, or store across a restart), by kind;
        the arguments are plain JSON values."""
        return {
            "invite": self._accept_invite,
            "leave": self._leave,
            "alone": self._leave_alone,
            "upgrade": self._follow_upgrade,
            "undecryptable": self._give_up_decryption,
        }

    async def leave_if_alone(self, room: MatrixRoom) -> None:
        """The last other member left (nobody joined or invited but the bot): leave, so the
        joined rooms and the full-member sync do not only grow (S-22). Never a room named in
        the config (the operator chose it)."""
        if set(room.users) | set(room.invited_users) != {self.client.user_id}:
            return
        configured = self.configured_rooms
        if any(self.rooms.upgrades.current(c) == room.room_id for c in configured) or (
            room.room_id in configured
        ):
            return
        log.info("alone in %s: leaving", room.room_id)
        await self.guarded(f"alone:{room.room_id}", "alone", {"room_id": room.room_id})

    async def _leave_alone(self, room_id: str) -> None:
        user_id = await self.rooms.dm_user(room_id)
        if user_id is not None:
            # The person left their DM: a new one is opened when there is something to say.
            await self.rooms.forget_dm(user_id)
        await leave_for_good(self.client, room_id)

    async def guarded(self, key: str, kind: str, args: dict[str, Any], attempts: int = 0) -> None:
        """Do the action `kind` now. If the store is read-only it is put off until it takes
        writes again; if anything else fails (the homeserver unreachable, a hook's bug, the
        store locked too long) it is logged and tried again after the next sync."""
        try:
            await self._actions()[kind](**args)
        except StoreUnavailable:
            await self.readonly.defer(key, kind, args)
        except (StoreBusy, *NETWORK_ERRORS) as exc:
            self._retry_later(key, kind, args, attempts + 1, str(exc) or type(exc).__name__)
        except Exception as exc:
            log.exception("%s failed", key)
            self._retry_later(key, kind, args, attempts + 1, type(exc).__name__)

    def _retry_later(
        self, key: str, kind: str, args: dict[str, Any], attempts: int, reason: str
    ) -> None:
        if attempts >= RETRY_ATTEMPTS:
            log.error("%s failed %d times (%s); giving up", key, attempts, reason)
            return
        log.warning("%s failed (%s); trying again after the next sync", key, reason)
        self._retries[key] = (kind, args, attempts)

    async def retry_failed(self) -> None:
        for key, (kind, args, attempts) in list(self._retries.items()):
            del self._retries[key]
            await self.guarded(key, kind, args, attempts)

    async def _give_up_decryption(self, room_id: str, event: dict[str, Any]) -> None:
        megolm = MegolmEvent.from_dict(event)
        if isinstance(megolm, MegolmEvent):
            await self.dispatcher.on_undecryptable(room_id, megolm)
        event_id = event.get("event_id")
        if isinstance(event_id, str):
            await self.keys.done(event_id)

    async def on_invite(self, room_id: str, invite_state: list[Event]) -> None:
        me = self.client.user_id
        for event in invite_state:
            if not isinstance(event, InviteMemberEvent):
                continue
            if event.state_key != me or event.membership != "invite":
                continue
            decision = self.invites.decide(event.sender)
            if not decision.accept:
                log.info("rejecting invite to %s: %s", room_id, decision.reason)
                await self.guarded(f"leave:{room_id}", "leave", {"room_id": room_id})
                return
            # A "direct" invite into a room that has other members is a group room (S-04).
            others = any(
                isinstance(other, (InviteMemberEvent, RoomMemberEvent))
                and other.state_key not in (me, event.sender)
                and other.membership in ("join", "invite")
                for other in invite_state
            )
            args = {
                "room_id": room_id,
                "inviter": event.sender,
                "is_direct": bool(event.content.get("is_direct")) and not others,
            }
            await self.guarded(f"invite:{room_id}", "invite", args)
            return

    async def _leave(self, room_id: str) -> None:
        # nio answers a failed leave with an error response instead of raising: `check`
        # turns it into an exception, so `guarded` tries again after the next sync. Refusing
        # a federated invite needs the inviter's homeserver, which may be slow or away.
        check(await self.client.room_leave(room_id))

    async def _accept_invite(self, room_id: str, inviter: str, is_direct: bool) -> None:
        if not await join_or_log(self.client, room_id):
            return
        if is_direct and self.direct.has_others(room_id, inviter):
            log.info("invite to %s was direct, but others are in it: a group room", room_id)
        elif is_direct:
            # Encrypted before anything personal is said (S-16).
            await self.direct.ensure_encrypted(room_id)
            await self.direct.remember(inviter, room_id)
            await self.dispatcher.on_dm_joined(room_id, inviter)

    async def upgraded(self, room_id: str, event: RoomUpgradeEvent) -> None:
        if event.replacement_room:
            await self.guarded(
                f"upgrade:{room_id}",
                "upgrade",
                {"room_id": room_id, "new_room": event.replacement_room},
            )

    async def _follow_upgrade(self, room_id: str, new_room: str) -> None:
        if await self.rooms.upgraded_to(room_id) == new_room:
            return
        log.info("room %s was upgraded to %s, following", room_id, new_room)
        if await join_or_log(self.client, new_room):
            await self.rooms.replace_room(room_id, new_room)
            if room_id in self.configured_rooms:
                warn_about_upgraded_config(
                    {room_id: self.configured_rooms[room_id]}, self.rooms.upgrades
                )
