"""CORS for browser apps (RFC 8252 / SPA clients): the API endpoints answer cross-origin requests
from origins that appear in some client's redirect_uris, and nothing else does. /authorize and the
HTML pages never carry CORS headers."""

from flask import current_app, request

from .redirect_uris import loopback_parts

CORS_ENDPOINTS = ("latchkey.token.token", "latchkey.token.revoke", "latchkey.token.introspect",
                  "latchkey.userinfo.userinfo", "latchkey.wellknown.openid_configuration",
                  "latchkey.wellknown.jwks")


def _origin_of(uri):
    """The origin a browser sends for pages under `uri` (scheme://host[:port]), or None."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("http", "https"):
        return None
    authority = rest.split("/")[0].split("?")[0].lower()
    default = ":443" if scheme == "https" else ":80"
    return f"{scheme}://{authority.removesuffix(default)}"


def allowed(origin):
    """True when `origin` is, string for string, the origin of a registered redirect URI; for a
    native app a loopback origin matches on any port, as its redirect URIs do (RFC 8252 §7.3)."""
    theirs = loopback_parts(origin)
    for client in current_app.extensions["latchkey_clients"].clients.values():
        native = client.application_type == "native"
        for uri in client.redirect_uris:
            registered = _origin_of(uri)
            if registered is None:
                continue
            if registered == origin:
                return True
            mine = loopback_parts(registered) if native else None
            if mine and theirs and mine[0] == theirs[0] and theirs[2] == "":
                return True
    return False


def init_blueprint(bp):
    @bp.before_request
    def preflight():
        if request.method == "OPTIONS" and request.endpoint in CORS_ENDPOINTS:
            return current_app.response_class(status=204)
        return None

    @bp.after_request
    def add_headers(response):
        origin = request.headers.get("Origin")
        if request.endpoint not in CORS_ENDPOINTS or not origin:
            return response
        response.vary.add("Origin")
        if allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            response.headers["Access-Control-Max-Age"] = "600"
        return response
