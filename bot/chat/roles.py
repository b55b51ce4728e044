"""Who may do what: admins and crisis staff from the config, crisis room membership."""

from __future__ import annotations

from nio import AsyncClient

from bot.commands.registry import Role
from bot.store.rooms import RoomUpgrades


class RoleResolver:
    def __init__(
        self,
        client: AsyncClient,
        admins: list[str],
        crisis_staff: list[str],
        crisis_room: str | None,
        upgrades: RoomUpgrades | None = None,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.crisis_staff = frozenset(crisis_staff)
        self.configured_crisis_room = crisis_room
        self.upgrades = upgrades or RoomUpgrades()

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
        if user_id in self.crisis_staff or self.in_crisis_room(user_id):
            roles.add(Role.CRISIS)
        return frozenset(roles)

    def in_crisis_room(self, user_id: str) -> bool:
        room_id = self.crisis_room
        if room_id is None:
            return False
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users
