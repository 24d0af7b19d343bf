"""The UserInfo endpoint (OIDC Core §5.3): the claims of the access token's scopes."""

from flask import Blueprint, current_app

bp = Blueprint("userinfo", __name__)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return current_app.extensions["latchkey_server"].create_endpoint_response("userinfo")
