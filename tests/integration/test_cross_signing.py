"""Cross-signing against a real Synapse: the published chain master → self-signing → device,
checked by another user with its own ed25519 verification; restarts re-upload nothing; a
lost store, a foreign reset and a token-only login are handled without ever being fatal."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.chat.cross_signing import RECOVERY_FILE, Keys, SigningKey, decode_recovery_key
from tests.support.bot_process import BotProcess
from tests.support.fixtures import MakeBot, MakeUser
from tests.support.matrix_user import MatrixUser

SECRET = "integration-test-key-secret"
ENV = {"FLURFUNK_KEY_SECRET": SECRET}


# -- an independent verifier, as another client does it ---------------------------------------


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _canonical(obj: dict[str, Any]) -> bytes:
    stripped = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return json.dumps(stripped, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def assert_signed(obj: dict[str, Any], user_id: str, public: str, key_name: str = "") -> None:
    signature = obj["signatures"][user_id][f"ed25519:{key_name or public}"]
    # Raises InvalidSignature when the signature does not fit.
    Ed25519PublicKey.from_public_bytes(_unb64(public)).verify(_unb64(signature), _canonical(obj))


def only_key(obj: dict[str, Any]) -> str:
    [(key_id, public)] = obj["keys"].items()
    assert key_id == f"ed25519:{public}"
    return str(public)


async def verified_chain(user: MatrixUser, bot: BotProcess) -> tuple[str, str]:
    """(master, self-signing) public keys of the bot after checking every signature."""
    body: dict[str, Any] = {"device_keys": {bot.user_id: []}}
    data = await user._http("POST", "/_matrix/client/v3/keys/query", body)
    master_obj = data["master_keys"][bot.user_id]
    ssk_obj = data["self_signing_keys"][bot.user_id]
    assert master_obj["usage"] == ["master"] and ssk_obj["usage"] == ["self_signing"]
    master, ssk = only_key(master_obj), only_key(ssk_obj)
    assert_signed(ssk_obj, bot.user_id, master)
    device_id = bot_state(bot, "device_id")
    device = data["device_keys"][bot.user_id][device_id]
    # Self-signed by the device, and signed by the self-signing key.
    assert_signed(device, bot.user_id, device["keys"][f"ed25519:{device_id}"], device_id)
    assert_signed(device, bot.user_id, ssk)
    return master, ssk


# -- the bot's side ----------------------------------------------------------------------------


def bot_state(bot: BotProcess, key: str) -> str:
    with sqlite3.connect(bot.database) as db:
        row = db.execute("SELECT value FROM bot_state WHERE key = ?", (key,)).fetchone()
    return str(row[0])


def log_text(bot: BotProcess) -> str:
    return bot.log_path.read_text(errors="replace")


def recovery_key(bot: BotProcess) -> str:
    """From the 0600 file of the data directory; the log names only the file (S-17)."""
    path = bot.database.parent / RECOVERY_FILE
    assert str(path) in log_text(bot)
    assert path.stat().st_mode & 0o777 == 0o600
    [found] = re.findall(r"\n\n    ([1-9A-HJ-NP-Za-km-z ]+)\n", path.read_text())
    assert found not in log_text(bot)
    return str(found)


async def restart(bot: BotProcess) -> None:
    bot.stop()
    await bot.wait_exit()
    await bot.start_and_wait()


async def publish_foreign_identity(bot: BotProcess) -> str:
    """Someone resets cross-signing of the bot account (as Element would, with UIA)."""
    keys = Keys(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())
    body: dict[str, Any] = keys.upload_body(bot.user_id)
    url = f"{bot.synapse.url}/_matrix/client/v3/keys/device_signing/upload"
    headers = {"Authorization": f"Bearer {bot_state(bot, 'access_token')}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 401
            session = (await response.json())["session"]
        body["auth"] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": bot.user_id},
            "password": bot.config["homeserver"]["password"],
            "session": session,
        }
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
    return keys.master.public


# -- tests -------------------------------------------------------------------------------------


async def test_device_is_cross_signed_and_restart_uploads_nothing(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(env=ENV)
    await bot.start_and_wait()
    alice = await make_user("alice")
    master, ssk = await verified_chain(alice, bot)
    # The recovery key is the master seed: it derives the published master key.
    assert SigningKey(decode_recovery_key(recovery_key(bot))).public == master
    with sqlite3.connect(bot.database) as db:
        [(stored_master,)] = db.execute("SELECT master_public FROM cross_signing_keys").fetchall()
    assert stored_master == master

    room_id = await alice.open_dm(bot.user_id)
    await alice.wait_for_message(room_id, sender=bot.user_id, timeout=20)  # greeting
    await alice.send_text(room_id, "!hilfe")
    await alice.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "Befehle" in m.body, timeout=20
    )

    bot.kill()
    await bot.start_and_wait()
    assert await verified_chain(alice, bot) == (master, ssk)
    text = log_text(bot)
    assert text.count("uploaded cross-signing keys") == 1
    assert text.count("nothing to upload") == 1
    assert text.count("RECOVERY KEY") == 1
    assert text.count("signed by the self-signing key") == 1

    await alice.send_text(room_id, "!hilfe")
    await alice.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "Befehle" in m.body, timeout=30
    )


async def test_lost_store_foreign_reset_and_recovery(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot(env=ENV)
    await bot.start_and_wait()
    carol = await make_user("carol")
    master, ssk = await verified_chain(carol, bot)
    recovery = recovery_key(bot)

    # The store is lost: the account's identity stays, nothing is overwritten.
    bot.stop()
    await bot.wait_exit()
    with sqlite3.connect(bot.database) as db:
        db.execute("DELETE FROM cross_signing_keys")
    await bot.start_and_wait()
    assert "not in our store" in log_text(bot)
    assert await verified_chain(carol, bot) == (master, ssk)

    # The recovery key brings the identity back (new self-signing key, password UIA).
    bot.config["homeserver"]["cross_signing_recovery_key"] = recovery
    bot.write_config()
    await restart(bot)
    assert "restored from the recovery key" in log_text(bot)
    restored_master, restored_ssk = await verified_chain(carol, bot)
    assert restored_master == master and restored_ssk != ssk
    assert log_text(bot).count("RECOVERY KEY") == 1

    # Someone resets cross-signing of the account: warned about, not overwritten.
    bot.stop()
    await bot.wait_exit()
    foreign = await publish_foreign_identity(bot)
    await bot.start_and_wait()
    assert "someone reset cross-signing" in log_text(bot)
    data = await carol._http(
        "POST", "/_matrix/client/v3/keys/query", {"device_keys": {bot.user_id: []}}
    )
    assert only_key(data["master_keys"][bot.user_id]) == foreign

    # ... unless the operator asks for it: then a new identity replaces the foreign one.
    bot.config["homeserver"]["cross_signing_reset"] = True
    bot.write_config()
    await restart(bot)
    new_master, _ = await verified_chain(carol, bot)
    assert new_master not in (master, foreign)
    assert log_text(bot).count("RECOVERY KEY") == 2
    await restart(bot)  # the reset flag left on changes nothing further
    assert (await verified_chain(carol, bot))[0] == new_master


async def test_access_token_only(make_bot: MakeBot, make_user: MakeUser) -> None:
    bot = make_bot(env=ENV)
    homeserver = bot.config["homeserver"]
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": bot.user_id},
        "password": homeserver["password"],
        "device_name": "Flurfunk",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bot.synapse.url}/_matrix/client/v3/login", json=login) as response,
    ):
        assert response.status == 200
        token = (await response.json())["access_token"]
    homeserver["password"] = None
    homeserver["access_token"] = token
    bot.write_config()
    # The first upload needs no password (MSC3967).
    await bot.start_and_wait()
    dave = await make_user("dave")
    master, ssk = await verified_chain(dave, bot)

    # Replacing keys would need the password: skipped, said why, the bot runs on.
    bot.stop()
    await bot.wait_exit()
    with sqlite3.connect(bot.database) as db:
        db.execute("DELETE FROM cross_signing_keys")
    homeserver["cross_signing_reset"] = True
    bot.write_config()
    await bot.start_and_wait()
    assert "only an access token is configured" in log_text(bot)
    assert await verified_chain(dave, bot) == (master, ssk)
