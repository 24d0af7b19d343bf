"""/activate: where a person connects a TV app or a command-line tool (RFC 8628 §3.3). They sign in
first (any way Latchkey offers), type the code the device shows (or follow the device's link with
the code in it), and confirm "Sign in to <app> on your device?". The device then gets its tokens
at its next poll (device_authorization.py).

Rules kept: nobody types a code before signing in, so guessing needs an account, and wrong codes
are counted per person and per address (throttle.py) and slowed down (RFC 8628 §5.1); the app's own
demands hold as at /authorize (allowed_groups, require_mfa / REQUIRE_MFA: a second step first); both
forms carry CSRF tokens; the code found is remembered in the signed session between the two forms,
so the confirmation is no second way to try codes; a code is decided once."""

import time
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from .. import audit, device_authorization, sessions, throttle
from ..db import get_db
from ..errors import form_expired
from ..forms import ConfirmForm, Form
from ..signin import steps

bp = Blueprint("device", __name__)

#: The device authorization found by the code form, waiting for the person's answer: in the session.
ACTIVATING = "latchkey_activating"
#: Seconds between the code form and the answer, at most.
ACTIVATING_TTL = 600


class UserCodeForm(Form):
    user_code = StringField("Code", validators=[InputRequired(), Length(max=40)])


def _sign_in_first():
    """The login page, coming back here with the code the device's link carried."""
    back = url_for("latchkey.device.activate")
    if code := request.args.get("user_code"):
        back += "?" + urlencode({"user_code": code[:40]})
    return redirect(url_for("latchkey.pages.login", next=back))


def _page(form, signed_in, error=None, status=200):
    return render_template("latchkey/activate.html", form=form, signed_in=signed_in, error=error), status


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    signed_in = sessions.current()
    if signed_in is None:
        return _sign_in_first()
    form = UserCodeForm()
    if request.method == "GET":
        form.user_code.data = (request.args.get("user_code") or "")[:40]
        return _page(form, signed_in)
    if form.csrf_failed():
        return form_expired()
    if not form.validate():
        return _page(form, signed_in, "Enter the code your device shows.", 400)
    username, address = signed_in.user.username, request.remote_addr or "unknown"
    keys = throttle.user_code_keys(username, address)
    if wait := throttle.begin_attempt(keys):  # counted before the look-up: parallel guesses count too
        audit.event("user_code_throttled", user=username, address=address, wait=wait)
        return _page(form, signed_in, f"Too many wrong codes. Try again in {throttle.describe_wait(wait)}.", 429)
    credential = device_authorization.pending(form.user_code.data)
    client = current_app.extensions["latchkey_clients"].get(credential.get_client_id()) if credential else None
    if client is None:
        audit.event("user_code_failed", user=username, address=address)
        return _page(form, signed_in, "That code is not valid. Check the code on your device: each one works "
                                      "once, for a few minutes.", 400)
    throttle.record_success(keys)  # takes back this attempt only; earlier wrong codes still count
    if not client.may_sign_in(signed_in.user.groups):
        device_authorization.decide(credential.row["device_hash"], signed_in, approve=False)
        audit.event("access_denied_by_groups", user=username, client=client.client_id,
                    allowed_groups=client.allowed_groups)
        return render_template("latchkey/activate_done.html", client=client, outcome="not_allowed"), 403
    if not steps.strong_enough(signed_in, client):
        # require_mfa / REQUIRE_MFA: the second step first, then back here with the code filled in.
        return redirect(steps.step_up_url(signed_in, url_for("latchkey.device.activate", user_code=form.user_code.data)))
    session[ACTIVATING] = {"device": credential.row["device_hash"], "user": username,
                           "code": device_authorization.normalize(form.user_code.data),
                           "until": int(time.time()) + ACTIVATING_TTL}
    return redirect(url_for("latchkey.device.confirm"), 303)


def _activating(signed_in):
    """(the device authorization being confirmed, its app), or None: nothing waiting, waiting
    for someone else, too old, no longer pending, or its app gone."""
    waiting = session.get(ACTIVATING)
    if (not isinstance(waiting, dict) or waiting.get("user") != signed_in.user.username
            or waiting.get("until", 0) < time.time()):
        return None
    row = get_db().execute("SELECT * FROM device_codes WHERE device_hash = ? AND status = 'pending' AND expires_at > ?",
                           (waiting.get("device"), int(time.time()))).fetchone()
    client = current_app.extensions["latchkey_clients"].get(row["client_id"]) if row else None
    return (device_authorization.DeviceCredential(row), client, waiting["code"]) if client else None


@bp.route("/activate/confirm", methods=["GET", "POST"])
def confirm():
    signed_in = sessions.current()
    if signed_in is None:
        return _sign_in_first()
    found = _activating(signed_in)
    if found is None:
        session.pop(ACTIVATING, None)
        form = UserCodeForm(formdata=None)
        return _page(form, signed_in, "That code is no longer waiting. Enter the code your device shows now.", 400)
    credential, client, code = found
    if not steps.strong_enough(signed_in, client):  # the session may have changed since the code form
        return redirect(steps.step_up_url(signed_in, url_for("latchkey.device.confirm")))
    form = ConfirmForm()
    if request.method == "POST":
        if form.csrf_failed():
            return form_expired()
        approve = request.form.get("decision") == "allow"
        session.pop(ACTIVATING, None)
        if not device_authorization.decide(credential.row["device_hash"], signed_in, approve):
            return _page(UserCodeForm(formdata=None), signed_in, "That code is no longer waiting. Enter the code "
                                                                 "your device shows now.", 400)
        audit.event("device_approved" if approve else "device_denied", user=signed_in.user.username,
                    client=client.client_id, address=request.remote_addr)
        return render_template("latchkey/activate_done.html", client=client,
                               outcome="approved" if approve else "denied")
    return render_template("latchkey/activate_confirm.html", form=form, client=client, signed_in=signed_in,
                           code=f"{code[:4]}-{code[4:]}",
                           offline="offline_access" in device_authorization.scopes_of(credential))
