"""Authorization codes and tokens in SQLite, stored only as hashes, and the atomic claims that
make a code single-use and a refresh token rotate exactly once."""

import secrets
import time

from authlib.oauth2.rfc6749 import TokenMixin, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from flask import current_app

from . import audit, settings
from .db import get_db, secret_hash
from .signin.steps import acr
from .users import get_user


def new_grant_id():
    return secrets.token_urlsafe(16)


def offline_granted(scope):
    """OIDC Core §11: a refresh token is issued only when offline_access was granted."""
    return "offline_access" in (scope_to_list(scope) or [])


class AuthorizationCode(AuthorizationCodeMixin):
    def __init__(self, row):
        self.row = row
        self.code_challenge = row["code_challenge"]
        self.code_challenge_method = row["code_challenge_method"]

    def get_redirect_uri(self):
        return self.row["redirect_uri"]

    def get_scope(self):
        return self.row["scope"]

    def get_nonce(self):
        return self.row["nonce"]

    def get_auth_time(self):
        return self.row["auth_time"]

    def get_acr(self):
        return acr(self.get_amr())

    def get_amr(self):
        # RFC 8176 / OIDC Core §2: how the sign-in behind this code was made.
        return self.row["amr"].split()


def save_code(code, request, auth_time, amr, sid=None, now=None):
    """Store a new authorization code (hash only), bound to client, redirect URI and PKCE challenge,
    and to the browser session `sid` it came from; the app becomes one of that session's apps (told
    when it ends: Back-Channel Logout §2.3)."""
    now = int(now or time.time())
    data = request.payload.data
    db = get_db()
    db.execute(
        "INSERT INTO authorization_codes (code_hash, client_id, username, redirect_uri, scope,"
        " nonce, code_challenge, code_challenge_method, auth_time, grant_id, expires_at, amr, sid, resource)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            secret_hash(code), request.client.client_id, request.user.username,
            request.payload.redirect_uri, request.scope, data.get("nonce"),
            data.get("code_challenge"), data.get("code_challenge_method"),
            auth_time, new_grant_id(), now + settings.current()["AUTH_CODE_TTL"], " ".join(amr), sid,
            data.get("resource"),  # RFC 8707 §2.1, checked by oauth.AuthorizationRequestRules
        ),
    )
    if sid is not None:
        db.execute("INSERT OR IGNORE INTO session_clients (sid, client_id) VALUES (?, ?)",
                   (sid, request.client.client_id))


def find_code(code, client_id):
    """The unexpired code issued to `client_id`, used or not (so reuse can be detected)."""
    row = get_db().execute(
        "SELECT * FROM authorization_codes WHERE code_hash = ? AND client_id = ? AND expires_at > ?",
        (secret_hash(code), client_id, int(time.time())),
    ).fetchone()
    return AuthorizationCode(row) if row else None


def claim_code(code):
    """Mark the code used; True for exactly one caller however many race (RFC 6749 §4.1.2)."""
    cur = get_db().execute(
        "UPDATE authorization_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
        (int(time.time()), code.row["code_hash"]),
    )
    return cur.rowcount == 1


def nonce_used(client_id, nonce):
    row = get_db().execute(
        "SELECT 1 FROM authorization_codes WHERE client_id = ? AND nonce = ?", (client_id, nonce)
    ).fetchone()
    return row is not None


class Token(TokenMixin):
    """A stored access token and, if one was issued, its refresh token, seen as the one it was
    found by: a refresh token has its own scope (the granted one, RFC 6749 §6), expiry and
    revocation."""

    def __init__(self, row, as_refresh=False):
        self.row = row
        self.kind = "refresh_token" if as_refresh else "access_token"
        self.id = row["id"]
        self.grant_id = row["grant_id"]
        self.client_id = row["client_id"]
        self.username = row["username"]
        self.scope = row["grant_scope"] if as_refresh else row["scope"]
        self.grant_scope = row["grant_scope"]
        self.auth_time = row["auth_time"]
        self.amr = row["amr"].split()
        self.sid = row["sid"]  # the browser session of the sign-in (None before schema version 5)
        self.audience = row["audience"]  # the API of a JWT access token (jwt_access_tokens.py); None: opaque

    def check_client(self, client):
        return self.client_id == client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_at(self):
        return self.row["refresh_expires_at" if self.kind == "refresh_token" else "access_expires_at"]

    def get_expires_in(self):
        return self.get_expires_at() - self.row["issued_at"]

    def is_expired(self):
        return self.get_expires_at() <= time.time()

    def is_revoked(self):
        row = self.row
        other = row["rotated_at"] if self.kind == "refresh_token" else row["access_revoked_at"]
        return row["revoked_at"] is not None or other is not None

    def get_user(self):
        # Looked up once per request: the bearer check and the userinfo claims both ask.
        if not hasattr(self, "_user"):
            self._user = get_user(self.username)
        return self._user

    def get_client(self):
        return current_app.extensions["latchkey_clients"].get(self.client_id)


