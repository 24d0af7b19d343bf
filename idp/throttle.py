"""Slowing down guessing: failed password checks are counted per username, per address, per known
device and per client in SQLite (so the count holds across workers and restarts); past a limit
every further attempt must wait a growing delay (RFC 9700 §4.15 asks to limit online guessing of
credentials; NIST SP 800-63B §5.2.2 asks that the throttle not let an attacker lock the owner out).

The keys a password check counts under:
- `addr:<address>` always;
- `device:<id>` when the browser holds a device cookie that this person received at an earlier
  sign-in (OWASP's "device cookies"): failures from elsewhere never hold up that browser;
- `user:<username>` otherwise, so a person's unknown browsers slow down once someone guesses.
An app's failed client authentications count under `client:<client_id>`. Requests for a recovery
mail count under `mail-addr:<address>` and `mail-user:<username>` and are never taken back. Device
user codes typed at /activate count under `usercode-user:<username>` and `usercode-addr:<address>`
(RFC 8628 §5.1); a right code takes back its own attempt only, so a person's own device cannot wipe
out earlier wrong guesses."""

import math
import time

from . import settings
from .db import get_db, transaction

#: Failures are forgotten after an hour without one.
WINDOW = 3600
#: Client authentication: after this many failures, waits of 1, 2, 4, … seconds, at most
#: CLIENT_MAX_DELAY (short: a real app whose secret is not yet known to a worker waits too).
CLIENT_LIMIT = 5
CLIENT_MAX_DELAY = 60
#: "Forgot your password?": recovery mails per account, and requests per address, in an hour; past
#: that, an hour's wait.
MAIL_LIMITS = {"mail-addr:": 10, "mail-user:": 3}
MAIL_WAIT = 3600
#: Device user codes (/activate): wrong codes per person and per address before waits of 1, 2, 4, …
#: seconds, at most USER_CODE_MAX_DELAY (a user code lives minutes; ~35 bits need millions of tries).
USER_CODE_LIMITS = {"usercode-user:": 5, "usercode-addr:": 20}
USER_CODE_MAX_DELAY = 300


def password_keys(username, address, device=None):
    """The throttle keys of one password check (see the module's docstring). A known device counts
    under its own key only: behind a proxy that hides addresses (or a family's one NAT address),
    failures from others at that address must not hold up the person's own browser either."""
    if device:
        return [f"device:{device}"]
    keys = [f"addr:{address}"]
    if username:
        keys.append(f"user:{username.strip().lower()}")
    return keys


def code_keys(username, device=None):
    """The throttle keys of a second-step code: like passwords, a browser this person signed in
    with before counts alone, so someone who knows the password cannot lock the owner out of the
    code step from elsewhere."""
    return [f"otp-device:{device}"] if device else [f"otp:{username.lower()}"]


def user_code_keys(username, address):
    """The throttle keys of a user code typed at /activate: the signed-in person and the address."""
    return [f"usercode-user:{username}", f"usercode-addr:{address}"]


def client_keys(client_id, address):
    """Failed client authentications per app *and* address: an app's id is public, so a count per
    app alone would let anyone keep the real app out."""
    return [f"client:{client_id}:{address}"]


def _limit(key):
    config = settings.current()
    for prefix, limit in MAIL_LIMITS.items():
        if key.startswith(prefix):
            return limit, MAIL_WAIT
    if key.startswith("client:"):
        return CLIENT_LIMIT, CLIENT_MAX_DELAY
    for prefix, limit in USER_CODE_LIMITS.items():
        if key.startswith(prefix):
            return limit, USER_CODE_MAX_DELAY
    if key.startswith("addr:"):
        return config["LOGIN_ADDRESS_LIMIT"], config["LOGIN_MAX_DELAY"]
    return config["LOGIN_USER_LIMIT"], config["LOGIN_MAX_DELAY"]


def _delay(failures, key):
    """No wait below the limit; then 1, 2, 4, … seconds, at most the key's maximum."""
    limit, most = _limit(key)
    if failures < limit:
        return 0
    if key.startswith("mail-"):
        return most
    return min(2 ** min(failures - limit, 20), most)


def wait_seconds(keys, now=None):
    """Whole seconds any of `keys` must still wait before its next attempt (0: none)."""
    now = now or time.time()
    rows = get_db().execute(
        f"SELECT MAX(blocked_until) FROM login_failures WHERE key IN ({','.join('?' * len(keys))})", keys
    ).fetchone()
    return max(0, math.ceil((rows[0] or 0) - now))


def begin_attempt(keys, now=None):
    """Count this attempt as a failure before the secret is checked, in one transaction with the
    check of the wait, so parallel guesses cannot all slip through. Return the seconds still to
    wait (the attempt is then not counted, and the secret must not be checked), or 0 to go ahead."""
    now = now or time.time()
    with transaction():
        wait = wait_seconds(keys, now)
        if not wait:
            _count_failure(keys, now)
    return wait


def count_failure(keys, now=None):
    """Count one failure now (after a check failed), in its own transaction."""
    with transaction():
        _count_failure(keys, now or time.time())


def _count_failure(keys, now):
    db = get_db()
    for key in keys:
        row = db.execute("SELECT failures, last_failure_at FROM login_failures WHERE key = ?", (key,)).fetchone()
        failures = row["failures"] + 1 if row and row["last_failure_at"] > now - WINDOW else 1
        db.execute(
            "INSERT INTO login_failures (key, failures, last_failure_at, blocked_until) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
            " last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until",
            # Below the limit nothing is blocked (0, not `now`: a parallel attempt that read the
            # clock a moment earlier must not see a wait).
            (key, failures, now, (now + delay) if (delay := _delay(failures, key)) else 0),
        )


def record_success(keys):
    """The secret was right: clear the count of the person, device or client, and take back the
    address's count of this attempt (an address may hold many people)."""
    db = get_db()
    for key in keys:
        if not key.startswith(("addr:", "usercode-")):
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
            continue
        limit, _ = _limit(key)
        db.execute(
            "UPDATE login_failures SET failures = MAX(failures - 1, 0),"
            " blocked_until = CASE WHEN failures - 1 >= ? THEN blocked_until ELSE 0 END WHERE key = ?",
            (limit, key),
        )


def describe_wait(seconds):
    """'1 second', '5 seconds', '2 minutes': for the page that says when to try again."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
