"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2): sign the person in if
needed, then send the app its code."""

import time
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint, current_app, redirect, request, url_for

from .. import sessions
from ..errors import error_page

bp = Blueprint("authorize", __name__)


def _server():
    return current_app.extensions["latchkey_server"]


def _with_iss(response):
    """RFC 9207 §2: every authorization response, success or error, names the issuer."""
    if response.status_code == 302:
        response.location = add_params_to_uri(response.location, {"iss": current_app.config["ISSUER"]})
    return response


def _error(error):
    """Redirect the error to the app when its redirect URI is known and registered; otherwise
    an HTML page, never a redirect (RFC 6749 §4.1.2.1)."""
    if error.redirect_uri:
        return _with_iss(_server().handle_error_response(None, error))
    return error_page(
        "This sign-in request cannot be used",
        f"{error.description or error.error} Go back to the app and start again; "
        "if it keeps happening, tell the person who runs the app.",
        400,
    )


def _login_url(drop_prompt_login):
    """The login page, returning afterwards to this same authorization request as a GET."""
    params = []
    for key, value in request.values.items(multi=True):
        if key == "prompt" and drop_prompt_login:
            # prompt=login is satisfied by the login that follows; don't ask twice.
            value = " ".join(p for p in value.split() if p != "login")
            if not value:
                continue
        params.append((key, value))
    return url_for("pages.login", next=url_for("authorize.authorize") + "?" + urlencode(params))


def _must_sign_in(signed_in, prompts):
    """OIDC Core §3.1.2.1: sign in when nobody is, on prompt=login, or when max_age has passed."""
    if signed_in is None or "login" in prompts:
        return True
    max_age = request.values.get("max_age")
    if max_age is not None and max_age.isdigit():
        return time.time() - signed_in.auth_time > int(max_age)
    return False


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    signed_in = sessions.current()
    user = signed_in.user if signed_in else None
    try:
        grant = _server().get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _error(error)
    prompts = (request.values.get("prompt") or "").split()
    if _must_sign_in(signed_in, prompts):
        if "none" in prompts:
            return _error(LoginRequiredError(redirect_uri=grant.redirect_uri, state=request.values.get("state")))
        return redirect(_login_url(drop_prompt_login=True))
    if not grant.client.may_sign_in(user.groups):
        return _error(
            AccessDeniedError(
                f"{user.username} is not in a group allowed to use {grant.client.client_name}.",
                redirect_uri=grant.redirect_uri,
                state=request.values.get("state"),
            )
        )
    return _with_iss(_server().create_authorization_response(grant_user=user, grant=grant))