def save_token(token, request, now=None):
    """Store an issued token pair (hashes only) in the family of the code or refresh token it
    came from."""
    now = int(now or time.time())
    if request.authorization_code:
        code = request.authorization_code
        grant_id, auth_time, grant_scope = code.row["grant_id"], code.get_auth_time(), code.get_scope()
        amr, sid = code.get_amr(), code.row["sid"]
        parent_id = None
    else:
        parent = request.refresh_token
        grant_id, auth_time, grant_scope = parent.grant_id, parent.auth_time, parent.grant_scope
        amr, sid = parent.amr, parent.sid  # a rotated refresh token stays in its session
        parent_id = parent.id
    refresh = token.get("refresh_token")
    api = getattr(request, "api", None)  # a JWT access token's API (jwt_access_tokens.py)
    get_db().execute(
        "INSERT INTO tokens (grant_id, parent_id, client_id, username, scope, grant_scope, access_hash,"
        " access_expires_at, refresh_hash, refresh_expires_at, issued_at, auth_time, amr, sid, audience)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            grant_id, parent_id, request.client.client_id, request.user.username, token["scope"],
            grant_scope, secret_hash(token["access_token"]), now + token["expires_in"],
            secret_hash(refresh) if refresh else None,
            now + request.client.refresh_token_ttl if refresh else None, now, auth_time, " ".join(amr), sid,
            api.audience if api else None,
        ),
    )
    audit.event(
        "token_issued" if parent_id is None else "token_rotated",
        client=request.client.client_id, user=request.user.username, grant=grant_id,
        scope=token["scope"], refresh=bool(refresh),
    )


def find_token(value, hint=None):
    """An access or refresh token, whatever the hint says (RFC 7009 §2.1: a wrong hint is
    only a slower search)."""
    finders = [find_access_token, find_refresh_token]
    if hint == "refresh_token":
        finders.reverse()
    for find in finders:
        if token := find(value):
            return token
    return None


def find_access_token(value):
    row = get_db().execute("SELECT * FROM tokens WHERE access_hash = ?", (secret_hash(value),)).fetchone()
    return Token(row) if row else None


def find_refresh_token(value):
    row = get_db().execute("SELECT * FROM tokens WHERE refresh_hash = ?", (secret_hash(value),)).fetchone()
    return Token(row, as_refresh=True) if row else None


def ended_with_session(token, client):
    """True when `client` keeps refresh tokens only as long as their session (refresh_token_lifetime =
    "session") and the session of `token` has ended, by sign-out (signout.py revokes them then) or
    by expiry. Tokens from before sessions were recorded (no sid) keep working."""
    if client.refresh_token_lifetime != "session" or token.sid is None:
        return False
    return get_db().execute("SELECT 1 FROM sessions WHERE sid = ? AND expires_at > ?",
                            (token.sid, int(time.time()))).fetchone() is None


def claim_rotation(token):
    """Mark a refresh token used; True for exactly one caller however many race."""
    cur = get_db().execute(
        "UPDATE tokens SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL",
        (int(time.time()), token.id),
    )
    return cur.rowcount == 1


def supersede_unused_child(token, grace):
    """A client retries with a refresh token it has just rotated (a lost response): if that was
    at most `grace` seconds ago and the refresh token it got was never used, retire that one so
    the retry can have a fresh pair. True for exactly one caller."""
    now = int(time.time())
    if token.row["rotated_at"] is None or now - token.row["rotated_at"] > grace:
        return False
    cur = get_db().execute(
        "UPDATE tokens SET revoked_at = ? WHERE parent_id = ? AND rotated_at IS NULL AND revoked_at IS NULL",
        (now, token.id),
    )
    return cur.rowcount == 1


def revoke_access(token):
    """Revoke one access token; its refresh token lives on (RFC 7009 §2.1)."""
    get_db().execute("UPDATE tokens SET access_revoked_at = ? WHERE id = ?", (int(time.time()), token.id))
    audit.event("token_revoked", kind="access_token", client=token.client_id, user=token.username,
                grant=token.grant_id)


def revoke_grant(grant_id, reason):
    """Revoke every token of one grant (the family of one authorization code)."""
    cur = get_db().execute(
        "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        (int(time.time()), grant_id),
    )
    audit.event("grant_revoked", grant=grant_id, reason=reason, tokens=cur.rowcount)


def apps_holding_tokens(username, now=None):
    """Per app: how many live grants `username` has given it, and when it last got a token."""
    now = int(now or time.time())
    return get_db().execute(
        "SELECT client_id, COUNT(DISTINCT grant_id) AS grants, MAX(issued_at) AS last_issued FROM tokens"
        " WHERE username = ? AND revoked_at IS NULL AND (access_expires_at > ?"
        " OR (refresh_expires_at > ? AND rotated_at IS NULL)) GROUP BY client_id ORDER BY client_id",
        (username, now, now),
    ).fetchall()


def revoke_app(username, client_id):
    """Revoke every token `username` has given one app."""
    cur = get_db().execute(
        "UPDATE tokens SET revoked_at = ? WHERE username = ? AND client_id = ? AND revoked_at IS NULL",
        (int(time.time()), username, client_id),
    )
    audit.event("app_revoked_by_user", user=username, client=client_id, tokens=cur.rowcount)
