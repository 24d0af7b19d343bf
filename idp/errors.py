"""What a person or an app sees when something goes wrong, and the headers every response carries."""

import logging
import re
import sqlite3

from flask import g, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from . import settings

log = logging.getLogger(__name__)

#: The endpoints apps call (JSON answers); every other one is a page people see.
API_BLUEPRINTS = ("latchkey.token", "latchkey.userinfo", "latchkey.wellknown")
API_PATH_ENDS = ("/token", "/userinfo", "/revoke", "/introspect", ".json", "/openid-configuration",
                 "/device_authorization")


def wants_json():
    if request.blueprint:
        return request.blueprint in API_BLUEPRINTS
    return request.path.endswith(API_PATH_ENDS)  # no route matched (404, 405): judge by the path


def _site_name():
    try:
        return settings.current()["SITE_NAME"]
    except Exception:  # an error page must not fail in turn
        return "Latchkey"


def _signed_in():
    """Whether someone is signed in at this browser, to choose the error page's way on;
    None when that cannot be told (the database may be what went wrong)."""
    try:
        return current_user.is_authenticated
    except Exception:
        return None


def error_page(title, message, status, client=None, ask_session=True):
    """An HTML error page that says what happened and offers a way on: back to the app (its
    client_uri) when the error concerns a known app, else to the account or sign-in page.
    `ask_session=False` when the database is the problem: the page then links to the start."""
    return render_template("latchkey/error.html", title=title, message=message, client=client,
                           signed_in=_signed_in() if ask_session else None), status


def _api_error(error, description, status, headers=None):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


#: Protocol endpoints, whose parameters are checked for their character set before anything else.
PROTOCOL_ENDPOINTS = ("latchkey.authorize.authorize", "latchkey.token.token", "latchkey.token.revoke",
                      "latchkey.token.introspect", "latchkey.pages.logout", "latchkey.token.device_authorization")
#: RFC 6749 Appendix A (and RFC 7636 §4.1, RFC 7009 §2.1): these are printable ASCII (VSCHAR).
VSCHAR_PARAMS = {"client_id", "client_secret", "response_type", "scope", "state", "redirect_uri", "code",
                 "grant_type", "code_verifier", "code_challenge", "code_challenge_method", "refresh_token",
                 "token", "token_type_hint", "response_mode", "prompt", "max_age", "id_token_hint",
                 "post_logout_redirect_uri",
                 # RFC 8628 §3.4, RFC 7523 §2.2, RFC 8707 §2 (a URI)
                 "device_code", "client_assertion", "client_assertion_type", "resource"}
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


CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


def security_headers(response):
    """Every page and answer of Latchkey: no framing, no sniffing, no referrer, nothing from elsewhere.
    (Registered on the blueprint and, standalone, on the app too: the second call finds them set.)"""
    if "X-Frame-Options" not in response.headers:
        csp = CSP
        if origins := g.get("latchkey_img_origins"):
            # The page shows an app's logo_uri (branding.app_logo): that origin, for this response only.
            csp += f"; img-src 'self' {' '.join(sorted(origins))}"
        if origins := g.get("latchkey_frame_origins"):
            # The signed-out page's front-channel logout frames (frontchannel_logout.py): exactly their origins.
            csp += f"; frame-src {' '.join(sorted(origins))}"
        # One extend, not a set per header: these run on every answer (README, Performance).
        response.headers.extend(SECURITY_HEADERS if csp is CSP else [("Content-Security-Policy", csp),
                                                                     *SECURITY_HEADERS[1:]])
    if response.mimetype == "text/html":
        # A page may show account details and carries CSRF tokens: no copy stays in a shared
        # computer's cache or in a proxy (RFC 9111 §5.2.2.5).
        response.headers["Cache-Control"] = "no-store"
    return response


#: What a person reads instead of Werkzeug's texts, per status: a title and what to do.
HTTP_PAGES = {
    400: ("This request cannot be used",
          "Something in what the browser sent was missing or malformed. Go back, reload the page and try again."),
    403: ("You cannot open this page", "This page is not open to you."),
    404: ("Page not found",
          "There is no page at this address. If you typed it, check the spelling; otherwise start again below."),
    405: ("This page cannot be used that way",
          "The page is there, but not for what the browser asked of it. Start again below."),
    413: ("That was too much", "What the browser sent is larger than {site} accepts."),
    429: ("Too many tries", "Wait a moment, then try again."),
    500: ("Something went wrong", "The error was logged. Try again in a moment."),
    503: ("{site} is busy", "Nothing was changed. Wait a moment and try again."),
}


def http_error(e):
    if wants_json():
        return _api_error("invalid_request", e.description, e.code)
    title, message = HTTP_PAGES.get(e.code, ("This request cannot be answered", "Start again below."))
    site = _site_name()
    return error_page(title.format(site=site), message.format(site=site), e.code)


def database_busy(e):
    # The database stayed locked past the busy timeout: nothing was changed; safe to retry.
    log.error("database error on %s %s: %s", request.method, request.path, e)
    if wants_json():
        return _api_error("temporarily_unavailable", "The server is busy; try again.", 503, {"Retry-After": "1"})
    body, status = error_page(f"{_site_name()} is busy", "Nothing was changed. Wait a moment and try again.", 503,
                              ask_session=False)
    return body, status, {"Retry-After": "1"}


def unexpected(e):
    log.exception("unexpected error on %s %s", request.method, request.path)
    if wants_json():
        return _api_error("server_error", "An unexpected error occurred.", 500)
    return error_page("Something went wrong", "The error was logged. Try again in a moment.", 500, ask_session=False)


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
