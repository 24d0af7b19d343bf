-- Schema version 6: machines and devices. client_credentials (RFC 6749 §4.4), JWT access tokens for
-- APIs (RFC 9068, RFC 8707), the device authorization grant (RFC 8628) and private_key_jwt (RFC 7523).

-- The API (its [[apis]] audience) a JWT access token was made for; NULL for Latchkey's own opaque
-- tokens, the only ones userinfo accepts. A refreshed token keeps its grant's API unless asked otherwise.
ALTER TABLE tokens ADD COLUMN audience TEXT;
-- RFC 8707 §2.1: the resource an authorization request named, for the token request that redeems the code.
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;

-- client_credentials access tokens: an app's own, with no person (`tokens` holds a person's tokens).
-- The JWT is stored as its SHA-256 only, for revocation and introspection.
CREATE TABLE client_tokens (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    audience TEXT,
    access_hash TEXT NOT NULL UNIQUE,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX client_tokens_expires_at ON client_tokens (expires_at);

-- Device authorizations (idp/device_authorization.py), from /device_authorization until the device's
-- tokens. `device_hash`: SHA-256 of the device code (256 random bits); `user_code_hash`: HMAC-SHA-256 of
-- the user code keyed with the session secret (a user code has ~35 bits: a plain hash would give it
-- away). `status`: pending, approved, denied, used; who approved and how they signed in, once decided.
CREATE TABLE device_codes (
    device_hash TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT,
    grant_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    poll_interval INTEGER NOT NULL,
    last_polled_at REAL,
    status TEXT NOT NULL DEFAULT 'pending',
    username TEXT REFERENCES users (username) ON DELETE CASCADE,
    auth_time INTEGER,
    amr TEXT
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- RFC 7523 §3 (7): the jti of every private_key_jwt assertion, until the assertion expires, so none
-- works twice; the primary key makes the insert the check, atomic across workers.
CREATE TABLE client_assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);
