"""The Authlib authorization server and its grants and token endpoints (ID tokens: id_tokens.py; logout:
end_session.py; userinfo: views/userinfo.py). Protocol rules
live in Authlib; the subclasses here supply storage, users, clients and keys, and tighten the
defaults where the specs ask for more."""

import secrets

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import current_app

from . import apis, audit, bearer, client_auth, client_credentials, settings, tokens
from .db import transaction
from .device_authorization import DeviceAuthorization, DeviceCodeGrant, IdTokenForDevice
from .end_session import EndSession
from .id_tokens import IdTokenForCode, IdTokenForRefresh
from .jwt_access_tokens import JwtAccessTokens
from .private_key_jwt import PrivateKeyJwt
from .users import active, get_user

#: private_key_jwt last: an app authenticating otherwise never pays for it.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]


def describe(text):
    """An error_description may hold only printable ASCII but '"' and '\\' (RFC 6749 §4.1.2.1,
    §5.2); this replaces anything else, such as a non-ASCII username, with '?'."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)


def _descriptions_made_safe(init):
    """Every OAuth error, Authlib's own included, is built here. Authlib echoes request values in
    some descriptions ("Redirect URI … is not supported", "The response type '…'") and then refuses
    to build the error when they hold '"' or '\\' (a ValueError, which was a 500). So the one
    place errors are made replaces those characters instead (RFC 6749 §4.1.2.1 names the set)."""

    def safe_init(self, description=None, *args, **kwargs):
        init(self, describe(description) if isinstance(description, str) else description, *args, **kwargs)

    return safe_init


OAuth2Error.__init__ = _descriptions_made_safe(OAuth2Error.__init__)


class Server(AuthorizationServer):
    def authenticate_client(self, request, methods, endpoint="token"):
        # RFC 6749 §2.3.1: credentials must not be sent in the request URI.
        if "client_secret" in request.args:
            raise InvalidRequestError("Send client_secret in the request body or in Basic, never in the URL.")
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
        basic = scheme.lower() == "basic"
        if basic and "client_secret" in request.form:
            raise InvalidRequestError("Send the client credentials one way only: Basic or the body.")
        assertion = "client_assertion" in request.form or "client_assertion_type" in request.form
        if assertion and (basic or "client_secret" in request.form):
            raise InvalidRequestError("Send the client credentials one way only: a client assertion or a secret.")
        parsed = client_auth.basic_credentials(credentials) if basic else None
        if basic and parsed is None:
            raise InvalidClientError(status_code=401, description="Malformed Basic credentials.")
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            # For the admin: which app, which method it tried, which one it is registered for.
            tried = ("client_secret_basic" if basic else "client_secret_post" if "client_secret" in request.form
                     else "private_key_jwt" if assertion else "none")
            client_id = parsed[0] if parsed else request.form.get("client_id")
            client = query_client(client_id)
            audit.event("client_auth_failed", client=client_id, tried=tried, endpoint=endpoint,
                        registered=client.token_endpoint_auth_method if client else "unknown client")
            raise

    def handle_response(self, status_code, payload, headers):
        response = super().handle_response(status_code, payload, headers)
        if response.mimetype == "application/json":
            # RFC 6749 §5.1, §5.2: token responses and their errors must not be cached.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response


def query_client(client_id):
    return current_app.extensions["latchkey_clients"].get(client_id)


def generate_bearer_token(grant_type, client, user=None, scope=None, expires_in=None,
                          include_refresh_token=True):
    """Opaque random tokens (256 bits), with the client's access token lifetime."""
    token = {
        "token_type": "Bearer",
        "access_token": secrets.token_urlsafe(32),
        "expires_in": client.access_token_ttl,
        "scope": scope,
    }
    if include_refresh_token:
        token["refresh_token"] = secrets.token_urlsafe(32)
    return token


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only (RFC 9700 §2.1.1): required for public clients, and for confidential
    ones unless the client sets require_pkce = false; `plain` is refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.require_pkce and not challenge:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        # RFC 7636 §4.3: a missing method means `plain`, which Latchkey does not accept.
        if challenge and method is None:
            raise InvalidRequestError("code_challenge_method=S256 is required ('plain' is not supported).")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationRequestRules:
    """Checks of the authorization request that Authlib leaves to the provider. They run once
    the client and redirect URI are known, so their errors go back to the app."""

    def __call__(self, grant):
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    def check(self, grant, redirect_uri):
        payload = grant.request.payload
        # RFC 6749 §3.1: request parameters MUST NOT be included more than once.
        for key, values in payload.datalist.items():
            if len(values) > 1:
                raise InvalidRequestError(f"The parameter '{key}' was sent more than once.")
        # OIDC Core §6: request objects are not supported (discovery says so too).
        if "request" in payload.data:
            raise RequestNotSupportedError("Request objects are not supported.")
        if "request_uri" in payload.data:
            raise RequestURINotSupportedError("request_uri is not supported.")
        max_age = payload.data.get("max_age")
        if max_age is not None and not (max_age.isdigit() and len(max_age) < 10):
            raise InvalidRequestError("max_age must be a number of seconds.")
        if "resource" in payload.data:  # RFC 8707 §2: an API this app may use (apis.py), or invalid_target
            apis.check_resource(grant.request.client, payload.data["resource"])


