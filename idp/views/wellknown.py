"""Discovery (OpenID Connect Discovery 1.0 §3) and the JWKS: exactly what Latchkey supports."""

import json

from flask import Blueprint, current_app

from .. import settings
from ..claims import CLAIMS_SUPPORTED
from ..clients import AUTH_METHODS, GRANT_TYPES, MACHINE_GRANT_TYPES, SUPPORTED_SCOPES
from ..private_key_jwt import ALGORITHMS as ASSERTION_ALGORITHMS
from ..keys import public_jwks
from ..signin.steps import ACR_VALUES

bp = Blueprint("wellknown", __name__)


def metadata(issuer):
    """The provider metadata for `issuer`; every endpoint is derived from it."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "end_session_endpoint": f"{issuer}/logout",
        "revocation_endpoint": f"{issuer}/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": f"{issuer}/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        # RFC 8628 §4: where a device asks for its codes (the page for people is /activate).
        "device_authorization_endpoint": f"{issuer}/device_authorization",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES + MACHINE_GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        # RFC 8414 §2: the algorithms of private_key_jwt assertions, at each endpoint that takes them.
        **{f"{e}_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS)
           for e in ("token", "revocation", "introspection")},
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED + ["iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "acr",
                                             "sid"],
        "acr_values_supported": list(ACR_VALUES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        # Back-Channel Logout 1.0 §2.1, Front-Channel Logout 1.0 §3: every ID token and notice carries sid.
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }


def _cached(name, build):
    """Discovery and the JWKS never change while Latchkey runs: serialise each once per app."""
    bodies = current_app.extensions.setdefault("latchkey_wellknown", {})
    if name not in bodies:
        bodies[name] = json.dumps(build()).encode()
    return current_app.response_class(bodies[name], mimetype="application/json")


@bp.route("/.well-known/openid-configuration")
def openid_configuration():
    return _cached("discovery", lambda: metadata(settings.current()["ISSUER"]))


@bp.route("/.well-known/jwks.json")
def jwks():
    return _cached("jwks", lambda: public_jwks(current_app.extensions["latchkey_key"]))
