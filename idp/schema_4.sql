-- Schema version 4: how each sign-in was made (RFC 8176 `amr` values, space-separated), carried
-- from the browser session to its codes and tokens, so ID tokens and introspection can say it.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE tokens ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- Sign-in methods of a person besides the password (signin/): an authenticator app's seed (encrypted
-- with instance/data_key, AES-GCM), one-time recovery codes (SHA-256 only) and passkeys (WebAuthn
-- public keys: nothing secret is stored for them).
CREATE TABLE authenticators (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    kind TEXT NOT NULL,           -- 'totp', 'recovery_code' or 'passkey'
    secret BLOB,                  -- totp: nonce + ciphertext of the seed
    code_hash TEXT,               -- recovery_code: SHA-256 hex of the code
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_step INTEGER,            -- totp: the last time step accepted (RFC 6238 §5.2: used once)
    name TEXT,                    -- passkey: the person's name for it
    credential_id TEXT,           -- passkey: the credential id, base64url (WebAuthn §6.1: unique)
    public_key BLOB,              -- passkey: the COSE public key
    sign_count INTEGER,           -- passkey: the last signature counter seen (WebAuthn §6.1.1)
    transports TEXT,              -- passkey: how the browser reached it (usb, nfc, ble, hybrid, internal)
    backup_eligible INTEGER,      -- passkey: BE flag, fixed at creation: 1 = a synced passkey
    backup_state INTEGER,         -- passkey: BS flag, as of its last use
    user_handle BLOB              -- passkey: the WebAuthn user.id it was made for
);
CREATE INDEX authenticators_username ON authenticators (username);
CREATE UNIQUE INDEX authenticators_credential ON authenticators (credential_id) WHERE credential_id IS NOT NULL;

-- Passkey challenges that were answered (signin/passkeys.py): a challenge lives in its browser's
-- signed session, and this row makes it single-use even against an old copy of that cookie. Kept
-- until the challenge would have expired anyway.
CREATE TABLE passkey_challenges_used (
    challenge_hash TEXT PRIMARY KEY,  -- SHA-256 hex of the challenge
    expires_at INTEGER NOT NULL
);

-- The person's sessions on the account page: the browser (a short summary of its User-Agent, see
-- browsers.py), the address it signed in from and when it was last seen (written at most every few
-- minutes). `handle` names a session on that page: random (128 bits), unrelated to the session id
-- or its hash, and only good together with its owner's own signed-in session.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
ALTER TABLE sessions ADD COLUMN handle TEXT;
UPDATE sessions SET handle = lower(hex(randomblob(16))) WHERE handle IS NULL;
CREATE UNIQUE INDEX sessions_handle ON sessions (handle);
