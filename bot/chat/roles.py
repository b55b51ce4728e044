"""Who may do what: admins and crisis staff from the config, crisis room membership.

Membership of the crisis room is a role only while nobody can walk into it (review finding
S-03): its join rule is `invite` and inviting needs power level 50 or more. The sync loop
hands the room's `m.room.join_rules` and `m.room.power_levels` to `observe` (nio's own
defaults are not the spec's: a missing `invite` level is 0, not 50) and calls
`check_crisis_room` after each batch. While the room is not closed, or its state is not
known yet, only the configured `crisis.staff` have the role; the change is logged as a
WARNING and posted once to the admin room.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nio import AsyncClient

from bot.domain.roles import Role
from bot.services.ports import Say
from bot.store.rooms import RoomUpgrades

if TYPE_CHECKING:
    from bot.chat.messenger import ChatMessenger

log = logging.getLogger(__name__)

JOIN_RULES = "m.room.join_rules"
POWER_LEVELS = "m.room.power_levels"
# The power level inviting must need, at least, for membership to count as a role.
MIN_INVITE_LEVEL = 50


class RoleResolver:
    def __init__(
        self,
        client: AsyncClient,
        admins: list[str],
        crisis_staff: list[str],
        crisis_room: str | None,
        upgrades: RoomUpgrades | None = None,
        *,
        messenger: ChatMessenger | None = None,
        admin_room: str | None = None,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.crisis_staff = frozenset(crisis_staff)
        self.configured_crisis_room = crisis_room
        self.upgrades = upgrades or RoomUpgrades()
        self.messenger = messenger
        self.admin_room = admin_room
        # room -> event type -> content of the last join rules / power levels seen.
        self._state: dict[str, dict[str, dict[str, Any]]] = {}
        # The problem last told (None: the room was closed, or nothing told yet).
        self._told: str | None = None

    @property
    def crisis_room(self) -> str | None:
        """The crisis room now: the configured one, or the room that replaced it when it
        was upgraded (S-24), so the role follows the people into the new room."""
        room = self.configured_crisis_room
        return None if room is None else self.upgrades.current(room)

    def roles_of(self, user_id: str) -> frozenset[Role]:
        roles = {Role.STAFF}
        if user_id in self.admins:
            roles.add(Role.ADMIN)
        if user_id in self.crisis_staff or (
            self.in_crisis_room(user_id) and self.crisis_room_problem() is None
        ):
            roles.add(Role.CRISIS)
        return frozenset(roles)

    def in_crisis_room(self, user_id: str) -> bool:
        room_id = self.crisis_room
        if room_id is None:
            return False
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    # -- S-03: is the crisis room closed? ------------------------------------------------

    def observe(self, room_id: str, event_type: str, content: dict[str, Any]) -> None:
        """A `m.room.join_rules` or `m.room.power_levels` state event of `room_id`."""
        if event_type in (JOIN_RULES, POWER_LEVELS):
            self._state.setdefault(room_id, {})[event_type] = dict(content)

    def crisis_room_problem(self) -> str | None:
        """Why membership of the crisis room is no role now (None: it is closed)."""
        room_id = self.crisis_room
        if room_id is None:
            return None
        state = self._state.get(room_id, {})
        join_rules = state.get(JOIN_RULES)
        if join_rules is None:
            return "join rule not known yet: is the bot in the room?"
        rule = join_rules.get("join_rule")
        if rule != "invite":
            return f"join rule is {rule!r}, not 'invite'"
        levels = state.get(POWER_LEVELS)
        # The spec's default when the event or its `invite` key is missing: 0.
        invite = _level((levels or {}).get("invite", 0))
        if invite < MIN_INVITE_LEVEL:
            return f"inviting needs power level {invite}, not {MIN_INVITE_LEVEL} or more"
        return None

    async def check_crisis_room(self) -> None:
        """After each sync batch: when the crisis room became unsafe (or safe again), log
        it; an unsafe room is posted once to the admin room."""
        room_id = self.crisis_room
        if room_id is None:
            return
        problem = self.crisis_room_problem()
        if problem == self._told:
            return
        if problem is None:
            log.info("crisis room %s is closed: its members are crisis staff", room_id)
            self._told = None
            return
        log.warning(
            "crisis room %s is not safe (%s): its members get no crisis role, only "
            "crisis.staff; make it invite-only and let only moderators (power level %d) invite",
            room_id,
            problem,
            MIN_INVITE_LEVEL,
        )
        if self.messenger is not None and self.admin_room is not None:
            await self.messenger.post(
                self.upgrades.current(self.admin_room),
                Say("crisis.room_unsafe", {"room": room_id, "problem": problem}),
                effect_key=f"crisis-room-unsafe:{room_id}:{problem}",
            )
        self._told = problem


def _level(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
