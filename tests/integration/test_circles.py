# ruff: noqa: ASYNC109
"""Topic circles across two federating Synapses: the bot lives on one homeserver, one circle
member on the other (on the allow-list); `!admin themenrunde` invites everyone into one
encrypted room, and the remote member joins and decrypts the introduction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from nio import MegolmEvent, MessageDirection, RoomMessage, RoomMessagesResponse

from bot.devserver import LocalSynapse
from bot.store.db import Database
from bot.store.profiles import ProfileRepository
from tests.support.bot_process import BotProcess
from tests.support.matrix_user import MatrixUser, unique_localpart

# (name, on the remote server?, department, municipality)
MEMBERS = [
    ("anna", False, "Bauamt", "Musterstadt"),
    ("bernd", False, "Kämmerei", "Musterstadt"),
    ("carla", True, "Hauptamt", "Kreisstadt"),
]
TOPIC = "Digitalisierung"


async def earlier_message(
    user: MatrixUser,
    room_id: str,
    sender: str,
    predicate: Callable[[RoomMessage], bool],
    timeout: float,
) -> RoomMessage:
    """A message sent before `user` joined, as a client shows it: a member on another
    homeserver gets it by back-pagination (not in its sync) and decrypts it then."""

    def wanted(event: object) -> bool:
        return isinstance(event, RoomMessage) and event.sender == sender and predicate(event)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: list[str] = []
    while loop.time() < deadline:
        synced = [e for e in user.room_events(room_id) if wanted(e)]
        if synced:
            return synced[0]
        # No `from` token: the newest events, backwards.
        response = await user.client.room_messages(
            room_id, start=None, direction=MessageDirection.back, limit=100
        )
        if isinstance(response, RoomMessagesResponse):
            seen = [type(e).__name__ for e in response.chunk]
            found = [e for e in response.chunk if wanted(e)]
            if found:
                return found[0]
        await asyncio.sleep(1)
    raise TimeoutError(f"no earlier message in {room_id}; last page: {seen}")


async def test_circle_reaches_a_member_on_a_federated_homeserver(
    synapse_pair: tuple[LocalSynapse, LocalSynapse], tmp_path: Path
) -> None:
    home, remote = synapse_pair
    people: dict[str, MatrixUser] = {}
    admin: MatrixUser | None = None
    bot = BotProcess(
        home,
        tmp_path / "bot",
        config={
            "homeserver": {"allowed_homeservers": [home.server_name, remote.server_name]},
            "coffee": {"enabled": False, "check_interval_s": 1},
            "circles": {"enabled": False, "min_size": 3, "topics": [TOPIC]},
        },
    )
    try:
        for name, far, _, _ in MEMBERS:
            server = remote if far else home
            people[name] = await MatrixUser.create(server, unique_localpart(name), tmp_path)
        admin = await MatrixUser.create(home, unique_localpart("admin"), tmp_path)
        bot.config["bot"] = {**bot.config.get("bot", {}), "admins": [admin.user_id]}
        bot.write_config()

        db = Database(bot.database)
        await db.open()
        repo = ProfileRepository(db)
        for name, _, department, municipality in MEMBERS:
            user_id = people[name].user_id
            await repo.create(user_id, confirmed=True)
            await repo.update(
                user_id,
                display_name=name.capitalize(),
                department=department,
                municipality=municipality,
                tasks="Verwaltung modernisieren",
                topics=[TOPIC],
                coffee=True,
            )
        await db.close()

        await bot.start_and_wait()
        admin_dm = await admin.open_dm(bot.user_id)
        await admin.wait_for_message(admin_dm, sender=bot.user_id, timeout=30)  # greeting
        await admin.send_text(admin_dm, "!admin themenrunde")
        reply = await admin.wait_for_message(
            admin_dm, sender=bot.user_id, predicate=lambda m: "Themenrunde" in m.body, timeout=60
        )
        assert "1 Runde mit 3 von 3 Personen" in reply.body, reply.body

        carla = people["carla"]
        assert carla.user_id.endswith(":" + remote.server_name)
        room_id = await carla.wait_for_invite(timeout=60)
        intro = await earlier_message(
            carla, room_id, bot.user_id, lambda m: "Themenrunde" in m.body, timeout=90
        )
        assert isinstance(intro, RoomMessage) and not isinstance(intro, MegolmEvent)
        assert intro.decrypted
        assert f"»{TOPIC}«" in intro.body
        for name, _, department, municipality in MEMBERS:
            assert f"{name.capitalize()} – {department}, {municipality}" in intro.body
        assert "2 verschiedenen Kommunen" in intro.body
        # The local members are in the same room and read the same introduction.
        anna = people["anna"]
        assert await anna.wait_for_invite(timeout=60) == room_id
        await anna.wait_for_message(
            room_id, lambda m: "Themenrunde" in m.body, sender=bot.user_id, timeout=60
        )
    finally:
        bot.stop()
        for user in [*people.values(), *([admin] if admin else [])]:
            await user.close()
