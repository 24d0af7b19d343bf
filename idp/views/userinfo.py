"""The UserInfo endpoint (OIDC Core §5.3): the claims of the access token's scopes.

The token is checked by Authlib's ResourceProtector (bearer.py: where it may be sent, RFC 6750 §2;
which tokens are alive) with the `openid` scope required (§5.3.1), and errors are Authlib's, with
the Bearer challenge of RFC 6750 §3. Authlib's UserInfoEndpoint is not used: around those same two
steps it wraps the request once more (an OAuth2Request, parsing a body userinfo never reads) and
goes through the generic endpoint machinery, about a third of this call's CPU (README,
Performance); the one thing it adds, signed userinfo (`userinfo_signed_response_alg`), Latchkey
does not offer."""

import json

from authlib.oauth2.base import OAuth2Error
from flask import Blueprint, current_app

from .. import settings
from ..claims import user_info

bp = Blueprint("userinfo", __name__)

#: RFC 6749 §5.1's headers, as Authlib's endpoints send them: claims are never cached.
HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    try:
        token = current_app.extensions["latchkey_protector"].validate_request(["openid"], None)
    except OAuth2Error as error:
        return current_app.extensions["latchkey_server"].handle_error_response(None, error)
    claims = user_info(token.get_user(), token.get_scope(), settings.current()["DEFAULT_LOCALE"])
    return current_app.response_class(json.dumps(claims), 200, HEADERS)
