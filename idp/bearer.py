"""How an app presents an access token to Latchkey's resources (userinfo), RFC 6750: where the token
may be sent, and which tokens are alive."""

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from flask import request as flask_request

from . import tokens
from .users import active


class NoBearerToken(InvalidTokenError):
    """RFC 6750 §3.1: a request with no bearer token gets a challenge without an error code."""

    description = "Send the access token in the header 'Authorization: Bearer <token>'."

    def get_headers(self):
        headers = [h for h in super().get_headers() if h[0] != "WWW-Authenticate"]
        return headers + [("WWW-Authenticate", 'Bearer realm="Latchkey"')]


class BearerInvalidRequest(InvalidTokenError):
    """RFC 6750 §3.1 invalid_request (400), with the Bearer challenge §3 asks for."""

    error = "invalid_request"
    status_code = 400


class BearerProtector(ResourceProtector):
    """The access token from `Authorization: Bearer <token>` (RFC 6750 §2.1) or from the form body
    of a POST (§2.2: `access_token`, application/x-www-form-urlencoded); never from the URL
    (§2.3 is optional and §5.3 warns against it), and never sent two ways at once (§2)."""

    def parse_request_authorization(self, request):
        scheme, _, header_token = (flask_request.headers.get("Authorization") or "").partition(" ")
        in_header = scheme.lower() == "bearer"
        in_body = (flask_request.method == "POST" and flask_request.mimetype == "application/x-www-form-urlencoded"
                   and "access_token" in flask_request.form)
        if "access_token" in flask_request.args:
            raise BearerInvalidRequest("Send the access token in the Authorization header or the form body, "
                                       "never in the URL.", realm="Latchkey")
        if in_header and in_body:
            raise BearerInvalidRequest("Send the access token one way only: the header or the form body.",
                                       realm="Latchkey")
        if in_body:
            values = flask_request.form.getlist("access_token")
            if len(values) != 1:
                raise BearerInvalidRequest("Send access_token once.", realm="Latchkey")
            token = values[0]
        elif in_header:
            token = header_token
        else:
            raise NoBearerToken()
        if not token.strip():
            raise NoBearerToken()
        return self.get_token_validator("bearer"), token.strip()


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        token = tokens.find_access_token(token_string)
        # A token of an app no longer in clients.toml, or of a disabled user, is dead. A JWT access
        # token is for its API (its `aud`), not for Latchkey's userinfo (RFC 9068 §4, RFC 8707).
        if (token is None or token.audience is not None or token.get_client() is None
                or active(token.get_user()) is None):
            return None
        return token
