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


def begin_attempt(username, address, now=None):
    """Count this sign-in attempt as a failure before the password is checked, in one
    transaction with the check of the wait, so parallel guesses cannot all slip through.
    Return the seconds still to wait (the attempt is then not counted), or 0 to go ahead."""
    now = now or time.time()
    with transaction():
        wait = wait_seconds(username, address, now)
        if not wait:
            _count_failure(username, address, now)
    return wait


def _count_failure(username, address, now):
    db = get_db()
    for key in _keys(username, address):
        row = db.execute("SELECT failures, last_failure_at FROM login_failures WHERE key = ?", (key,)).fetchone()
        failures = row["failures"] + 1 if row and row["last_failure_at"] > now - WINDOW else 1
        db.execute(
            "INSERT INTO login_failures (key, failures, last_failure_at, blocked_until) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
            " last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until",
            # Below the limit nothing is blocked (0, not `now`: a parallel attempt that read the
            # clock a moment earlier must not see a wait).
            (key, failures, now, (now + delay) if (delay := _delay(failures, _limit(key))) else 0),
        )


def record_success(username, address):
    """A correct password clears the username's count and takes back the address's count of
    this attempt."""
    db = get_db()
    db.execute("DELETE FROM login_failures WHERE key = ?", (f"user:{username.strip().lower()}",))
    db.execute(
        "UPDATE login_failures SET failures = MAX(failures - 1, 0),"
        " blocked_until = CASE WHEN failures - 1 >= ? THEN blocked_until ELSE 0 END WHERE key = ?",
        (settings.current()["LOGIN_ADDRESS_LIMIT"], f"addr:{address}"),
    )
