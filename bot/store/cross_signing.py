"""The bot's cross-signing seeds, kept only encrypted with a secret from the config.

The three ed25519 seeds (master, self-signing, user-signing; 32 bytes each) are sealed
with AES-256-GCM. The key comes from scrypt over the configured secret and a random salt
per row; the user ID and the public master key are bound in as associated data, so a row
copied to another account or edited by hand does not decrypt.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bot.store.db import Database

SEED_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
# scrypt cost: 2**15 * 8 * 128 bytes = 32 MiB and ~0.1 s, once per start.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
AAD_PREFIX = b"flurfunk cross-signing v1\x00"


class KeyDecryptionError(RuntimeError):
    """The stored seeds do not decrypt: wrong key_encryption_secret or a damaged row."""


@dataclass(frozen=True)
class CrossSigningSeeds:
    master: bytes
    self_signing: bytes
    user_signing: bytes

    def __post_init__(self) -> None:
        for seed in (self.master, self.self_signing, self.user_signing):
            if len(seed) != SEED_BYTES:
                raise ValueError("an ed25519 seed has 32 bytes")

    def pack(self) -> bytes:
        return self.master + self.self_signing + self.user_signing

    @classmethod
    def unpack(cls, data: bytes) -> CrossSigningSeeds:
        if len(data) != 3 * SEED_BYTES:
            raise ValueError("expected three 32-byte seeds")
        return cls(data[:32], data[32:64], data[64:])


@dataclass(frozen=True)
class StoredCrossSigning:
    seeds: CrossSigningSeeds
    master_public: str
    recovery_shown: bool


def derive_key(secret: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(secret.encode("utf-8"))


def _aad(user_id: str, master_public: str) -> bytes:
    return AAD_PREFIX + user_id.encode("utf-8") + b"\x00" + master_public.encode("ascii")


def seal(
    secret: str, plaintext: bytes, user_id: str, master_public: str
) -> tuple[bytes, bytes, bytes]:
    """(salt, nonce, ciphertext) of the plaintext under a key derived from the secret."""
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    key = derive_key(secret, salt)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(user_id, master_public))
    return salt, nonce, ciphertext


def unseal(
    secret: str, salt: bytes, nonce: bytes, ciphertext: bytes, user_id: str, master_public: str
) -> bytes:
    key = derive_key(secret, salt)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(user_id, master_public))
    except InvalidTag:
        raise KeyDecryptionError(
            "the stored cross-signing keys do not decrypt: homeserver.key_encryption_secret "
            "(FLURFUNK_KEY_SECRET) differs from the one they were stored with"
        ) from None


class CrossSigningStore:
    def __init__(self, db: Database, secret: str) -> None:
        if not secret:
            raise ValueError("an empty key_encryption_secret protects nothing")
        self.db = db
        self._secret = secret

    async def load(self, user_id: str) -> StoredCrossSigning | None:
        row = await self.db.fetchone(
            "SELECT master_public, kdf_salt, nonce, ciphertext, recovery_shown_at "
            "FROM cross_signing_keys WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        master_public = str(row["master_public"])
        plaintext = await asyncio.to_thread(
            unseal,
            self._secret,
            bytes(row["kdf_salt"]),
            bytes(row["nonce"]),
            bytes(row["ciphertext"]),
            user_id,
            master_public,
        )
        return StoredCrossSigning(
            CrossSigningSeeds.unpack(plaintext), master_public, row["recovery_shown_at"] is not None
        )

    async def save(
        self,
        user_id: str,
        seeds: CrossSigningSeeds,
        master_public: str,
        *,
        recovery_shown: bool = False,
    ) -> None:
        """Store (or replace) the seeds of the account."""
        salt, nonce, ciphertext = await asyncio.to_thread(
            seal, self._secret, seeds.pack(), user_id, master_public
        )
        now = time.time()
        await self.db.execute(
            "INSERT INTO cross_signing_keys (user_id, master_public, kdf_salt, nonce, "
            "ciphertext, created_at, recovery_shown_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET master_public = excluded.master_public, "
            "kdf_salt = excluded.kdf_salt, nonce = excluded.nonce, "
            "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
            "uploaded_at = NULL, recovery_shown_at = excluded.recovery_shown_at",
            (user_id, master_public, salt, nonce, ciphertext, now, now if recovery_shown else None),
            name="cross_signing.save",
        )

    async def mark_uploaded(self, user_id: str) -> None:
        await self.db.execute(
            "UPDATE cross_signing_keys SET uploaded_at = ? WHERE user_id = ?",
            (time.time(), user_id),
            name="cross_signing.mark_uploaded",
        )

    async def mark_recovery_shown(self, user_id: str) -> None:
        await self.db.execute(
            "UPDATE cross_signing_keys SET recovery_shown_at = ? WHERE user_id = ?",
            (time.time(), user_id),
            name="cross_signing.mark_recovery_shown",
        )

    async def delete(self, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM cross_signing_keys WHERE user_id = ?",
            (user_id,),
            name="cross_signing.delete",
        )
