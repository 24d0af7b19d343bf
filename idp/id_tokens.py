"""The ID token (OIDC Core §2, §3.1.3.6, §12.2): how Latchkey signs it and what it holds for the code
and refresh grants (Authlib's OpenIDCode and OpenIDToken extensions), and reading one back as an
id_token_hint."""

import time

from authlib.oidc.core import OpenIDCode, OpenIDToken
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from . import backchannel_logout, settings, tokens
from .claims import user_info
from .signin.steps import acr


def id_token_hint_claims(token):
    """The claims of an ID token this provider issued (expired ones too: a hint names a person,
    it grants nothing), or None for anything else."""
    try:
        decoded = jwt.decode(token, current_app.extensions["latchkey_key"], algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    if claims.get("iss") != settings.current()["ISSUER"] or not isinstance(claims.get("sub"), str):
        return None
    return claims if is_id_token(decoded.header, claims) else None


def is_id_token(header, claims):
    """Only an ID token may stand as an id_token_hint. Logout Tokens (Back-Channel Logout §2.4: typ
    logout+jwt, `events`) and RFC 9068 access tokens (§2.1: typ at+jwt, `client_id`) are signed with the
    same key, and an API or a back-channel receiver that holds one must not sign the person out, or
    name them at /authorize, with it."""
    typ = header.get("typ")
    return (not backchannel_logout.is_logout_token(header, claims) and "client_id" not in claims
            and not (isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt")))


class IdTokenMixin:
    """Signing and claims of the ID token, shared by the code and refresh grants."""

    def resolve_client_private_key(self, client):
        return current_app.extensions["latchkey_key"]

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": current_app.extensions["latchkey_key"].kid}

    def get_client_claims(self, client):
        now = int(time.time())  # one clock reading for both: exp - iat is exactly the lifetime
        return {
            "iss": settings.current()["ISSUER"],
            "aud": client.client_id,
            "iat": now,
            "exp": now + client.id_token_ttl,
        }

    def generate_user_info(self, user, scope):
        return user_info(user, scope, settings.current()["DEFAULT_LOCALE"])

    def encode_id_token(self, token, request):
        # id_token_claims = false: the ID token carries only `sub`; the rest is at userinfo.
        if not request.client.id_token_claims:
            token = {**token, "scope": "openid"}
        return super().encode_id_token(token, request)


class IdTokenForCode(IdTokenMixin, OpenIDCode):
    def exists_nonce(self, nonce, request):
        return tokens.nonce_used(request.client.client_id, nonce)

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if sid := authorization_code.row["sid"]:
            claims["sid"] = sid  # Front-Channel Logout §3, Back-Channel Logout §2.1: the session it came from
        return claims


class IdTokenForRefresh(IdTokenMixin, OpenIDToken):
    def get_compatible_claims(self, request):
        claims = super().get_compatible_claims(request)
        # OIDC Core §12.2: a refreshed ID token keeps the original auth_time, and no nonce.
        claims["auth_time"] = request.refresh_token.auth_time
        claims["amr"] = request.refresh_token.amr  # RFC 8176: still the original sign-in's methods
        claims["acr"] = acr(request.refresh_token.amr)
        if request.refresh_token.sid:
            claims["sid"] = request.refresh_token.sid  # still the session of the sign-in (Back-Channel Logout §2.1)
        return claims
