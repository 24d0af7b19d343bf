"""The token endpoint (RFC 6749 §3.2) with its grants, revocation (RFC 7009), introspection (RFC 7662) and
device authorization (RFC 8628 §3.1; the page a person confirms on is views/device.py)."""

from flask import Blueprint, current_app

bp = Blueprint("token", __name__)


@bp.route("/token", methods=["POST"])
def token():
    return current_app.extensions["latchkey_server"].create_token_response()


@bp.route("/revoke", methods=["POST"])
def revoke():
    return current_app.extensions["latchkey_server"].create_endpoint_response("revocation")


@bp.route("/introspect", methods=["POST"])
def introspect():
    return current_app.extensions["latchkey_server"].create_endpoint_response("introspection")


@bp.route("/device_authorization", methods=["POST"])
def device_authorization():
    return current_app.extensions["latchkey_server"].create_endpoint_response("device_authorization")
