-- Schema version 2.

-- Usernames of removed users: `sub` is never reassigned (OIDC Core §2), so these stay taken.
CREATE TABLE removed_usernames (
    username TEXT PRIMARY KEY,
    removed_at INTEGER NOT NULL
);
