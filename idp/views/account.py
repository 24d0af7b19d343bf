"""The account page: profile, password change, the apps that hold tokens, where the person is signed
in (ending any one session), sign out everywhere."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from .. import (
    audit,
    devices,
    frontchannel_logout,
    password_rules,
    session_list,
    sessions,
    settings,
    throttle,
    tokens,
)
from ..db import secret_hash
from ..errors import form_expired
from ..forms import ConfirmForm, EndSessionForm, PasswordForm, RevokeForm
from ..signin import totp
from . import passkeys as passkey_views
from ..users import check_password, set_password

bp = Blueprint("account", __name__)


def _page(password_form=None, status=200):
    signed_in = sessions.current()
    registry = current_app.extensions["latchkey_clients"]
    apps = [
        {"client_id": row["client_id"], "grants": row["grants"],
         "name": getattr(registry.get(row["client_id"]), "client_name", row["client_id"])}
        for row in tokens.apps_holding_tokens(signed_in.user.username)
    ]
    return render_template("latchkey/account.html", user=signed_in.user, apps=apps,
                           has_authenticator=totp.enrolled(signed_in.user.username),
                           password_form=password_form or PasswordForm(), revoke_form=RevokeForm(),
                           browser_sessions=session_list.listed(signed_in), end_session_form=EndSessionForm(),
                           everywhere_form=ConfirmForm(), **passkey_views.account_context(signed_in)), status


@bp.route("/account")
@login_required
def account():
    return _page()


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    signed_in = sessions.current()
    form = PasswordForm()
    if not form.validate_on_submit():
        return form_expired() if form.csrf_failed() else _page(form, 400)
    # The current password is guessed here as at /login, so it is throttled the same way.
    username, address = signed_in.user.username, request.remote_addr or "unknown"
    keys = throttle.password_keys(username, address, devices.known_device(username))
    wait = throttle.begin_attempt(keys)
    if wait:
        audit.event("password_check_throttled", user=username, address=address, wait=wait)
        form.current.errors.append(f"Too many wrong passwords. Try again in {throttle.describe_wait(wait)}.")
        return _page(form, 429)
    if not check_password(signed_in.user, form.current.data):
        audit.event("password_check_failed", user=username, address=address)
        form.current.errors.append("That is not your current password.")
        return _page(form, 400)
    throttle.record_success(keys)
    if problem := password_rules.problem(form.new.data, username, signed_in.user.email, settings.current()["SITE_NAME"]):
        form.new.errors.append(problem)
        return _page(form, 400)
    set_password(signed_in.user.username, form.new.data, keep_session=secret_hash(signed_in.sid))
    audit.event("password_changed", user=signed_in.user.username)
    flash("Your password was changed. Your other sessions and every app's tokens have ended.")
    return redirect(url_for("latchkey.account.account"), 303)


@bp.route("/account/revoke", methods=["POST"])
@login_required
def revoke_app():
    form = RevokeForm()
    if form.csrf_failed():
        return form_expired()
    if form.validate_on_submit():
        tokens.revoke_app(sessions.current().user.username, form.client_id.data)
        flash("The app's access was revoked; it will ask you to sign in again.")
    return redirect(url_for("latchkey.account.account"), 303)


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_session():
    """End one of the person's own sessions, named by its handle; ending this one signs out here."""
    form = EndSessionForm()
    if form.csrf_failed():
        return form_expired()
    if form.validate_on_submit():
        signed_in = sessions.current()
        username, handle = signed_in.user.username, form.handle.data
        if handle == signed_in.handle:
            ended = sessions.end("ended_from_account_page")
            audit.event("session_ended", user=username, handle=handle, this_browser=True)
            return frontchannel_logout.signed_out_page(ended)
        if session_list.end(username, handle):
            audit.event("session_ended", user=username, handle=handle)
            flash("That session has ended: that browser will have to sign in again.")
        else:
            flash("That session had already ended.")
    return redirect(url_for("latchkey.account.account"), 303)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    form = ConfirmForm()
    if form.csrf_failed():
        return form_expired()
    if form.validate_on_submit():
        username = sessions.current().user.username
        this_browsers = sessions.end_all(username)  # the apps of every session hear of it (signout.py)
        audit.event("signed_out_everywhere", user=username)
        return frontchannel_logout.signed_out_page(this_browsers)
    return redirect(url_for("latchkey.account.account"), 303)
