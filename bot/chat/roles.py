"""Who may do what: admins and crisis staff from the config, crisis room membership."""

from __future__ import annotations

from nio import AsyncClient

from bot.commands.registry import Role


class RoleResolver:
    def __init__(
        self,
        client: AsyncClient,
        admins: list[str],
        crisis_staff: list[str],
        crisis_room: str | None,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.crisis_staff = frozenset(crisis_staff)
        self.crisis_room = crisis_room

    def roles_of(self, user_id: str) -> frozenset[Role]:
        roles = {Role.STAFF}
        if user_id in self.admins:
            roles.add(Role.ADMIN)
        if user_id in self.crisis_staff or self.in_crisis_room(user_id):
            roles.add(Role.CRISIS)
        return frozenset(roles)

    def in_crisis_room(self, user_id: str) -> bool:
        if self.crisis_room is None:
            return False
        room = self.client.rooms.get(self.crisis_room)
        return room is not None and user_id in room.users and user_id not in room.invited_users
