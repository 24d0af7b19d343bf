-- Schema version 4: how each sign-in was made (RFC 8176 `amr` values, space-separated), carried
-- from the browser session to its codes and tokens, so ID tokens and introspection can say it.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE tokens ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- Second factors of a person (signin/): an authenticator app's seed (encrypted with instance/data_key,
-- AES-GCM) and one-time recovery codes (SHA-256 only).
CREATE TABLE authenticators (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    kind TEXT NOT NULL,           -- 'totp' or 'recovery_code'
    secret BLOB,                  -- totp: nonce + ciphertext of the seed
    code_hash TEXT,               -- recovery_code: SHA-256 hex of the code
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_step INTEGER             -- totp: the last time step accepted (RFC 6238 §5.2: used once)
);
CREATE INDEX authenticators_username ON authenticators (username);
