"""The device authorization grant (RFC 8628): a TV app or a command-line tool that cannot show a
browser asks for a code at /device_authorization, shows the person a short user code and /activate,
and polls /token while the person signs in on a phone or laptop and confirms (views/device.py).

Authlib's rfc8628 module does the protocol (the endpoint's answer, the grant's polling errors
authorization_pending, slow_down, access_denied, expired_token); this module supplies storage and
Latchkey's rules. Only hashes are stored: the device code (256 random bits) as SHA-256, like tokens;
the user code as an HMAC-SHA-256 keyed with the session secret, because a user code has only about
35 bits (8 letters from 20) and a plain hash of one could be reversed by trying them all, from a
copy of the database alone."""

import hashlib
import hmac
import secrets
import sqlite3
import time

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (InvalidGrantError, InvalidRequestError, UnauthorizedClientError,
                                    scope_to_list)
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE, DeviceAuthorizationEndpoint, DeviceCredentialMixin
from authlib.oauth2.rfc8628 import DeviceCodeGrant as AuthlibDeviceCodeGrant
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDToken
from flask import current_app

from . import apis, audit, settings, tokens
from .db import get_db, secret_hash, transaction
from .id_tokens import IdTokenMixin
from .jwt_access_tokens import JwtAccessTokens
from .signin.steps import acr
from .users import active, get_user

#: RFC 8628 §6.1: user codes from 20 consonants (no vowels, so no words; no digits, so no 0/O or
#: 1/I/L mix-ups), shown as two groups of four: Authlib's generator, `WDJB-MJHT`.
USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
#: RFC 8628 §3.5: a device that polls faster than its interval is told to slow down by 5 seconds.
SLOW_DOWN_STEP = 5
#: Polls arriving this much (s) before the interval is over still count as on time (network jitter).
POLL_GRACE = 0.5


def normalize(typed):
    """The user code a person typed, as issued (`WDJBMJHT`), or None when it cannot be one:
    case, spaces and dashes do not matter (RFC 8628 §6.1)."""
    code = "".join(c for c in (typed or "").upper() if c not in " -\t")
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_LETTERS for c in code):
        return None
    return code


