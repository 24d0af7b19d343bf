"""Setting up an authenticator app from the account page (/account/authenticator): a QR code and
the seed as text, confirmed with one code; then ten recovery codes, shown once. Turning it off
needs the password and a code."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_required

from .. import audit, devices, mail, sessions, settings, throttle
from ..db import secret_hash, transaction
from ..errors import form_expired
from ..forms import AuthenticatorForm, TurnOffForm
from ..signin import recovery_codes, steps, totp
from ..users import check_password, end_sessions
from .pages import _safe_next

bp = Blueprint("authenticator", __name__)

#: The seed being set up lives in the (signed) session until its first code confirms it.
NEW_SEED = "latchkey_new_totp_seed"


@bp.route("/account/authenticator", methods=["GET", "POST"])
@login_required
def authenticator():
    signed_in = sessions.current()
    username = signed_in.user.username
    next_url = _safe_next(request.values.get("next"))
    if totp.enrolled(username):
        return render_template("latchkey/authenticator.html", enrolled=True, off_form=TurnOffForm(),
                               codes_left=recovery_codes.left(username), next=next_url)
    seed = totp.open_from_session(username, session.get(NEW_SEED, "")) or totp.new_seed()
    session[NEW_SEED] = totp.seal_for_session(username, seed)
    form = AuthenticatorForm()
    error, status = None, 200
    if form.validate_on_submit():
        # The password again (a browser left signed in is not enough to add a factor), throttled as
        # at /login; then the app's first code proves it holds the seed.
        keys = throttle.password_keys(username, request.remote_addr or "unknown", devices.known_device(username))
        if wait := throttle.begin_attempt(keys):
            error, status = f"Too many wrong tries. Try again in {throttle.describe_wait(wait)}.", 429
        elif not check_password(signed_in.user, form.password.data):
            error, status = "That is not your password.", 400
        elif (step := totp.check_new(seed, form.code.data)) is None:
            with transaction():
                throttle.record_success(keys)
            error, status = "That code does not match. Type the code the app shows now.", 400
        else:
            with transaction() as db:
                throttle.record_success(keys)
                totp.save(db, username, seed, step)
                codes = recovery_codes.replace_all(db, username)
                # Whoever set it up is the only one signed in now (a thief's sessions, or the owner's).
                end_sessions(db, username, keep_session=secret_hash(signed_in.sid))
            session.pop(NEW_SEED, None)
            audit.event("mfa_enabled", user=username, method="totp", other_sessions_ended=True)
            notify(signed_in.user, "An authenticator app was set up for your account")
            steps.step_up(signed_in, ["otp"])  # the code just typed proves the phone is at hand
            return render_template("latchkey/authenticator.html", enrolled=True, codes=codes, next=next_url)
    elif form.csrf_failed():
        return form_expired()
    uri, qr_svg = totp.provisioning(seed, username)
    return render_template("latchkey/authenticator.html", enrolled=False, form=form, error=error, qr_svg=qr_svg,
                           seed=totp.encoded(seed), uri=uri, next=next_url), status


def notify(user, what):
    """Tell the person by mail, when there is a mail server, that their sign-in changed."""
    config = settings.current()
    if mail.configured(config):
        body = (f"Hello {user.name or user.username},\n\n{what} at {config['SITE_NAME']} just now. If it was "
                "not you, tell the person who runs it at once.\n")
        mail.in_background(lambda: mail.send(config, user.email, f"{config['SITE_NAME']}: {what.lower()}", body))


@bp.route("/account/authenticator/off", methods=["POST"])
@login_required
def turn_off():
    """Needs the password and a code; other sessions end (a factor was removed)."""
    signed_in = sessions.current()
    username = signed_in.user.username
    form = TurnOffForm()
    if form.csrf_failed():
        return form_expired()
    error = None
    device = devices.known_device(username)
    keys = throttle.password_keys(username, request.remote_addr or "unknown", device) + throttle.code_keys(username, device)
    if not form.validate_on_submit():
        error = "Type your password and a code."
    elif wait := throttle.begin_attempt(keys):
        error = f"Too many wrong tries. Try again in {throttle.describe_wait(wait)}."
    elif not check_password(signed_in.user, form.password.data):
        error = "That is not your password."
    else:
        with transaction() as db:
            ok = totp.verify(username, form.code.data) or recovery_codes.use(username, form.code.data)
            if ok:
                throttle.record_success(keys)
                steps.remove_second_factors(db, username, keep_session=secret_hash(signed_in.sid))
                # This session's strength came from the factor just removed.
                db.execute("UPDATE sessions SET amr = 'pwd' WHERE id_hash = ?", (secret_hash(signed_in.sid),))
        if ok:
            audit.event("mfa_disabled", user=username, other_sessions_ended=True)
            notify(signed_in.user, "The authenticator app was turned off for your account")
            flash("The authenticator app is off. Your other sessions have ended.")
            return redirect(url_for("latchkey.account.account"), 303)
        error = "That code is not right."
    return render_template("latchkey/authenticator.html", enrolled=True, off_form=form, off_error=error,
                           codes_left=recovery_codes.left(username)), 400

