"""Fill a Latchkey database the way years of use would: many users, and many tokens of which half
are dead (expired, rotated or revoked) and due for purging. Rows are written with SQL directly;
the values have the shapes Latchkey itself stores (SHA-256 hex hashes, real usernames)."""

import os
import sqlite3
import time

from flows import CLIENT_ID


def fill(database, users, tokens):
    now = int(time.time())
    db = sqlite3.connect(database)
    password_hash = db.execute("SELECT password_hash FROM users LIMIT 1").fetchone()[0]
    names = [f"member{i}" for i in range(users)]
    with db:
        db.executemany(
            "INSERT INTO users (username, password_hash, email, name, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((name, password_hash, f"{name}@example.org", f"Member {name}", now, now) for name in names))
        db.executemany("INSERT INTO sessions (id_hash, username, auth_time, expires_at) VALUES (?, ?, ?, ?)",
                       ((os.urandom(32).hex(), name, now - 3600, now + 86400) for name in names))

        def rows():
            for i in range(tokens):
                dead = i % 2 == 0
                issued = now - (40 * 86400 if dead else 1800)
                yield (os.urandom(16).hex(), CLIENT_ID, names[i % users], "openid profile email offline_access",
                       "openid profile email offline_access", os.urandom(32).hex(), issued + 3600,
                       os.urandom(32).hex(), issued + 30 * 86400, issued, issued,
                       issued + 60 if dead and i % 4 == 0 else None)

        db.executemany(
            "INSERT INTO tokens (grant_id, client_id, username, scope, grant_scope, access_hash, access_expires_at,"
            " refresh_hash, refresh_expires_at, issued_at, auth_time, rotated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows())
    db.close()
    return {"users": users, "tokens": tokens, "expired": (tokens + 1) // 2}


def count_dead(database):
    """Seeded token rows not yet purged (their access token expired more than a day ago)."""
    db = sqlite3.connect(database)
    try:
        return db.execute("SELECT COUNT(*) FROM tokens WHERE access_expires_at < ?",
                          (int(time.time()) - 86400,)).fetchone()[0]
    finally:
        db.close()