class AuthorizationCodeGrant(JwtAccessTokens, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def generate_authorization_code(self):
        return secrets.token_urlsafe(32)  # 256 bits, like the tokens

    def save_authorization_code(self, code, request):
        tokens.save_code(code, request, auth_time=request.user.auth_time, amr=request.user.amr,
                         sid=getattr(request.user, "oidc_sid", None))

    def query_authorization_code(self, code, client):
        return tokens.find_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: the code was claimed (marked used) before tokens were made."""

    def authenticate_user(self, authorization_code):
        return query_user(authorization_code.row["username"])

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        include = include_refresh_token and tokens.offline_granted(scope)
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def create_token_response(self):
        code = self.request.authorization_code
        self.select_api(code.get_scope(), code.row["resource"])  # RFC 8707, RFC 9068 (jwt_access_tokens.py)
        # One transaction for the claim and the tokens (see RefreshTokenGrant.create_token_response).
        with transaction():
            if tokens.claim_code(code):
                return super().create_token_response()
        # RFC 6749 §4.1.2: a code used twice is refused and its tokens are revoked.
        tokens.revoke_grant(code.row["grant_id"], "authorization code reused")
        raise InvalidGrantError("The authorization code was already used.")


class RefreshTokenGrant(JwtAccessTokens, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        token = tokens.find_refresh_token(refresh_token)
        if token is None or token.is_expired():
            return None
        if token.row["revoked_at"] is not None:
            # RFC 9700 §4.14.2: a dead refresh token of this grant in use means someone else holds
            # one too (say, the thief who retried first within the grace): end the whole grant.
            tokens.revoke_grant(token.grant_id, "revoked refresh token presented")
            return None
        if tokens.ended_with_session(token, self.request.client):
            return None  # refresh_token_lifetime = "session", and that session is over
        return token

    def authenticate_user(self, refresh_token):
        return query_user(refresh_token.username)

    def issue_token(self, user, refresh_token):
        # RFC 6749 §6: the scope may only narrow; the new refresh token keeps the granted scope.
        scope = self.request.payload.scope or refresh_token.get_scope()
        include = tokens.offline_granted(refresh_token.grant_scope)
        return self.generate_token(user=user, scope=scope, include_refresh_token=include)

    def create_token_response(self):
        token = self.request.refresh_token
        # The API of the new access token: as asked (RFC 8707 §2.2), else the one of the last token.
        self.select_api(self.request.payload.scope or token.get_scope(), default=token.audience)
        # One transaction for the claim and the new tokens: a request that loses the race sees
        # both or neither, so its revocation below catches the winner's tokens too.
        with transaction():
            if token.row["rotated_at"] is None:
                claimed = tokens.claim_rotation(token)
            else:
                # A retry right after a rotation whose answer was lost (README: refresh grace).
                claimed = tokens.supersede_unused_child(token, settings.current()["REFRESH_REUSE_GRACE"])
            if claimed:
                return super().create_token_response()
        # RFC 9700 §4.14.2: a rotated refresh token presented again revokes the whole grant.
        tokens.revoke_grant(token.grant_id, "rotated refresh token reused")
        raise InvalidGrantError("The refresh token was already used.")

    def revoke_old_credential(self, refresh_token):
        """Nothing to do: the rotation was claimed before the new tokens were made."""


class Revocation(RevocationEndpoint):
    """RFC 7009. Public clients revoke with their client_id alone."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return tokens.find_token(token_string, token_type_hint) or client_credentials.find(token_string)

    def revoke_token(self, token, request):
        if isinstance(token, client_credentials.ClientToken):
            token.revoke()
        elif token.kind == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token also kills the access tokens of its grant.
            tokens.revoke_grant(token.grant_id, "refresh token revoked by the client")
        else:
            tokens.revoke_access(token)


class Introspection(IntrospectionEndpoint):
    """RFC 7662. Only an authenticated (confidential) client may ask, about its own tokens."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(self, token_string, token_type_hint):
        return tokens.find_token(token_string, token_type_hint) or client_credentials.find(token_string)

    def check_permission(self, token, client, request):
        # RFC 7662 §4: a client learns nothing about another client's tokens.
        return token.client_id == client.client_id

    def introspect_token(self, token):
        if isinstance(token, client_credentials.ClientToken):
            return token.introspection()  # no person behind it
        if query_user(token.username) is None:
            return {"active": False}
        if token.kind == "refresh_token" and tokens.ended_with_session(token, token.get_client()):
            return {"active": False}
        return {
            "active": True,
            "scope": token.get_scope(),
            "client_id": token.client_id,
            "username": token.username,
            "sub": token.username,
            "exp": token.get_expires_at(),
            "iat": token.row["issued_at"],
            "auth_time": token.auth_time,
            "amr": token.amr,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "iss": settings.current()["ISSUER"],
            # A JWT access token's API (RFC 9068 §2.2); an opaque token is for Latchkey itself.
            **({"aud": token.audience} if token.audience and token.kind == "access_token" else {}),
        }


def query_user(username):
    """The user, or None when removed or disabled."""
    return active(get_user(username))


def create_server(app):
    """Build the authorization server with its grants and endpoints."""
    server = Server()
    server.init_app(app, query_client=query_client, save_token=tokens.save_token)
    server.register_token_generator("default", generate_bearer_token)
    server.register_client_auth_method("client_secret_basic", client_auth.authenticate_client_secret_basic)
    server.register_grant(
        AuthorizationCodeGrant,
        [AuthorizationRequestRules(), S256CodeChallenge(required=True), IdTokenForCode()],
    )
    server.register_grant(RefreshTokenGrant, [IdTokenForRefresh()])
    # Machines and devices: client_credentials.py, device_authorization.py, private_key_jwt.py.
    server.register_client_auth_method("private_key_jwt", PrivateKeyJwt())
    server.register_grant(client_credentials.ClientCredentialsGrant)
    server.register_grant(DeviceCodeGrant, [IdTokenForDevice()])
    server.register_endpoint(DeviceAuthorization)
    # The userinfo view asks the protector itself (views/userinfo.py says why not UserInfoEndpoint).
    protector = bearer.BearerProtector()
    protector.register_token_validator(bearer.AccessTokenValidator(realm="Latchkey"))
    app.extensions["latchkey_protector"] = protector
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(EndSession)
    return server
