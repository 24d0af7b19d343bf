"""OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every app that signed in
through it and registered a `backchannel_logout_uri` is sent a signed Logout Token by POST.

Delivery never holds up the person's request. A notice is a row of `logout_notices`, written in the
transaction that ends the session (signout.py), so it survives a crash or a restart. Each worker
process runs one daemon thread that sends the notices that are due: woken after a response that
queued one, and every POLL seconds otherwise (notices queued by `flask user …` commands, retries,
notices left by a worker that stopped). A worker claims a notice in one write transaction, for LEASE
seconds, so two workers never send the same notice at the same moment; a worker that dies while
sending leaves its claim to lapse, and another sends the notice again. Delivery is therefore at least
once, as the spec expects of receivers (§2.6 lets an RP recognise a notice by its `jti`, which stays
the same in every attempt of one notice). An attempt that fails is retried after BACKOFF, for at most
GIVE_UP_AFTER; every attempt is in the audit log. Redirects are never followed: a 3xx could send the
token somewhere the app did not register."""

import logging
import os
import secrets
import sqlite3
import threading
import time
import weakref
from urllib.parse import urlencode

from flask import current_app, g
from joserfc import jwt

from . import audit, outbound_http, settings
from .db import get_db, transaction

log = logging.getLogger(__name__)

#: Back-Channel Logout §2.4: the event that makes a JWT a Logout Token.
EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: §2.4: the `typ` header of a Logout Token (so that it is never taken for an ID token).
TOKEN_TYPE = "logout+jwt"
#: Lifetime of one Logout Token (s); each attempt signs a new one, so a retry is never stale.
TOKEN_TTL = 120
#: Seconds a receiver has for each step of one attempt (connect, send, each read of the answer) …
TIMEOUT = 5
#: … and for the whole attempt (s).
DEADLINE = 10
#: Pauses before the 2nd, 3rd, … attempt (s); the last one repeats until GIVE_UP_AFTER.
BACKOFF = (5, 30, 120, 600, 1800, 3600, 7200, 14400)
GIVE_UP_AFTER = 24 * 3600
#: How long a claim holds (s): longer than any attempt can take (TIMEOUT to connect, then DEADLINE).
LEASE = 60
#: How often an idle sender looks for due notices (s).
POLL = 5

_QUEUED = "latchkey_logout_notice_queued"
_SENDER = "latchkey_backchannel_sender"
_start_lock = threading.Lock()


def queue(db, client_id, username, sid, reason, now):
    """Queue a notice for the app `client_id` about the session `sid` of `username`, in the transaction
    `db` that ends the session (the caller knows the app wants one, or cannot tell: signout.py)."""
    jti = secrets.token_urlsafe(16)
    db.execute("INSERT INTO logout_notices (client_id, username, sid, jti, reason, created_at, next_attempt_at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)", (client_id, username, sid, jti, reason, now, now))
    audit.event("backchannel_logout_queued", client=client_id, user=username, sid=sid, reason=reason)
    g.setdefault(_QUEUED, True)


def logout_token(client_id, username, sid, jti, now):
    """A Logout Token (§2.4): iss, aud, iat, exp, jti, sub, sid and the logout event; never a nonce."""
    key = current_app.extensions["latchkey_key"]
    claims = {"iss": settings.current()["ISSUER"], "aud": client_id, "iat": now, "exp": now + TOKEN_TTL,
              "jti": jti, "sub": username, "sid": sid, "events": {EVENT: {}}}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": TOKEN_TYPE}, claims, key, algorithms=["RS256"])


def is_logout_token(header, claims):
    """§2.4, §4.3: a Logout Token is signed with the same key as ID tokens and must never pass for one;
    its `typ` header and its `events` claim tell it apart."""
    return header.get("typ") == TOKEN_TYPE or "events" in claims


def post(uri, token):
    """POST the token (§2.5) to exactly `uri` (outbound_http: no redirect, no proxy, TIMEOUT per step,
    DEADLINE for the whole attempt); return None when the app answered 2xx (§2.8), else what went wrong."""
    try:
        status, _ = outbound_http.request("POST", uri, urlencode({"logout_token": token}).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Latchkey back-channel logout"},
            timeout=TIMEOUT, deadline=DEADLINE, max_bytes=4096)
    except outbound_http.OutboundError as e:
        return str(e)
    if 200 <= status < 300:
        return None
    return f"HTTP {status}: redirect not followed" if 300 <= status < 400 else f"HTTP {status}"


def retry_in(attempts):
    """The pause after the `attempts`-th failed attempt."""
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def _claim(now):
    """The next due notice, claimed for LEASE seconds by this worker alone; or None."""
    with transaction() as db:
        # Not an app another worker is sending to right now: one slow or hung app holds at most one
        # worker's sender, never all of them.
        row = db.execute("SELECT * FROM logout_notices WHERE next_attempt_at <= ?"
                         " AND (claimed_until IS NULL OR claimed_until <= ?) AND client_id NOT IN"
                         " (SELECT client_id FROM logout_notices WHERE claimed_until > ?)"
                         " ORDER BY next_attempt_at, id LIMIT 1", (now, now, now)).fetchone()
        if row is not None:
            db.execute("UPDATE logout_notices SET claimed_until = ?, attempts = attempts + 1 WHERE id = ?",
                       (now + LEASE, row["id"]))
    return row


