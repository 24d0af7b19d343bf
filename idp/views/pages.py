"""The pages people see: sign in and sign out (the account page is in account.py)."""

import re
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from .. import audit, devices, frontchannel_logout, mail, sessions, settings, throttle
from ..db import transaction
from ..forms import ConfirmForm, LoginForm
from ..signin import passkeys, steps
from ..users import authenticate

bp = Blueprint("pages", __name__)


def _safe_next(value):
    """A path on this server to return to after sign-in, or None (RFC 9700 §4.11: no open
    redirects). Printable ASCII only: browsers drop tabs and newlines, so '/\t/evil' is '//evil'."""
    if not value or not re.fullmatch(r"/(?![/\\])[\x21-\x7e]*", value):
        return None
    return value


def _asking_client(next_url):
    """The app whose authorization request is waiting behind the login page, if any."""
    if not next_url:
        return None
    query = parse_qs(urlsplit(next_url).query)
    client_id = (query.get("client_id") or [None])[0]
    return current_app.extensions["latchkey_clients"].get(client_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    form = LoginForm()
    error, status = None, 200
    address = request.remote_addr or "unknown"
    if form.validate_on_submit():
        username = form.username.data
        device = devices.known_device(username)
        keys = throttle.password_keys(username, address, device)
        wait = throttle.begin_attempt(keys)
        if wait:
            # The password is not even checked while the wait lasts.
            audit.event("sign_in_throttled", username=username, address=address, wait=wait, known_device=bool(device))
            error, status = f"Too many failed sign-ins. Try again in {throttle.describe_wait(wait)}.", 429
        elif (user := authenticate(username, form.password.data))[0] is not None:
            # The next step (a code, when the person set one up) or the session (303 either way:
            # the browser follows with a GET and never re-posts the password), in one commit with
            # the throttle's reset.
            with transaction():
                throttle.record_success(keys)
                return steps.first_step_done(user[0], "pwd", next_url, device)
        else:
            # The person sees one message whatever the reason; the audit log names it for the admin.
            audit.event("sign_in_failed", reason=user[1], username=username, address=address)
            error = "Wrong username or password."
    elif form.csrf_failed():
        # The page was open longer than the session behind it: ask again, keeping the request.
        flash("The sign-in page had expired. Please sign in again.")
        return redirect(url_for("latchkey.pages.login", next=next_url) if next_url else url_for("latchkey.pages.login"), 303)
    elif form.is_submitted():
        error = "Enter your username and password."
    login_hint = request.args.get("login_hint") or _hint_from(next_url)
    if login_hint and not form.username.data:
        form.username.data = login_hint
    return render_template("latchkey/login.html", form=form, error=error, next=next_url,
                           client=_asking_client(next_url), can_mail=mail.configured(settings.current()),
                           passkeys=passkeys.available()), status


def _hint_from(next_url):
    if not next_url:
        return None
    return (parse_qs(urlsplit(next_url).query).get("login_hint") or [None])[0]


#: The parameters of an app's logout request that the confirmation form carries on (RP-Initiated Logout §2).
LOGOUT_PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), and the sign-out link.
    With a valid id_token_hint and a registered post_logout_redirect_uri the browser goes back
    to the app at once; otherwise the person confirms and sees the signed-out page (§2, §3, §6).
    A request with the app's client_id and one of its registered URIs but no hint (Grafana before
    10.2, Kleis) goes back there after the person confirms (§3). Either way the apps of the ended
    session hear of it (signout.py), some through frames on the signed-out page first."""
    server = current_app.extensions["latchkey_server"]
    unverified = False
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error:
        # §4: an invalid request (bad hint, client_id not its audience) gets no redirect;
        # the person may still sign out.
        end_request, unverified = None, True
    asked_uri = request.values.get("post_logout_redirect_uri")
    back_to = end_request.redirect_uri if end_request else None  # registered for the app; with `state`
    signed_in = sessions.current()
    trusted = (
        end_request is not None
        and (back_to is not None or not asked_uri)
        and (
            # §6: a hint about someone else must not sign out the person at this browser unasked; nor
            # one from another session of theirs, or from none (its `sid` differs or is missing: a
            # device's ID token): an app used once, elsewhere, could otherwise sign them out at will.
            (not end_request.needs_confirmation
             and (signed_in is None or (end_request.id_token_claims.get("sub") == signed_in.user.username
                                        and end_request.id_token_claims.get("sid") == signed_in.oidc_sid)))
            # Without a hint, only when nobody is signed in here (nothing to confirm) and the app's
            # registered URI is the way on.
            or (signed_in is None and back_to is not None)
        )
    )
    form = ConfirmForm()
    if trusted or form.validate_on_submit():
        client = end_request.client if end_request else None
        if signed_in:
            audit.event("sign_out", user=signed_in.user.username, client=client.client_id if client else None)
        if end_request is not None:
            redirect_back = server.create_endpoint_response("end_session", end_request)  # ends the session
            ended = getattr(end_request, "ended", None)
        else:
            redirect_back, ended = None, sessions.end()
        return frontchannel_logout.signed_out_page(ended, redirect_back, back_to, client)
    problem = None
    if unverified or (asked_uri and back_to is None):
        problem = "The app's sign-out request could not be verified, so you will not be sent back to it."
    carried = {k: request.values[k] for k in LOGOUT_PARAMS if request.values.get(k)}
    return render_template("latchkey/logout.html", form=form, signed_in=signed_in, problem=problem,
                           client=end_request.client if end_request else None, back_to=back_to, carried=carried)


@bp.route("/")
def home():
    signed_in = sessions.current()
    if signed_in is None:
        return redirect(url_for("latchkey.pages.login"))
    return redirect(url_for("latchkey.account.account"))
