"""Recovery codes: ten one-time codes shown once when an authenticator app is set up, for the day
the phone is lost. Stored only as SHA-256 hashes (each is 50 random bits, and guessing is
throttled like passwords); each works once."""

import hashlib
import secrets
import time

from ..db import get_db

COUNT = 10
#: No look-alike characters (0/O, 1/l/I), grouped as xxxxx-xxxxx.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def _hash(code):
    return hashlib.sha256(code.strip().lower().replace("-", "").replace(" ", "").encode("utf-8")).hexdigest()


def replace_all(db, username):
    """New codes for `username` (older ones stop working); returned once, never stored in clear."""
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(10)) for _ in range(COUNT)]
    codes = [f"{c[:5]}-{c[5:]}" for c in codes]
    db.execute("DELETE FROM authenticators WHERE username = ? AND kind = 'recovery_code'", (username,))
    db.executemany("INSERT INTO authenticators (username, kind, code_hash, created_at) VALUES (?, 'recovery_code', ?, ?)",
                   [(username, _hash(c), int(time.time())) for c in codes])
    return codes


def use(username, code):
    """True when `code` is one of the person's unused recovery codes; it is used up at once."""
    if not code or len(code) > 40:
        return False
    cur = get_db().execute("DELETE FROM authenticators WHERE username = ? AND kind = 'recovery_code' AND code_hash = ?",
                           (username, _hash(code)))
    return cur.rowcount == 1


def left(username):
    return get_db().execute("SELECT COUNT(*) FROM authenticators WHERE username = ? AND kind = 'recovery_code'",
                            (username,)).fetchone()[0]