def _attempt(row):
    """Send one claimed notice once, and record what came of it."""
    attempt = row["attempts"] + 1
    about = {"client": row["client_id"], "user": row["username"], "sid": row["sid"], "attempt": attempt}
    db = get_db()
    # The address is looked up now: never one the app no longer has registered (clients.toml may have changed).
    client = current_app.extensions["latchkey_clients"].get(row["client_id"])
    if client is None or not client.backchannel_logout_uri:
        db.execute("DELETE FROM logout_notices WHERE id = ?", (row["id"],))
        audit.event("backchannel_logout_dropped", **about, error="the app has no backchannel_logout_uri any more")
        return
    now = int(time.time())
    error = post(client.backchannel_logout_uri, logout_token(row["client_id"], row["username"], row["sid"],
                                                             row["jti"], now))
    now = int(time.time())
    if error is None:
        db.execute("DELETE FROM logout_notices WHERE id = ?", (row["id"],))
        audit.event("backchannel_logout_sent", **about)
    elif now + retry_in(attempt) > row["created_at"] + GIVE_UP_AFTER:
        db.execute("DELETE FROM logout_notices WHERE id = ?", (row["id"],))
        audit.event("backchannel_logout_failed", **about, error=error, given_up=True)
        log.warning("gave up telling %s that a session of %s ended, after %d attempts: %s",
                    row["client_id"], row["username"], attempt, error)
    else:
        db.execute("UPDATE logout_notices SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?",
                   (now + retry_in(attempt), error, row["id"]))
        # The app's other notices wait as long: an app that is down is tried once per round, not once
        # per notice, and the notices of other apps do not queue behind it.
        db.execute("UPDATE logout_notices SET next_attempt_at = MAX(next_attempt_at, ?) WHERE client_id = ?"
                   " AND (claimed_until IS NULL OR claimed_until <= ?)", (now + retry_in(attempt), row["client_id"], now))
        audit.event("backchannel_logout_failed", **about, error=error, retry_in=retry_in(attempt))


def deliver_due():
    """Send every notice that is due now; return the seconds until the next one is due (at most POLL)."""
    while (row := _claim(int(time.time()))) is not None:
        _attempt(row)
    due = get_db().execute("SELECT MIN(MAX(next_attempt_at, COALESCE(claimed_until, 0))) FROM logout_notices"
                           ).fetchone()[0]
    return POLL if due is None else min(POLL, max(0.5, due - time.time()))


class _Sender:
    """The daemon thread of one worker process. It holds the app weakly: an app that is gone (tests
    make one per test) ends its thread."""

    def __init__(self, app):
        self.pid = os.getpid()
        self.wake = threading.Event()
        self._app = weakref.ref(app)
        threading.Thread(target=self._run, name="latchkey-backchannel-logout", daemon=True).start()

    def _run(self):
        pause = 0
        while True:
            self.wake.wait(pause)
            self.wake.clear()
            app = self._app()
            if app is None:
                return
            try:
                with app.app_context():
                    pause = deliver_due()
            except sqlite3.Error as e:  # busy, or the database went away: the next round tries again
                log.warning("back-channel logout notices not sent this round: %s", e)
                pause = POLL
            except Exception:
                log.exception("back-channel logout sender failed; trying again")
                pause = POLL
            del app


def _wanted(app):
    """True when some app registered a backchannel_logout_uri (remembered per whitelist)."""
    clients = app.extensions["latchkey_clients"].clients
    cached = app.extensions.get("latchkey_backchannel_wanted")
    if cached is None or cached[0] is not clients:
        cached = app.extensions["latchkey_backchannel_wanted"] = (
            clients, any(c.backchannel_logout_uri for c in clients.values()))
    return cached[1]


def _ensure_sender(app):
    """This process's sender, started when first needed (a forked worker starts its own)."""
    sender = app.extensions.get(_SENDER)
    if (sender is None or sender.pid != os.getpid()) and _wanted(app):
        with _start_lock:
            sender = app.extensions.get(_SENDER)
            if sender is None or sender.pid != os.getpid():
                sender = app.extensions[_SENDER] = _Sender(app)
    return sender


def after_request(response):
    """Keep the sender running, and wake it once this response is sent if the request queued a notice."""
    sender = _ensure_sender(current_app._get_current_object())
    if g.pop(_QUEUED, False) and sender is not None:
        response.call_on_close(sender.wake.set)
    return response


def on_register(state):
    """A server starts its senders at once, so notices left pending by a restart go without waiting for
    a request; `flask user …` commands leave them to the server."""
    from . import FOR_ADMIN_COMMAND

    if not FOR_ADMIN_COMMAND.get():
        _ensure_sender(state.app)
