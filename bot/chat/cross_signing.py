"""Cross-signing: the bot's device signed by its own account, so Element trusts it.

nio has no cross-signing (matrix-nio#229), so this does it by hand: three ed25519 keys
(master, self-signing, user-signing), the master signs the other two, the self-signing
key signs our device keys as the homeserver publishes them. The seeds live encrypted in
our store (`bot.store.cross_signing`). Runs once per start after login; idempotent, and
never fatal: the bot works without it, only Element then treats its device as unverified.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nio import AsyncClient

from bot.chat.session import raw_request
from bot.config import Config
from bot.store.cross_signing import CrossSigningSeeds, CrossSigningStore
from bot.store.db import Database

log = logging.getLogger(__name__)

KEYS_QUERY = "/_matrix/client/v3/keys/query"
SIGNING_UPLOAD = "/_matrix/client/v3/keys/device_signing/upload"
SIGNATURES_UPLOAD = "/_matrix/client/v3/keys/signatures/upload"
TIMEOUT_S = 120.0
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RECOVERY_VERSION = b"\x01"
# Where the first start writes the recovery key (in `storage.data_dir`, mode 0600).
RECOVERY_FILE = "cross-signing-recovery-key.txt"


def b64(data: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def signable(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


@dataclass(frozen=True)
class SigningKey:
    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate().private_bytes_raw())

    @property
    def public(self) -> str:
        raw = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return b64(raw.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> str:
        return b64(Ed25519PrivateKey.from_private_bytes(self.seed).sign(signable(obj)))


def verify(obj: dict[str, Any], public: str, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(unb64(public)).verify(unb64(signature), signable(obj))
    except (InvalidSignature, ValueError):
        return False
    return True


def key_object(
    user_id: str, usage: str, key: SigningKey, signer: SigningKey | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public}}
    if signer is not None:
        obj["signatures"] = {user_id: {signer.key_id: signer.sign(obj)}}
    return obj


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(b"flurfunk recovery key" + payload).digest()[:2]


def encode_recovery_key(seed: bytes) -> str:
    """The master seed as base58 (no 0/O/I/l) in groups of four, with a checksum."""
    data = RECOVERY_VERSION + seed
    number = int.from_bytes(data + _checksum(data), "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = B58[digit] + text
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    number = 0
    for char in "".join(text.replace("-", " ").split()):
        if char not in B58:
            raise ValueError(f"the recovery key has an invalid character {char!r}")
        number = number * 58 + B58.index(char)
    try:
        raw = number.to_bytes(35, "big")
    except OverflowError:
        raise ValueError("the recovery key is too long") from None
    data, checksum = raw[:33], raw[33:]
    if data[:1] != RECOVERY_VERSION or _checksum(data) != checksum:
        raise ValueError("the recovery key is mistyped (checksum does not match)")
    return data[1:]


@dataclass(frozen=True)
class Keys:
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def from_seeds(cls, seeds: CrossSigningSeeds) -> Keys:
        return cls(
            SigningKey(seeds.master),
            SigningKey(seeds.self_signing),
            SigningKey(seeds.user_signing),
        )

    def seeds(self) -> CrossSigningSeeds:
        return CrossSigningSeeds(self.master.seed, self.self_signing.seed, self.user_signing.seed)

    @classmethod
    def generate(cls) -> Keys:
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def upload_body(self, user_id: str, *, with_master: bool = True) -> dict[str, Any]:
        # Synapse cannot take the same master key twice (it files each key as a device).
        body = {"master_key": key_object(user_id, "master", self.master, None)}
        body["self_signing_key"] = key_object(
            user_id, "self_signing", self.self_signing, self.master
        )
        body["user_signing_key"] = key_object(
            user_id, "user_signing", self.user_signing, self.master
        )
        return body if with_master else {k: v for k, v in body.items() if k != "master_key"}


@dataclass(frozen=True)
class Published:
    master: str | None
    self_signing: str | None
    device: dict[str, Any] | None


def _public_of(key: Any) -> str | None:
    values = list(key.get("keys", {}).values()) if isinstance(key, dict) else []
    return str(values[0]) if len(values) == 1 else None


async def query_published(client: AsyncClient) -> Published:
    user_id, device_id = client.user_id, client.device_id
    status, data = await raw_request(client, "POST", KEYS_QUERY, {"device_keys": {user_id: []}})
    if status != 200:
        raise RuntimeError(f"/keys/query answered {status} {data.get('errcode')}")
    device = data.get("device_keys", {}).get(user_id, {}).get(device_id)
    return Published(
        _public_of(data.get("master_keys", {}).get(user_id)),
        _public_of(data.get("self_signing_keys", {}).get(user_id)),
        device if isinstance(device, dict) else None,
    )


async def upload_keys(
    client: AsyncClient, config: Config, keys: Keys, *, with_master: bool = True
) -> bool:
    """Publish the keys, with user-interactive auth by password if asked for."""
    body = keys.upload_body(client.user_id, with_master=with_master)
    status, data = await raw_request(client, "POST", SIGNING_UPLOAD, body)
    if status == 200:
        return True
    if status != 401 or "session" not in data:
        log.warning("cross-signing: key upload refused: %s %s", status, data.get("errcode"))
        return False
    flows = [f.get("stages") for f in data.get("flows", []) if isinstance(f, dict)]
    if ["m.login.password"] not in flows:
        params = data.get("params", {})
        urls = [p["url"] for p in params.values() if isinstance(p, dict) and p.get("url")]
        log.warning(
            "cross-signing: replacing the keys needs an approval the bot cannot give (%s)%s",
            flows,
            f"; approve it at {urls[0]}, then restart the bot" if urls else "",
        )
        return False
    password = config.homeserver.password
    if password is None:
        log.warning(
            "cross-signing skipped: the homeserver asks for the account password to replace "
            "the signing keys, and only an access token is configured (set homeserver.password "
            "or FLURFUNK_PASSWORD); until then Element treats the bot's device as unverified"
        )
        return False
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": client.user_id},
        "password": password.get_secret_value(),
        "session": data["session"],
    }
    status, data = await raw_request(client, "POST", SIGNING_UPLOAD, body)
    if status != 200:
        log.warning("cross-signing: key upload refused: %s %s", status, data.get("errcode"))
    return status == 200


async def sign_device(client: AsyncClient, keys: Keys, device: dict[str, Any] | None) -> None:
    """Sign our device keys (as published) with the self-signing key, unless done."""
    user_id, device_id = client.user_id, client.device_id
    own_ed25519 = client.olm.account.identity_keys["ed25519"] if client.olm else None
    if device is None or device.get("keys", {}).get(f"ed25519:{device_id}") != own_ed25519:
        log.warning(
            "cross-signing: device %s is not published as we know it, not signed", device_id
        )
        return
    ssk = keys.self_signing
    existing = device.get("signatures", {}).get(user_id, {}).get(ssk.key_id)
    if isinstance(existing, str) and verify(device, ssk.public, existing):
        return
    signed = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
    signed["signatures"] = {user_id: {ssk.key_id: ssk.sign(device)}}
    status, data = await raw_request(
        client, "POST", SIGNATURES_UPLOAD, {user_id: {device_id: signed}}
    )
    if status != 200 or data.get("failures"):
        log.warning("cross-signing: device signature refused: %s %s", status, data)
        return
    log.info("cross-signing: device %s signed by the self-signing key", device_id)


def write_recovery_key(keys: Keys, data_dir: Path) -> Path:
    """The recovery key into `data_dir/RECOVERY_FILE`, readable by the bot's user only
    (0600, set when the file is created, never widened). It is never logged: logs are
    often shipped to other hosts (review finding S-17). Replaces an older file (a reset
    made a new identity; the old key is useless)."""
    path = data_dir / RECOVERY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    text = (
        f"CROSS-SIGNING RECOVERY KEY of {keys.master.public} ({RECOVERY_FILE})\n"
        "Store it safely (password manager or safe), then delete this file: it restores the\n"
        "bot's identity when the store is lost (homeserver.cross_signing_recovery_key or\n"
        "FLURFUNK_RECOVERY_KEY).\n\n"
        f"    {encode_recovery_key(keys.master.seed)}\n\n"
        f"master key: {keys.master.public}\n"
    )
    partial = path.with_name(f".{RECOVERY_FILE}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when an old partial file had wider permissions
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


def _hand_over_recovery_key(keys: Keys, data_dir: Path) -> bool:
    """True once the key is in its file; the log names only the file."""
    try:
        path = write_recovery_key(keys, data_dir)
    except OSError as exc:
        log.error(
            "cross-signing: could not write the recovery key into %s (%s); trying again at "
            "the next start",
            data_dir / RECOVERY_FILE,
            exc.strerror,
        )
        return False
    log.warning(
        "cross-signing: the RECOVERY KEY of master key %s was written to %s (readable by "
        "this user only). Store it safely (password manager or safe), then delete the file",
        keys.master.public,
        path,
    )
    return True


async def _ensure(client: AsyncClient, config: Config, db: Database) -> None:
    hs = config.homeserver
    if hs.key_encryption_secret is None:
        log.warning(
            "cross-signing skipped: set homeserver.key_encryption_secret (or FLURFUNK_KEY_SECRET) "
            "to keep the signing keys; until then Element treats the bot's device as unverified"
        )
        return
    user_id = client.user_id
    store = CrossSigningStore(db, hs.key_encryption_secret.get_secret_value())
    published = await query_published(client)
    stored = await store.load(user_id)
    keys = None if stored is None else Keys.from_seeds(stored.seeds)
    recovery_shown = stored is not None and stored.recovery_shown
    if keys is None and hs.cross_signing_recovery_key is not None:
        seed = decode_recovery_key(hs.cross_signing_recovery_key.get_secret_value())
        keys = Keys(SigningKey(seed), SigningKey.generate(), SigningKey.generate())
        recovery_shown = True
        log.info("cross-signing: master key %s restored from the recovery key", keys.master.public)
    if published.master is not None and (keys is None or published.master != keys.master.public):
        if not hs.cross_signing_reset:
            log.warning(
                "cross-signing skipped: the homeserver publishes the master key %s for %s, "
                "ours is %s (someone reset cross-signing, or our store was lost). Not "
                "overwritten: configure the recovery key (homeserver.cross_signing_recovery_key) "
                "or set homeserver.cross_signing_reset: true for a new identity",
                published.master,
                user_id,
                keys.master.public if keys else "unknown (not in our store)",
            )
            return
        log.warning("cross-signing: replacing the master key %s as configured", published.master)
        keys = None
    if keys is None:
        keys, recovery_shown = Keys.generate(), False
    if stored is None or stored.seeds != keys.seeds():
        # Stored before the upload: after a crash in between, the same keys are uploaded.
        await store.save(user_id, keys.seeds(), keys.master.public, recovery_shown=recovery_shown)
    mine = (keys.master.public, keys.self_signing.public)
    if (published.master, published.self_signing) == mine:
        log.info("cross-signing: master key %s is published, nothing to upload", published.master)
    elif await upload_keys(client, config, keys, with_master=published.master != mine[0]):
        await store.mark_uploaded(user_id)
        log.info("cross-signing: uploaded cross-signing keys, master key %s", keys.master.public)
    else:
        return
    await sign_device(client, keys, published.device)
    if not recovery_shown and _hand_over_recovery_key(keys, config.storage.data_dir):
        await store.mark_recovery_shown(user_id)


async def ensure_cross_signing(client: AsyncClient, config: Config, db: Database) -> None:
    """Make our device cross-signed by our own account. Failures are logged, never raised."""
    try:
        await asyncio.wait_for(_ensure(client, config, db), TIMEOUT_S)
    except Exception as exc:
        log.warning(
            "cross-signing failed (%s: %s); the bot runs on, its device unverified",
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
