"""Cross-signing: canonical JSON, ed25519 signatures, the recovery key, sealed seeds."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chat.cross_signing import (
    Keys,
    SigningKey,
    canonical_json,
    decode_recovery_key,
    encode_recovery_key,
    key_object,
    unb64,
    verify,
)
from bot.config import ConfigError, parse_config
from bot.store.cross_signing import (
    CrossSigningSeeds,
    CrossSigningStore,
    KeyDecryptionError,
    seal,
    unseal,
)
from bot.store.db import Database

USER = "@flurfunk:rathaus.example"
SECRET = "ein-langes-geheimnis-fuer-tests"
# The example key of the Matrix specification (appendix "Signing JSON").
SPEC_SEED = unb64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, b"{}"),
        ({"one": 1, "two": "Two"}, b'{"one":1,"two":"Two"}'),
        ({"b": "2", "a": "1"}, b'{"a":"1","b":"2"}'),
        ({"a": "日本語"}, '{"a":"日本語"}'.encode()),
        ({"本": 2, "日": 1}, '{"日":1,"本":2}'.encode()),
        ({"a": "\u65e5"}, '{"a":"日"}'.encode()),
        ({"a": None}, b'{"a":null}'),
        (
            {"auth": {"success": True, "mxid": "@john.doe:example.com", "list": [2, {"z": 1}]}},
            b'{"auth":{"list":[2,{"z":1}],"mxid":"@john.doe:example.com","success":true}}',
        ),
    ],
)
def test_canonical_json_matches_the_specification(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_signatures_match_the_specification_examples() -> None:
    key = SigningKey(SPEC_SEED)
    assert key.sign({}) == (
        "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
    )
    assert key.sign({"one": 1, "two": "Two"}) == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )


def test_sign_verify_roundtrip_ignores_signatures_and_unsigned() -> None:
    key = SigningKey.generate()
    device = {"user_id": USER, "device_id": "ABC", "keys": {"ed25519:ABC": "x"}}
    signature = key.sign(device)
    published = {**device, "signatures": {USER: {"ed25519:ABC": "self"}}, "unsigned": {"n": 1}}
    assert verify(published, key.public, signature)
    assert not verify({**device, "device_id": "XYZ"}, key.public, signature)
    assert not verify(device, SigningKey.generate().public, signature)
    assert not verify(device, key.public, "kaputt")
    assert "=" not in key.public and "=" not in signature


def test_master_signs_self_signing_and_user_signing_keys() -> None:
    keys = Keys(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())
    body = keys.upload_body(USER)
    master = body["master_key"]
    assert master == {
        "user_id": USER,
        "usage": ["master"],
        "keys": {keys.master.key_id: keys.master.public},
    }
    for name, usage in (("self_signing_key", "self_signing"), ("user_signing_key", "user_signing")):
        obj = body[name]
        assert obj["usage"] == [usage] and obj["user_id"] == USER
        signature = obj["signatures"][USER][keys.master.key_id]
        assert verify(obj, keys.master.public, signature)
    assert key_object(USER, "master", keys.master, None).get("signatures") is None


@given(st.binary(min_size=32, max_size=32))
def test_recovery_key_roundtrip(seed: bytes) -> None:
    text = encode_recovery_key(seed)
    assert all(len(group) <= 4 for group in text.split(" "))
    assert not set(text) & set("0OIl")
    assert decode_recovery_key(text) == seed
    assert decode_recovery_key(text.replace(" ", "")) == seed
    assert decode_recovery_key("  " + text.replace(" ", "-") + "\n") == seed


def test_mistyped_recovery_key_is_refused() -> None:
    text = encode_recovery_key(bytes(range(32)))  # fixed: a random typo could pass 1/65536
    index = 5 if text[5] != " " else 6
    typo = text[:index] + ("2" if text[index] != "2" else "3") + text[index + 1 :]
    with pytest.raises(ValueError, match=r"mistyped|too long"):
        decode_recovery_key(typo)
    with pytest.raises(ValueError, match="invalid character"):
        decode_recovery_key(text.replace(text[0], "0", 1))


def test_sealed_seeds_open_only_with_the_same_secret_user_and_master() -> None:
    seeds = CrossSigningSeeds(os.urandom(32), os.urandom(32), os.urandom(32))
    salt, nonce, ciphertext = seal(SECRET, seeds.pack(), USER, "MASTER")
    for seed in (seeds.master, seeds.self_signing, seeds.user_signing):
        assert seed not in ciphertext
    assert unseal(SECRET, salt, nonce, ciphertext, USER, "MASTER") == seeds.pack()
    with pytest.raises(KeyDecryptionError, match="key_encryption_secret"):
        unseal(SECRET + "x", salt, nonce, ciphertext, USER, "MASTER")
    with pytest.raises(KeyDecryptionError):
        unseal(SECRET, salt, nonce, ciphertext, "@other:rathaus.example", "MASTER")
    with pytest.raises(KeyDecryptionError):
        unseal(SECRET, salt, nonce, ciphertext, USER, "OTHER")
    # A fresh salt and nonce every time.
    assert seal(SECRET, seeds.pack(), USER, "MASTER")[2] != ciphertext


async def test_store_keeps_seeds_only_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    db = Database(path)
    await db.open()
    try:
        store = CrossSigningStore(db, SECRET)
        assert await store.load(USER) is None
        keys = Keys(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())
        await store.save(USER, keys.seeds(), keys.master.public)
        stored = await store.load(USER)
        assert stored is not None
        assert stored.seeds == keys.seeds() and stored.master_public == keys.master.public
        assert not stored.recovery_shown
        await store.mark_recovery_shown(USER)
        await store.mark_uploaded(USER)
        stored = await store.load(USER)
        assert stored is not None and stored.recovery_shown
        with pytest.raises(KeyDecryptionError):
            await CrossSigningStore(db, "ein-anderes-geheimnis-1234").load(USER)
    finally:
        await db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    for seed in (keys.master.seed, keys.self_signing.seed, keys.user_signing.seed):
        assert seed not in raw
    assert keys.master.public.encode() in raw


def test_seeds_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        CrossSigningSeeds(b"kurz", os.urandom(32), os.urandom(32))
    with pytest.raises(ValueError):
        CrossSigningSeeds.unpack(os.urandom(95))


def test_upload_without_master_keeps_the_published_one() -> None:
    keys = Keys.generate()
    body = keys.upload_body(USER, with_master=False)
    assert set(body) == {"self_signing_key", "user_signing_key"}
    ssk = body["self_signing_key"]
    assert verify(ssk, keys.master.public, ssk["signatures"][USER][keys.master.key_id])


def minimal() -> dict[str, Any]:
    # Fresh each time: parse_config writes env overrides into the mapping it gets.
    return {
        "homeserver": {
            "url": "https://matrix.rathaus.example",
            "user_id": USER,
            "password": "geheim",
            "allowed_homeservers": ["rathaus.example"],
        }
    }


def test_config_takes_the_secrets_from_env_and_never_echoes_them() -> None:
    env = {"FLURFUNK_KEY_SECRET": SECRET, "FLURFUNK_RECOVERY_KEY": "AbCd EfGh"}
    config = parse_config(minimal(), "test.yaml", env)
    hs = config.homeserver
    assert hs.key_encryption_secret is not None
    assert hs.key_encryption_secret.get_secret_value() == SECRET
    assert hs.cross_signing_recovery_key is not None and not hs.cross_signing_reset
    assert SECRET not in repr(config) and "AbCd" not in repr(config)
    assert parse_config(minimal(), "test.yaml", {}).homeserver.key_encryption_secret is None
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal(), "test.yaml", {"FLURFUNK_KEY_SECRET": "kurz-geheim"})
    [problem] = caught.value.problems
    assert "key_encryption_secret must have at least 16 characters" in problem
    assert "kurz-geheim" not in problem


class _Response:
    def __init__(self, status: int, data: dict[str, Any]) -> None:
        self.status, self.data = status, data

    async def json(self, content_type: str | None = None) -> dict[str, Any]:
        return self.data

    def release(self) -> None:
        pass


class _FreshHomeserver:
    """A homeserver that knows no cross-signing keys yet and accepts the upload."""

    user_id = USER
    device_id = "DEVICE"
    access_token = "token"
    olm = None

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def send(self, method: str, path: str, data: Any = None, headers: Any = None) -> Any:
        self.paths.append(path)
        return _Response(200, {})


async def test_recovery_key_goes_to_a_private_file_never_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S-17: the first start writes the recovery key (the master seed) once into a 0600 file
    in the data directory and logs only that file's path."""
    from bot.chat.cross_signing import ensure_cross_signing

    raw = minimal()
    raw["storage"] = {"data_dir": str(tmp_path / "data")}
    config = parse_config(raw, "test.yaml", {"FLURFUNK_KEY_SECRET": SECRET})
    db = Database(tmp_path / "data" / "flurfunk.db")
    await db.open()
    try:
        caplog.set_level("DEBUG")
        await ensure_cross_signing(_FreshHomeserver(), config, db)
        stored = await CrossSigningStore(db, SECRET).load(USER)
        assert stored is not None and stored.recovery_shown
        key = encode_recovery_key(stored.seeds.master)
        path = tmp_path / "data" / "cross-signing-recovery-key.txt"
        assert key not in caplog.text and key.replace(" ", "") not in caplog.text
        assert str(path) in caplog.text
        assert key in path.read_text(encoding="utf-8")
        assert path.stat().st_mode & 0o777 == 0o600
        # Shown once: a second start writes nothing and logs no path.
        path.unlink()
        caplog.clear()
        await ensure_cross_signing(_FreshHomeserver(), config, db)
        assert not path.exists() and str(path) not in caplog.text
    finally:
        await db.close()
