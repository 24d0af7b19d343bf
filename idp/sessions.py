"""Browser sessions at the IdP: a random id in the signed cookie, its hash and expiry in SQLite,
so a session can be ended from the server (sign-out, disable, password change, the account page's
list of sessions)."""

import hashlib
import logging
import secrets
import sqlite3
import time
from urllib.parse import parse_qsl, urlencode

import flask_login
from flask import request, session
from flask.sessions import SessionInterface

from . import browsers, settings, signout
from .db import get_db, secret_hash
from .users import active, get_user

log = logging.getLogger(__name__)

login_manager = flask_login.LoginManager()

#: How long that mark holds (s): the browser goes straight on to the request after signing in.
FRESH_SIGN_IN_TTL = 300
#: A session's last_seen_at moves on at most this often (s), so a busy browser costs no write per request.
LAST_SEEN_EVERY = 300
#: The longest address kept (an IPv6 address with a zone fits).
ADDRESS_MAX = 64


class SignedIn(flask_login.UserMixin):
    """The person behind the current browser session."""

    def __init__(self, sid, user, auth_time, amr=("pwd",), handle=None, oidc_sid=None):
        self.sid = sid  # the session id: the cookie's secret
        self.handle = handle  # the session's public name on the account page (not its id)
        # The `sid` claim of its ID tokens and logout notices (Front-Channel Logout §3): public, random,
        # unrelated to the session id; codes and tokens of the session carry it (user.oidc_sid).
        self.oidc_sid = user.oidc_sid = oidc_sid
        # RFC 8176: how this session's sign-in was made; codes and tokens of the session carry it.
        self.amr = user.amr = list(amr)
        self.fresh_request = None  # see mark_fresh_sign_in
        self.user = user
        self.auth_time = user.auth_time = auth_time

    def get_id(self):
        return self.sid


@login_manager.user_loader
def _load(sid):
    now = int(time.time())
    row = get_db().execute(
        "SELECT username, auth_time, fresh_request, amr, handle, last_seen_at, sid FROM sessions"
        " WHERE id_hash = ? AND expires_at > ?",
        (secret_hash(sid), now),
    ).fetchone()
    if row is None:
        return None
    user = active(get_user(row["username"]))
    if user is None:
        return None
    signed_in = SignedIn(sid, user, row["auth_time"], row["amr"].split(), row["handle"], row["sid"])
    signed_in.fresh_request = row["fresh_request"]
    if (row["last_seen_at"] or 0) <= now - LAST_SEEN_EVERY:
        _seen(sid, now)
    return signed_in


def _seen(sid, now):
    """The session was used now: write it down (at most every LAST_SEEN_EVERY seconds, whichever
    worker comes first). Only a hint for the account page, so a busy database skips it."""
    try:
        get_db().execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?"
                         " AND (last_seen_at IS NULL OR last_seen_at <= ?)",
                         (now, secret_hash(sid), now - LAST_SEEN_EVERY))
    except sqlite3.OperationalError as e:
        log.info("last seen of a session not recorded: %s", e)


def sign_in(user, amr=("pwd",)):
    """Start a new session for `user`, signed in by the methods `amr` (RFC 8176); the old cookie's
    contents are dropped (new session id). The browser (a short summary of its User-Agent) and the
    address are kept for the account page's list of sessions, which names the session by a random
    handle of its own. The same person signing in again in this browser (prompt=login, max_age, a
    step up) keeps the session's `sid`, so the apps it signed in to stay its apps; anyone else ends
    the old session first, with everything that sets off (signout.py)."""
    previous = current()
    oidc_sid = previous.oidc_sid if previous is not None and previous.user.username == user.username else None
    if oidc_sid is not None:
        get_db().execute("DELETE FROM sessions WHERE id_hash = ?", (secret_hash(previous.sid),))
        flask_login.logout_user()
    else:
        end("another_sign_in")
        oidc_sid = secrets.token_hex(16)
    session.clear()
    now = int(time.time())
    sid, handle = secrets.token_urlsafe(32), secrets.token_hex(16)
    get_db().execute(
        "INSERT INTO sessions (id_hash, username, auth_time, expires_at, amr, handle, user_agent, address,"
        " last_seen_at, sid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (secret_hash(sid), user.username, now, now + settings.current()["SESSION_TTL"], " ".join(amr), handle,
         browsers.describe(request.headers.get("User-Agent")), (request.remote_addr or "")[:ADDRESS_MAX] or None,
         now, oidc_sid),
    )
    session.permanent = True
    flask_login.login_user(SignedIn(sid, user, now, amr, handle, oidc_sid))


