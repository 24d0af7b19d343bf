"""JWT access tokens for APIs (RFC 9068), so an API can check a token offline against Latchkey's JWKS.

A token request that includes scopes of an `[[apis]]` entry (apis.py) gets its access token as a
JWT for that API, made by Authlib's rfc9068 generator: `typ: at+jwt`, signed RS256 with Latchkey's
signing key and its `kid`, `aud` the API. Every other token stays opaque, as before, and costs
nothing more: the grants below check `client.api_scopes` (empty for most apps) and go on.

The JWT's hash is stored like an opaque token's, so it can be revoked and introspected; an API
that only verifies the signature cannot see a revocation, which is why these tokens are short-lived.
Userinfo accepts only Latchkey's opaque tokens: a JWT access token's audience is its API, not
Latchkey (RFC 9068 §4: a resource server refuses tokens for another audience).

Of Authlib's rfc9068 module only the generator is used: its JWTRevocationEndpoint refuses to revoke a
JWT access token (unsupported_token_type), and its JWTIntrospectionEndpoint judges a JWT by its
signature and exp alone, so it could never report a revocation; Latchkey's own endpoints (oauth.py)
find a JWT by its hash like any other token. Its JWTBearerTokenValidator is for an API's side."""

import secrets

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import current_app
from joserfc.jwk import KeySet

from . import apis, settings
from .signin.steps import acr


class ApiAccessToken(JWTBearerTokenGenerator):
    """Authlib's RFC 9068 generator, made for one token request: the API (`aud`) and the sign-in
    behind it (auth_time and amr, RFC 9068 §2.2.1), None for a client_credentials token."""

    def __init__(self, api, client, sign_in=None):
        super().__init__(issuer=settings.current()["ISSUER"], alg="RS256",
                         refresh_token_generator=lambda **_: secrets.token_urlsafe(32),
                         expires_generator=api.access_token_ttl or client.access_token_ttl)
        self.api, self.sign_in = api, sign_in

    def get_jwks(self):
        # A key set of the one signing key: joserfc then writes its kid into the header (RFC 7515 §4.1.4).
        return KeySet([current_app.extensions["latchkey_key"]])

    def get_audiences(self, client, user, scope):
        return self.api.audience  # RFC 9068 §3: the resource the token is for

    def get_jti(self, client, grant_type, user, scope):
        return secrets.token_urlsafe(16)

    def get_auth_time(self, user):
        return self.sign_in[0] if self.sign_in else None

    def get_amr(self, user):
        return self.sign_in[1] if self.sign_in else None

    def get_acr(self, user):
        return acr(self.sign_in[1]) if self.sign_in else None

    def get_extra_claims(self, client, grant_type, user, scope):
        # RFC 9068 §2.2.3: every scope in the token has meaning for its audience (not openid, not
        # another API's).
        return {"scope": self.api.own_scope(scope)}


def _sign_in(request):
    """(auth_time, amr) of the sign-in behind a token request, from its code, device approval
    (device_authorization.py) or refresh token; None when there is none (client_credentials)."""
    if request.authorization_code is not None:
        return request.authorization_code.get_auth_time(), request.authorization_code.get_amr()
    if request.refresh_token is not None:
        return request.refresh_token.auth_time, request.refresh_token.amr
    return None


class JwtAccessTokens:
    """For Latchkey's token grants (put before Authlib's grant class): `select_api` chooses the API a
    token is for, before anything is claimed; `generate_token` then makes the access token a JWT for
    it, or leaves the grant's opaque token alone when there is none."""

    def select_api(self, scope, resource=None, default=None):
        """`scope`: what the token will hold; `resource`: the API the grant was authorized for (a
        code's or device approval's `resource`); `default`: the API of the grant's last token."""
        request = self.request
        asked = request.payload.data.get("resource")
        if asked is None and resource is None and not request.client.api_scopes:
            return  # an app without APIs: nothing to choose (its hot paths stay as they were)
        if len(request.payload.data.getlist("resource")) > 1:
            raise apis.InvalidTargetError("Name one resource per request: a token is for one API.")
        if asked is not None and resource is not None and asked != resource:
            # RFC 8707 §2.2: the grant was authorized for another resource than this token request names.
            raise apis.InvalidTargetError("resource differs from the one the authorization request named.")
        request.api = apis.choose(request.client, scope, asked or resource, default)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        api = getattr(self.request, "api", None)
        if api is None:
            return super().generate_token(user, scope, grant_type, expires_in, include_refresh_token)
        client = self.request.client
        generator = ApiAccessToken(api, client, _sign_in(self.request) if user is not None else None)
        return generator.generate(grant_type or self.GRANT_TYPE, client, user, apis.narrow(client, api, scope),
                                  include_refresh_token=include_refresh_token)