def user_code_hash(code):
    """The stored form of a (normalized) user code; see the module's docstring for why keyed."""
    key = current_app.secret_key
    key = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(key, b"latchkey-user-code:" + code.encode("ascii"), hashlib.sha256).hexdigest()


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    """POST /device_authorization (RFC 8628 §3.1, §3.2)."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]

    def get_verification_uri(self):
        return f"{settings.current()['ISSUER']}/activate"

    def create_endpoint_response(self, request):
        """Authlib's, with the app's grant types and scope checked, the RFC 8707 resource checked
        here rather than at the first poll, and the codes stored as hashes. (Authlib's own would
        authenticate the app a second time: a private_key_jwt assertion works only once.)"""
        client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This app may not use the device authorization grant.")
        scope = client.get_allowed_scope(request.payload.scope)  # OIDC Core §3.1.2.1: others are ignored
        resources = request.payload.datalist.get("resource", [])
        if len(resources) > 1:
            raise apis.InvalidTargetError("Name one resource per request.")
        resource = resources[0] if resources else None
        if resource is not None or client.api_scopes:
            apis.choose(client, scope, resource)  # invalid_target / invalid_scope now, not while polling
        config = settings.current()
        device_code = secrets.token_urlsafe(32)
        now = int(time.time())
        for _ in range(5):  # a user code equal to a stored one (even an expired one): draw again
            user_code = self.generate_user_code()
            try:
                get_db().execute(
                    "INSERT INTO device_codes (device_hash, user_code_hash, client_id, scope, resource, grant_id,"
                    " created_at, expires_at, poll_interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (secret_hash(device_code), user_code_hash(normalize(user_code)), client.client_id, scope,
                     resource, tokens.new_grant_id(), now, now + config["DEVICE_CODE_TTL"],
                     config["DEVICE_POLL_INTERVAL"]))
                break
            except sqlite3.IntegrityError:
                continue
        else:
            raise InvalidRequestError("Try again.")  # five collisions in a row: never in practice
        audit.event("device_authorization_started", client=client.client_id, scope=scope)
        verification_uri = self.get_verification_uri()
        return 200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
            "expires_in": config["DEVICE_CODE_TTL"],
            "interval": config["DEVICE_POLL_INTERVAL"],
        }, default_json_headers


class DeviceCredential(DeviceCredentialMixin, AuthorizationCodeMixin):
    """A stored device authorization. Once approved it plays the part of an authorization code:
    tokens.save_token and the ID token read its sign-in (auth_time, amr) and grant from it."""

    def __init__(self, row):
        self.row = {**dict(row), "sid": None}  # device tokens belong to no browser session

    def get_client_id(self):
        return self.row["client_id"]

    def get_scope(self):
        return self.row["scope"]

    def get_user_code(self):
        return self.row["user_code_hash"]  # only the hash is known

    def is_expired(self):
        return self.row["expires_at"] <= time.time()

    def get_redirect_uri(self):
        return None

    def get_nonce(self):
        return None

    def get_auth_time(self):
        return self.row["auth_time"]

    def get_amr(self):
        return (self.row["amr"] or "").split()

    def get_acr(self):
        return acr(self.get_amr())


class DeviceCodeGrant(JwtAccessTokens, AuthlibDeviceCodeGrant):
    """The device polling /token (RFC 8628 §3.4, §3.5)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]

    def validate_token_request(self):
        """Authlib's, but a device code that is unknown or was issued to another app is
        invalid_grant (RFC 6749 §5.2), not invalid_request or unauthorized_client."""
        device_code = self.request.payload.data.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code'.")
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This app may not use the device authorization grant.")
        credential = self.query_device_credential(device_code)
        if credential is None or credential.get_client_id() != client.client_id:
            raise InvalidGrantError("Unknown device code, or it was issued to another app.")
        self.request.client = client
        self.request.user = self.validate_device_credential(credential)
        self.request.credential = self.request.authorization_code = credential
        self.select_api(credential.get_scope(), credential.row["resource"])

    def validate_device_credential(self, credential):
        if credential.row["status"] == "used":
            raise InvalidGrantError("The device code was already used.")
        return super().validate_device_credential(credential)

    def query_device_credential(self, device_code):
        row = get_db().execute("SELECT * FROM device_codes WHERE device_hash = ?", (secret_hash(device_code),)).fetchone()
        return DeviceCredential(row) if row else None

    def query_user_grant(self, user_code):
        row = get_db().execute("SELECT status, username FROM device_codes WHERE user_code_hash = ?",
                               (user_code,)).fetchone()
        if row is None or row["status"] not in ("approved", "denied"):
            return None
        user = active(get_user(row["username"])) if row["status"] == "approved" else None
        return (user, user is not None)  # approved by someone since disabled or removed: denied

    def should_slow_down(self, credential):
        """RFC 8628 §3.5: polling faster than the interval answers slow_down and adds 5 seconds to
        the interval, for this and every later poll; counted in SQLite, so across workers."""
        now = time.time()
        with transaction() as db:
            row = db.execute("SELECT last_polled_at, poll_interval FROM device_codes WHERE device_hash = ?",
                             (credential.row["device_hash"],)).fetchone()
            too_fast = row["last_polled_at"] is not None and now - row["last_polled_at"] < row["poll_interval"] - POLL_GRACE
            db.execute("UPDATE device_codes SET last_polled_at = ?, poll_interval = poll_interval + ?"
                       " WHERE device_hash = ?", (now, SLOW_DOWN_STEP if too_fast else 0, credential.row["device_hash"]))
        return too_fast

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        # OIDC Core §11: a refresh token only with offline_access (and the refresh_token grant, Authlib's rule).
        include = include_refresh_token and tokens.offline_granted(scope)
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def create_token_response(self):
        # The approval works once: claimed in the transaction that stores the tokens.
        with transaction():
            cur = get_db().execute("UPDATE device_codes SET status = 'used' WHERE device_hash = ? AND status = 'approved'",
                                   (self.request.credential.row["device_hash"],))
            if cur.rowcount == 1:
                return super().create_token_response()
        raise InvalidGrantError("The device code was already used.")


class IdTokenForDevice(IdTokenMixin, OpenIDToken):
    """An ID token for a device that asked for `openid`, about the person who approved it."""


def pending(user_code):
    """The pending, unexpired device authorization of a typed user code, or None."""
    code = normalize(user_code)
    if code is None:
        return None
    row = get_db().execute("SELECT * FROM device_codes WHERE user_code_hash = ? AND status = 'pending'"
                           " AND expires_at > ?", (user_code_hash(code), int(time.time()))).fetchone()
    return DeviceCredential(row) if row else None


def decide(device_hash, signed_in, approve):
    """The person at /activate approved (or denied) a pending device authorization; True when it
    was still pending, unexpired, and is now decided (once: a user code works a single time)."""
    now = int(time.time())
    cur = get_db().execute(
        "UPDATE device_codes SET status = ?, username = ?, auth_time = ?, amr = ?"
        " WHERE device_hash = ? AND status = 'pending' AND expires_at > ?",
        ("approved" if approve else "denied", signed_in.user.username, signed_in.auth_time,
         " ".join(signed_in.amr), device_hash, now))
    return cur.rowcount == 1


def scopes_of(credential):
    """The scopes a device asks for, as a list (for the confirmation page)."""
    return scope_to_list(credential.get_scope() or "")
