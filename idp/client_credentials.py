"""The client_credentials grant (RFC 6749 §4.4): a backup script, a Home Assistant automation or
another service calls an API as itself, with no person behind it. Only confidential apps with
`grant_types = ["client_credentials"]` may use it, and only for the API scopes their `scope`
lists; the access token is a JWT for that API (jwt_access_tokens.py). No refresh token, no ID
token. Its tokens live in their own table (the `tokens` table holds a person's tokens), stored as
hashes, and can be revoked and introspected like the others."""

import time

from authlib.oauth2.rfc6749 import InvalidScopeError, TokenMixin, UnauthorizedClientError, grants, scope_to_list
from flask import current_app

from . import apis, audit, settings
from .db import get_db, secret_hash
from .jwt_access_tokens import JwtAccessTokens


class ClientCredentialsGrant(JwtAccessTokens, grants.ClientCredentialsGrant):
    """Authlib's grant, with the scope rules of a grant without a person."""

    # RFC 6749 §4.4: confidential apps only, so no "none".
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_token_request(self):
        super().validate_token_request()  # the client, authenticated by its own method, may use this grant
        client = self.request.client
        if client.is_public:
            # RFC 6749 §4.4: "MUST only be used by confidential clients" (clients.toml refuses it too).
            raise UnauthorizedClientError("A public app cannot use client_credentials.")
        asked = self.request.payload.data.get("resource")
        scope = self.request.payload.scope
        if not scope_to_list(scope):  # absent, empty or only spaces: RFC 6749 §3.3's default
            scope = self._default_scope(client, asked)
        not_api = [s for s in scope_to_list(scope) if s not in client.api_scopes]
        if not_api:
            # No person is signing in: openid, offline_access and the profile scopes mean nothing here,
            # and a scope the app may not ask for is refused rather than silently dropped.
            raise InvalidScopeError(f"client_credentials gives only the API scopes this app may use; "
                                    f"not: {' '.join(not_api)}")
        self.request.scope = scope
        self.select_api(scope)

    @staticmethod
    def _default_scope(client, resource):
        """RFC 6749 §3.3: without `scope`, every scope of the app's one API (or of the API named by
        `resource`); an app with several APIs must say which."""
        if resource is not None:
            apis.check_resource(client, resource)
        chosen = {a.audience: a for a in client.api_scopes.values() if resource in (None, a.audience)}
        if len(chosen) != 1:
            raise InvalidScopeError("Send scope (or resource): this app may use several APIs.")
        api = next(iter(chosen.values()))
        return " ".join(s for s in client.api_scopes if client.api_scopes[s] is api)

    def create_token_response(self):
        # Authlib's, with the scope checked above (it would take the raw `scope` parameter).
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def save_token(self, token):
        save(token, self.request)


def save(token, request, now=None):
    """Store an issued client_credentials token (its hash only)."""
    now = int(now or time.time())
    client_id, audience = request.client.client_id, request.api.audience
    get_db().execute(
        "INSERT INTO client_tokens (client_id, scope, audience, access_hash, issued_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (client_id, token["scope"], audience, secret_hash(token["access_token"]), now, now + token["expires_in"]))
    audit.event("token_issued", client=client_id, grant_type="client_credentials", audience=audience,
                scope=token["scope"], refresh=False)


class ClientToken(TokenMixin):
    """A stored client_credentials access token: an app's own, with no person (username None)."""

    kind = "access_token"
    username = None
    grant_id = None

    def __init__(self, row):
        self.row = row
        self.id = row["id"]
        self.client_id = row["client_id"]
        self.audience = row["audience"]

    def check_client(self, client):
        return self.client_id == client.client_id

    def get_scope(self):
        return self.row["scope"]

    def get_expires_at(self):
        return self.row["expires_at"]

    def get_expires_in(self):
        return self.row["expires_at"] - self.row["issued_at"]

    def is_expired(self):
        return self.get_expires_at() <= time.time()

    def is_revoked(self):
        return self.row["revoked_at"] is not None

    def get_client(self):
        return current_app.extensions["latchkey_clients"].get(self.client_id)

    def revoke(self):
        """RFC 7009 §2.1: from now on introspection says inactive (an API that checks only the
        signature will accept the JWT until it expires)."""
        get_db().execute("UPDATE client_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (int(time.time()), self.id))
        audit.event("token_revoked", kind="access_token", client=self.client_id, grant_type="client_credentials")

    def introspection(self):
        """RFC 7662 §2.2 for a token without a person: `sub` is the app (RFC 9068 §2.2)."""
        if self.get_client() is None:
            return {"active": False}
        return {"active": True, "scope": self.get_scope(), "client_id": self.client_id, "sub": self.client_id,
                "aud": self.audience, "exp": self.get_expires_at(), "iat": self.row["issued_at"],
                "token_type": "Bearer", "iss": settings.current()["ISSUER"]}


def find(value):
    """The client_credentials access token `value`, or None."""
    row = get_db().execute("SELECT * FROM client_tokens WHERE access_hash = ?", (secret_hash(value),)).fetchone()
    return ClientToken(row) if row else None
