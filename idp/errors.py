"""What a person or an app sees when something goes wrong, and the headers every response carries."""

import logging
import re
import sqlite3

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

#: The endpoints apps call (JSON answers); every other one is a page people see.
API_BLUEPRINTS = ("latchkey.token", "latchkey.userinfo", "latchkey.wellknown")
API_PATH_ENDS = ("/token", "/userinfo", "/revoke", "/introspect", ".json", "/openid-configuration")


def wants_json():
    if request.blueprint:
        return request.blueprint in API_BLUEPRINTS
    return request.path.endswith(API_PATH_ENDS)  # no route matched (404, 405): judge by the path


def error_page(title, message, status):
    """An HTML error page that says what happened and what to do."""
    return render_template("latchkey/error.html", title=title, message=message), status


def _api_error(error, description, status, headers=None):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


#: Protocol endpoints, whose parameters are checked for their character set before anything else.
PROTOCOL_ENDPOINTS = ("latchkey.authorize.authorize", "latchkey.token.token", "latchkey.token.revoke",
                      "latchkey.token.introspect", "latchkey.pages.logout")
#: RFC 6749 Appendix A (and RFC 7636 §4.1, RFC 7009 §2.1): these are printable ASCII (VSCHAR).
VSCHAR_PARAMS = {"client_id", "client_secret", "response_type", "scope", "state", "redirect_uri", "code",
                 "grant_type", "code_verifier", "code_challenge", "code_challenge_method", "refresh_token",
                 "token", "token_type_hint", "response_mode", "prompt", "max_age", "id_token_hint",
                 "post_logout_redirect_uri"}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NOT_VSCHAR = re.compile(r"[^\x20-\x7e]")


def _bad_characters():
    """A protocol request with control characters anywhere, or non-ASCII in a parameter the
    specs define as ASCII, gets a plain invalid_request before any other processing."""
    if request.endpoint not in PROTOCOL_ENDPOINTS:
        return None
    for key, value in request.values.items(multi=True):
        if CONTROL.search(key) or CONTROL.search(value) or (key in VSCHAR_PARAMS and NOT_VSCHAR.search(value)):
            message = "A parameter contains characters it may not contain."
            if wants_json():
                return _api_error("invalid_request", message, 400)
            return error_page("This request cannot be used", message, 400)
    return None


def form_expired():
    """The page a person sees when a form's CSRF token is missing, stale or forged."""
    return error_page(
        "This form has expired",
        "The page was open too long or your session ended. Go back, reload the page and try again.",
        400,
    )


SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


def security_headers(response):
    """Every page and answer of Latchkey: no framing, no sniffing, no referrer, nothing from elsewhere.
    (Registered on the blueprint and, standalone, on the app too: the second call finds them set.)"""
    if "X-Frame-Options" not in response.headers:
        response.headers.extend(SECURITY_HEADERS)
    if response.mimetype == "text/html":
        # A page may show account details and carries CSRF tokens: no copy stays in a shared
        # computer's cache or in a proxy (RFC 9111 §5.2.2.5).
        response.headers["Cache-Control"] = "no-store"
    return response


def http_error(e):
    if wants_json():
        return _api_error("invalid_request", e.description, e.code)
    return error_page(e.name, e.description, e.code)


def database_busy(e):
    # The database stayed locked past the busy timeout: nothing was changed; safe to retry.
    log.error("database error on %s %s: %s", request.method, request.path, e)
    if wants_json():
        return _api_error("temporarily_unavailable", "The server is busy; try again.", 503, {"Retry-After": "1"})
    body, status = error_page("Latchkey is busy", "Nothing was changed. Wait a moment and try again.", 503)
    return body, status, {"Retry-After": "1"}


def unexpected(e):
    log.exception("unexpected error on %s %s", request.method, request.path)
    if wants_json():
        return _api_error("server_error", "An unexpected error occurred.", 500)
    return error_page("Something went wrong", "The error was logged. Try again in a moment.", 500)


def init_blueprint(bp):
    """Latchkey's error pages and headers, for its own pages only (an embedding app keeps its own)."""
    bp.before_request(_bad_characters)
    bp.after_request(security_headers)
    bp.register_error_handler(HTTPException, http_error)
    bp.register_error_handler(sqlite3.OperationalError, database_busy)
    bp.register_error_handler(Exception, unexpected)


def init_standalone(app):
    """When Latchkey is the whole app, unknown URLs and methods get its pages and headers too."""
    app.after_request(security_headers)
    app.register_error_handler(HTTPException, http_error)
