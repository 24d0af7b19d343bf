"""The token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants."""

from flask import Blueprint, current_app

bp = Blueprint("token", __name__)


@bp.route("/token", methods=["POST"])
def token():
    return current_app.extensions["latchkey_server"].create_token_response()
