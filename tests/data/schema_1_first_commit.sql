-- Latchkey's schema version 1 as the first commit that had it (8502904) created it: before the
-- tokens' parent_id and access_revoked_at columns and the login_failures table were added to this
-- same version 1. Kept verbatim below this comment, so tests/test_migrations.py can prove such a
-- database still upgrades.

-- Latchkey schema, version 1. Codes, tokens and session ids are stored only as SHA-256 hashes.

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    given_name TEXT,
    family_name TEXT,
    locale TEXT,
    picture TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE user_groups (
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    PRIMARY KEY (username, group_name)
);

-- Browser sessions at the IdP.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    redirect_uri TEXT,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_time INTEGER NOT NULL,
    grant_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- One row per issued access token and, when offline_access was granted, its refresh token.
-- Every row descending from one authorization code shares its grant_id (the token family).
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    scope TEXT NOT NULL,          -- the access token's scope
    grant_scope TEXT NOT NULL,    -- the refresh token's scope: what was originally granted
    access_hash TEXT NOT NULL UNIQUE,
    access_expires_at INTEGER NOT NULL,
    refresh_hash TEXT UNIQUE,
    refresh_expires_at INTEGER,
    issued_at INTEGER NOT NULL,
    auth_time INTEGER NOT NULL,
    rotated_at INTEGER,           -- the refresh token was used and replaced
    revoked_at INTEGER
);
CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_username ON tokens (username);
CREATE INDEX tokens_access_expires_at ON tokens (access_expires_at);
