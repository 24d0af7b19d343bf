-- Schema version 5: signing out everywhere (OpenID Connect Back-Channel and Front-Channel Logout 1.0).

-- `sid`: the session's name in ID tokens and logout notices (Front-Channel Logout §3, Back-Channel
-- Logout §2.4). Random (128 bits) and public: apps store it and see it in URLs, so it is neither the
-- session id (the cookie's secret), nor its hash, nor the account page's handle. A person who signs in
-- again in the same browser keeps it (sessions.sign_in), so the apps of that session stay its apps.
ALTER TABLE sessions ADD COLUMN sid TEXT;
UPDATE sessions SET sid = lower(hex(randomblob(16))) WHERE sid IS NULL;
CREATE UNIQUE INDEX sessions_sid ON sessions (sid);

-- Codes and tokens remember the session they came from; a rotated refresh token passes it on.
-- NULL for those issued before version 5 (they belong to no session). No index: a session's tokens
-- are found through their person's (tokens_username), so issuing a token costs no extra index write.
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE tokens ADD COLUMN sid TEXT;

-- The apps each session signed in to (Back-Channel Logout §2.3: "Remembering Logged-In RPs"): one row
-- per app that got a code in the session, kept until the session ends, however long ago its tokens
-- expired. Rows whose session is gone are purged (db.py).
CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Logout notices waiting to be sent (idp/backchannel_logout.py): one row per app and ended session,
-- written in the transaction that ends the session, deleted once the app answered 2xx or when the
-- retries run out. `claimed_until`: a worker is sending it until then (another may take it over after).
CREATE TABLE logout_notices (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    username TEXT NOT NULL,       -- the logout token's `sub`; no foreign key: a removed person's notice still goes
    sid TEXT NOT NULL,
    jti TEXT NOT NULL UNIQUE,     -- one per notice, the same in every attempt: a receiver may tell a resend
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until INTEGER,
    last_error TEXT
);
CREATE INDEX logout_notices_next_attempt_at ON logout_notices (next_attempt_at);
