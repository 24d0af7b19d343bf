"""What a person or an app sees when something goes wrong, and the headers every response carries."""

import logging
import re
import sqlite3

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

#: Paths that apps call (JSON answers); every other path is a page people see.
API_PATHS = ("/token", "/userinfo", "/revoke", "/introspect", "/.well-known/")


def wants_json():
    return request.path.startswith(API_PATHS)


def error_page(title, message, status):
    """An HTML error page that says what happened and what to do."""
    return render_template("error.html", title=title, message=message), status


def _api_error(error, description, status, headers=None):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


#: Protocol endpoints, whose parameters are checked for their character set before anything else.
PROTOCOL_PATHS = ("/authorize", "/token", "/revoke", "/introspect", "/logout")
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
    if not request.path.startswith(PROTOCOL_PATHS):
        return None
    for key, value in request.values.items(multi=True):
        if CONTROL.search(key) or CONTROL.search(value) or (key in VSCHAR_PARAMS and NOT_VSCHAR.search(value)):
            message = "A parameter contains characters it may not contain."
            if wants_json():
                return _api_error("invalid_request", message, 400)
            return error_page("This request cannot be used", message, 400)
    return None


def init_app(app):
    app.before_request(_bad_characters)
    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        )
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(e):
        if request.endpoint == "pages.login":
            # The login page was open longer than the session: just ask again, keeping the request.
            flash("The sign-in page had expired. Please sign in again.")
            next_url = request.form.get("next")
            return redirect(url_for("pages.login", next=next_url) if next_url else url_for("pages.login"), 303)
        return error_page(
            "This form has expired",
            "The page was open too long or your session ended. Go back, reload the page and try again.",
            400,
        )

    @app.errorhandler(HTTPException)
    def http_error(e):
        if wants_json():
            return _api_error("invalid_request", e.description, e.code)
        return error_page(e.name, e.description, e.code)

    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(e):
        # The database stayed locked past the busy timeout: nothing was changed; safe to retry.
        log.error("database error on %s %s: %s", request.method, request.path, e)
        if wants_json():
            return _api_error("temporarily_unavailable", "The server is busy; try again.", 503, {"Retry-After": "1"})
        body, status = error_page("Latchkey is busy", "Nothing was changed. Wait a moment and try again.", 503)
        return body, status, {"Retry-After": "1"}

    @app.errorhandler(Exception)
    def unexpected(e):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if wants_json():
            return _api_error("server_error", "An unexpected error occurred.", 500)
        return error_page("Something went wrong", "The error was logged. Try again in a moment.", 500)
