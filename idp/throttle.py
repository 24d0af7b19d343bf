"""Slowing down password guessing: failed sign-ins are counted per username and per address in
SQLite (so the count holds across workers and restarts); past a limit every further attempt must
wait a growing delay (RFC 9700 §4.15 asks to limit online guessing of credentials)."""

import math
import time

from . import settings
from .db import get_db, transaction

#: Failures are forgotten after an hour without one.
WINDOW = 3600


def _keys(username, address):
    keys = [f"addr:{address}"]
    if username:
        keys.append(f"user:{username.strip().lower()}")
    return keys


def _limit(key):
    config = settings.current()
    return config["LOGIN_USER_LIMIT"] if key.startswith("user:") else config["LOGIN_ADDRESS_LIMIT"]


def _delay(failures, limit):
    """No wait below the limit; then 1, 2, 4, … seconds, at most LOGIN_MAX_DELAY."""
    if failures < limit:
        return 0
    return min(2 ** min(failures - limit, 20), settings.current()["LOGIN_MAX_DELAY"])


def wait_seconds(username, address, now=None):
    """Whole seconds this username or address must still wait before its next attempt (0: none)."""
    now = now or time.time()
    keys = _keys(username, address)
    rows = get_db().execute(
        f"SELECT MAX(blocked_until) FROM login_failures WHERE key IN ({','.join('?' * len(keys))})", keys
    ).fetchone()
    return max(0, math.ceil((rows[0] or 0) - now))


def record_failure(username, address, now=None):
    now = now or time.time()
    with transaction() as db:
        for key in _keys(username, address):
            row = db.execute("SELECT failures, last_failure_at FROM login_failures WHERE key = ?", (key,)).fetchone()
            failures = row["failures"] + 1 if row and row["last_failure_at"] > now - WINDOW else 1
            db.execute(
                "INSERT INTO login_failures (key, failures, last_failure_at, blocked_until) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
                " last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until",
                (key, failures, now, now + _delay(failures, _limit(key))),
            )


def record_success(username):
    """A correct password clears the username's count (the address keeps its own)."""
    get_db().execute("DELETE FROM login_failures WHERE key = ?", (f"user:{username.lower()}",))