def end(reason="signed_out"):
    """End the current browser session, if any; return it (signout.Ended) or None."""
    signed_in = flask_login.current_user
    ended = []
    if signed_in.is_authenticated:
        ended = signout.end_where("id_hash = ?", (secret_hash(signed_in.sid),), reason)
    flask_login.logout_user()
    session.clear()
    return ended[0] if ended else None


def end_all(username, reason="signed_out_everywhere"):
    """End every browser session of `username`, this one included; return this browser's (or None)."""
    signed_in = current()
    this = signed_in.oidc_sid if signed_in is not None else None
    ended = signout.end_where("username = ?", (username,), reason)
    flask_login.logout_user()
    session.clear()
    return next((e for e in ended if this is not None and e.sid == this), None)


def current():
    """The SignedIn person, or None."""
    signed_in = flask_login.current_user
    return signed_in if signed_in.is_authenticated else None


def _request_digest(params):
    """One authorization request, whatever the order of its parameters."""
    return hashlib.sha256(urlencode(sorted(params)).encode("utf-8")).hexdigest()


def mark_fresh_sign_in(authorize_query):
    """The person just signed in on the way to the authorization request with this query string:
    that request, and no other, counts this sign-in as fresh for prompt=login and max_age. The
    mark lives on the session's row, not in the cookie, so an old copy of the cookie cannot bring
    it back once it is used."""
    params = parse_qsl(authorize_query, keep_blank_values=True)
    get_db().execute("UPDATE sessions SET fresh_request = ?, fresh_until = ? WHERE id_hash = ?",
                     (_request_digest(params), int(time.time()) + FRESH_SIGN_IN_TTL, secret_hash(current().sid)))


def signed_in_for_this_request(signed_in, params):
    """OIDC Core §3.1.2.1: prompt=login and max_age are satisfied only by a sign-in made for this
    very request (`params`: its parameters), within minutes, and only once (whoever clears the
    mark first, in any worker, has it)."""
    if signed_in.fresh_request is None:  # the common case: no write
        return False
    cur = get_db().execute(
        "UPDATE sessions SET fresh_request = NULL, fresh_until = NULL"
        " WHERE id_hash = ? AND fresh_request = ? AND fresh_until >= ?",
        (secret_hash(signed_in.sid), _request_digest(params), int(time.time())))
    return cur.rowcount == 1


class _NoSessionOnApis(SessionInterface):
    """The token, userinfo and metadata endpoints never use the browser session (an app's call
    carries no cookie anyway): skip reading and writing it there, and delegate everywhere else."""

    def __init__(self, inner):
        self.inner, self.paths = inner, None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def open_session(self, app, request):
        if self.paths is None:
            self.paths = {rule.rule for rule in app.url_map.iter_rules()
                          if rule.endpoint.startswith(("latchkey.wellknown.", "latchkey.token.", "latchkey.userinfo."))}
        if request.path in self.paths:
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response):
        return self.inner.save_session(app, session, response)


def init_app(app):
    app.session_interface = _NoSessionOnApis(app.session_interface)
    login_manager.init_app(app)
    login_manager.login_view = "latchkey.pages.login"
    login_manager.login_message = "Sign in to see your account."  # not flask-login's "Please log in to access this page."
    login_manager.session_protection = None  # the session row is the protection
