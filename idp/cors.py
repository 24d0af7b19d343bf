"""CORS for browser apps (RFC 8252 / SPA clients): the API endpoints answer cross-origin requests
from origins that appear in some client's redirect_uris, and nothing else does. /authorize and the
HTML pages never carry CORS headers."""

from urllib.parse import urlsplit

from flask import current_app, request

from .settings import LOOPBACK_HOSTS

CORS_ENDPOINTS = ("latchkey.token.token", "latchkey.token.revoke", "latchkey.token.introspect",
                  "latchkey.userinfo.userinfo", "latchkey.wellknown.openid_configuration",
                  "latchkey.wellknown.jwks")


def _origin_of(uri):
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed(origin):
    """True when `origin` is the origin of a registered redirect URI; a loopback http origin
    matches on any port, as its redirect URIs do (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(origin)
        port_free = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    except ValueError:
        return False
    origin = origin.lower()
    for client in current_app.extensions["latchkey_clients"].clients.values():
        for uri in client.redirect_uris:
            registered = _origin_of(uri)
            if registered == origin:
                return True
            if port_free and registered and urlsplit(registered).hostname == parts.hostname \
                    and registered.startswith("http://"):
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
