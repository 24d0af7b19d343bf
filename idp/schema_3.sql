-- Schema version 3: invitations and one-time links, and when a person last signed in.

-- An invited person exists (the admin chose their username) but has no password yet and cannot
-- sign in until they follow their join link.
ALTER TABLE users ADD COLUMN invited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;

-- One-time links: 'join' (an invitation) or 'reset' (recovery). Stored only as SHA-256 hashes.
CREATE TABLE links (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX links_username ON links (username);
CREATE INDEX links_expires_at ON links (expires_at);

-- A sign-in made on the way to one authorization request (OIDC Core §3.1.2.1: prompt=login and
-- max_age): a digest of that request and until when it counts; used once, then cleared.
ALTER TABLE sessions ADD COLUMN fresh_request TEXT;
ALTER TABLE sessions ADD COLUMN fresh_until INTEGER;
