"""The second sign-in step (/login/code): an authenticator-app code or a recovery code, after the
password, or to step up a signed-in session that an app finds too weak."""

from flask import Blueprint, redirect, render_template, request, url_for

from .. import audit, devices, sessions, throttle
from ..db import transaction
from ..errors import form_expired
from ..forms import CodeForm
from ..signin import recovery_codes, steps, totp
from ..users import active, get_user
from .pages import _safe_next

bp = Blueprint("second_step", __name__)


def _check(username, code):
    """(ok, amr values) for a code typed at the second step."""
    if totp.verify(username, code):
        return True, ["otp"]
    if recovery_codes.use(username, code):
        audit.event("recovery_code_used", user=username, left=recovery_codes.left(username))
        return True, ["otp"]
    return False, []


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    waiting, signed_in = steps.pending(), sessions.current()
    step_up_to = _safe_next(request.values.get("next"))
    if waiting:
        user = active(get_user(waiting["user"]))
    elif signed_in and step_up_to:
        user = signed_in.user
    else:
        return redirect(url_for("latchkey.pages.login"))
    if user is None:
        return redirect(url_for("latchkey.pages.login"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        keys = throttle.code_keys(user.username, waiting["device"] if waiting else devices.known_device(user.username))
        if wait := throttle.begin_attempt(keys):
            audit.event("second_step_throttled", user=user.username, wait=wait)
            error, status = f"Too many wrong codes. Try again in {throttle.describe_wait(wait)}.", 429
        else:
            with transaction():
                ok, amr = _check(user.username, form.code.data)
                if ok:
                    throttle.record_success(keys)
            if ok and waiting:
                return steps.finish(user, waiting["amr"] + amr + ["mfa"], waiting["next"], waiting["device"])
            if ok:
                steps.step_up(signed_in, amr)
                return redirect(step_up_to, 303)
            audit.event("second_step_failed", user=user.username, address=request.remote_addr)
            error, status = "That code is not right. Check your authenticator app and try again.", 400
    elif form.csrf_failed():
        return form_expired()
    return render_template("latchkey/second_step.html", form=form, error=error, next=step_up_to,
                           stepping_up=not waiting), status
