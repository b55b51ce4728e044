-- Cross-signing: the bot's own master, self-signing and user-signing keys (issue #8).
-- The three 32-byte ed25519 seeds are stored only encrypted (AES-256-GCM, key derived with
-- scrypt from homeserver.key_encryption_secret and kdf_salt). The public master key is kept
-- in clear so an operator can compare it with the one the homeserver publishes.
CREATE TABLE cross_signing_keys (
    user_id           TEXT PRIMARY KEY,
    master_public     TEXT NOT NULL,          -- unpadded base64 ed25519 public key
    kdf_salt          BLOB NOT NULL,
    nonce             BLOB NOT NULL,
    ciphertext        BLOB NOT NULL,          -- master | self-signing | user-signing seeds
    created_at        REAL NOT NULL,
    uploaded_at       REAL,                   -- last successful upload to the homeserver
    recovery_shown_at REAL                    -- the recovery key was logged (only ever once)
);
