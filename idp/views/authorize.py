"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2): Authlib validates the request,
then the person is signed in if needed and the app gets its code."""

import time
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidClientError, InvalidRequestError
from authlib.oidc.core.errors import InteractionRequiredError, LoginRequiredError
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from .. import audit, sessions, settings
from ..db import transaction
from ..errors import error_page
from ..id_tokens import id_token_hint_claims
from ..signin import steps

bp = Blueprint("authorize", __name__)


def _server():
    return current_app.extensions["latchkey_server"]


class ExactRedirect(Response):
    """A redirect whose Location goes out as written: Werkzeug re-parses Location (iri_to_uri), and
    that drops the '//' of an empty-host URI such as app.immich:///cb. The URI is ASCII already:
    the request's redirect_uri matched a registered one and passed the character checks."""

    def get_wsgi_headers(self, environ):
        headers = super().get_wsgi_headers(environ)
        headers["Location"] = self.headers["Location"]
        return headers


def _answer(response, redirect_uri):
    """The authorization response, sent to `redirect_uri` exactly as registered (RFC 6749 §3.1.2:
    its own query is kept; Authlib's URL rebuilding would turn app.immich:///cb into
    app.immich:/cb), with `iss` added (RFC 9207 §2: every response, success or error)."""
    if response.status_code != 302:
        return response
    own = parse_qsl(urlsplit(redirect_uri).query, keep_blank_values=True)
    params = parse_qsl(urlsplit(response.location).query, keep_blank_values=True)[len(own):]
    params.append(("iss", settings.current()["ISSUER"]))
    location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)
    return ExactRedirect(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _error(error):
    """Redirect the error to the app when its redirect URI is known and registered; otherwise
    an HTML page, never a redirect (RFC 6749 §4.1.2.1)."""
    if error.redirect_uri:
        return _answer(_server().handle_error_response(None, error), error.redirect_uri)
    client_id = request.values.get("client_id")
    site = settings.current()["SITE_NAME"]
    if isinstance(error, InvalidClientError):
        return error_page(
            "Unknown app",
            f"The app that sent you here (\"{client_id or 'no name given'}\") is not on {site}'s list of "
            f"apps, so you cannot sign in to it. Tell the person who runs {site}: the app must be "
            "added to clients.toml.", 400)
    # A known app: its page (client_uri) is the way back; the redirect URI in the request is not.
    client = current_app.extensions["latchkey_clients"].get(client_id)
    if "redirect" in (error.description or "").lower():
        return error_page(
            "This app asked to send you somewhere unexpected",
            f"The app wants you sent back to an address it has not registered with {site}, so "
            f"{site} stops here to keep you from landing on a fake site. Tell the person who runs "
            "the app; its redirect URI in clients.toml must match exactly.", 400, client=client)
    if error.error == "unsupported_response_type":
        response_type = request.values.get("response_type")
        asked = f"response_type={response_type}" if response_type else "no response_type"
        problem = f"This app asked for something {site} does not do ({asked})."
    elif error.description:
        problem = f"The app's request has a mistake: {error.description}"
    else:
        problem = f"The app's request has a mistake ({error.error})."
    return error_page(
        "This sign-in request cannot be used",
        f"{problem} Go back to the app and start again; if it keeps happening, tell the person who runs the app.",
        400, client=client)


def _login_url(hint=None):
    """The login page, returning afterwards to this same authorization request as a GET."""
    params = list(request.values.items(multi=True))
    if hint and "login_hint" not in request.values:
        params.append(("login_hint", hint))
    return url_for("latchkey.pages.login", next=url_for("latchkey.authorize.authorize") + "?" + urlencode(params))


def _must_sign_in(signed_in, prompts):
    """OIDC Core §3.1.2.1: sign in when nobody is, on prompt=login, or when max_age has passed;
    a sign-in made for this very request satisfies both (sessions.signed_in_for_this_request)."""
    if signed_in is None:
        return True
    if sessions.signed_in_for_this_request(signed_in, request.values.items(multi=True)):
        return False
    if "login" in prompts:
        return True
    max_age = request.values.get("max_age")
    return max_age is not None and int(time.time()) - signed_in.auth_time > int(max_age)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    mode = request.values.get("response_mode")
    if mode not in (None, "query"):
        # The response cannot be delivered in a mode Latchkey does not speak: a page, not a redirect.
        return error_page("This sign-in request cannot be used",
                          f"response_mode={mode} is not supported; Latchkey answers in the query.", 400)
    signed_in = sessions.current()
    user = signed_in.user if signed_in else None
    try:
        grant = _server().get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _error(error)

    def deny(error_class, description):
        return _error(error_class(description, redirect_uri=grant.redirect_uri, state=request.values.get("state")))

    prompts = (request.values.get("prompt") or "").split()
    hint = request.values.get("id_token_hint")
    hinted = id_token_hint_claims(hint) if hint else None
    if hint and hinted is None:
        return deny(InvalidRequestError, "The id_token_hint was not issued by this provider.")
    # One commit for what an answer writes: the session's fresh sign-in mark used up, the code, the
    # app remembered in the session (README, Performance).
    with transaction():
        return _decide(grant, deny, signed_in, user, prompts, hinted)


def _decide(grant, deny, signed_in, user, prompts, hinted):
    """The answer to a valid authorization request: a code, a sign-in or step-up first, or an error."""
    if _must_sign_in(signed_in, prompts):
        if "none" in prompts:
            return deny(LoginRequiredError, "The person must sign in first.")
        return redirect(_login_url(hinted["sub"] if hinted else None))
    if hinted and hinted["sub"] != user.username:
        # OIDC Core §3.1.2.1: never hand out tokens of a different person than the hint names.
        return deny(LoginRequiredError, "Another person is signed in than the id_token_hint names.")
    if not steps.strong_enough(signed_in, grant.client, request.values.get("acr_values")):
        # The app wants a second factor this session has not shown (require_mfa, REQUIRE_MFA).
        if "none" in prompts:
            return deny(InteractionRequiredError, "This app needs a second sign-in step.")
        back = url_for("latchkey.authorize.authorize") + "?" + urlencode(list(request.values.items(multi=True)))
        return redirect(steps.step_up_url(signed_in, back))
    if not grant.client.may_sign_in(user.groups):
        audit.event("access_denied_by_groups", user=user.username, client=grant.client.client_id,
                    allowed_groups=grant.client.allowed_groups)
        denied = deny(AccessDeniedError, f"{user.username} is not in a group allowed to use {grant.client.client_name}.")
        if "none" in prompts:
            return denied
        # Tell the person why first; the link takes the access_denied answer back to the app.
        return render_template("latchkey/denied.html", client=grant.client, user=user, back=denied.location), 403
    return _answer(_server().create_authorization_response(grant_user=user, grant=grant), grant.redirect_uri)
