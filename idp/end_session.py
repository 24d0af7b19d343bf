"""The end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0) as Authlib's EndSessionEndpoint
with Latchkey's keys, its one redirect-URI rule, and logout without an id_token_hint (§3)."""

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from . import sessions
from .id_tokens import is_id_token


class EndSession(EndSessionEndpoint):
    """OpenID Connect RP-Initiated Logout 1.0: Authlib checks the hint's signature (expired hints
    are accepted, §2), the client_id against its audience and the redirect URI, string for string."""

    def get_server_jwks(self):
        from .keys import public_jwks

        return public_jwks(current_app.extensions["latchkey_key"])

    def get_algorithms(self):
        return ["RS256"]  # never "none", never a symmetric algorithm

    def _validate_id_token_hint(self, id_token_hint):
        # Authlib catches only JoseError, but joserfc raises TypeError on a header such as
        # {"crit": 1}: a hint that cannot be read is an invalid request (§4), never a 500.
        try:
            claims = super()._validate_id_token_hint(id_token_hint)
            header = jwt.decode(id_token_hint, current_app.extensions["latchkey_key"], algorithms=["RS256"]).header
        except (TypeError, ValueError, JoseError) as e:
            raise InvalidRequestError("The id_token_hint cannot be read.") from e
        if not is_id_token(header, claims):
            raise InvalidRequestError("The id_token_hint is not an ID token.")
        return claims

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint):
        # §3: without an id_token_hint, other means may confirm the URI: here the request names the app
        # (client_id) and the URI is registered for it. The person confirms first (no hint: the view asks).
        return request.payload.data.get("client_id") == client.client_id

    def _is_valid_post_logout_redirect_uri(self, client, post_logout_redirect_uri):
        # Authlib's own check is a plain `in`; ours is the one rule of redirect_uris.py (a native
        # app's loopback port may differ, as for its redirect URIs).
        return client.check_post_logout_redirect_uri(post_logout_redirect_uri)

    def end_session(self, end_session_request):
        # What ended, for the signed-out page's front-channel frames (frontchannel_logout.py).
        end_session_request.ended = sessions.end()
