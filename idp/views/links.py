"""The pages behind one-time links: joining by invitation (/join/<token>), recovering a forgotten
password (/reset/<token>), and asking for a recovery link by mail (/forgot)."""

from flask import Blueprint, abort, render_template, request

from .. import audit, links, mail, password_rules, settings, throttle
from ..db import get_db, transaction
from ..errors import form_expired
from ..forms import ForgotForm, NewPasswordForm
from ..signin import passkeys, steps
from ..users import active, get_user, set_password

bp = Blueprint("links", __name__)

def _invalid(link, kind):
    """The page for a link that cannot be used, saying what to do next."""
    if link.state in ("used", "expired"):
        audit.event(f"link_{link.state}", kind=kind, user=link.username)
    status = 404 if link.state == "unknown" else 410
    return render_template("latchkey/link_invalid.html", state=link.state, kind=kind,
                           can_mail=kind == "reset" and mail.configured(settings.current())), status


def _choose_password(kind, token):
    """Show the form, or set the password the person chose and sign them in."""
    link = links.find(kind, token)
    user = get_user(link.username) if link.state == "ok" else None
    # A join link is for someone not joined yet, a reset link for someone who has; neither for the disabled.
    if user is None or user.disabled or user.invited != (kind == "join"):
        return _invalid(link if user is None or link.state != "ok" else links.Link(link.row, "used"), kind)
    form = NewPasswordForm()
    error, status = None, 200
    if form.validate_on_submit():
        error = password_rules.problem(form.new.data, user.username, user.email, settings.current()["SITE_NAME"])
        if error is None:
            # The claim and the new password in one transaction: two tabs, one winner.
            if not set_password(user.username, form.new.data, claim=lambda: links.claim(link)):
                return _invalid(links.Link(link.row, "used"), kind)
            audit.event("joined" if kind == "join" else "password_reset", user=user.username,
                        address=request.remote_addr, sessions_and_tokens_ended=kind == "reset")
            # A new password is the first step only: a person with an authenticator app still
            # types its code before a session starts (a mailbox alone must not be enough).
            return steps.first_step_done(user, "pwd", None, None)
        status = 400
    elif form.csrf_failed():
        return form_expired()
    elif form.is_submitted():
        error, status = next(iter(form.errors.values()))[0], 400
    return render_template(f"latchkey/{kind}.html", form=form, user=user, error=error,
                           expires_at=link.expires_at, token=token,
                           passkeys=kind == "join" and passkeys.available()), status


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token):
    return _choose_password("join", token)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token):
    return _choose_password("reset", token)


def _people_for(who):
    """The active people `who` (a username, in any case, or an email address) names: at most a few."""
    db = get_db()
    rows = db.execute("SELECT username FROM users WHERE username = ? COLLATE NOCASE", (who,)).fetchall()
    if not rows and "@" in who:
        rows = db.execute("SELECT username FROM users WHERE email = ? COLLATE NOCASE LIMIT 5", (who,)).fetchall()
    return [u for r in rows if (u := active(get_user(r[0]))) is not None]


def _mail_recovery_links(config, who):
    """For each active person `who` names: a new recovery link, mailed (at most MAIL_LIMITS a
    person an hour, however they were named)."""
    for user in _people_for(who):
        if throttle.begin_attempt([f"mail-user:{user.username}"]):
            audit.event("recovery_mail_throttled", user=user.username)
            continue
        with transaction() as db:
            url = links.create("reset", user.username, db=db)
        mail.send_link(config, "reset", user, url, links.DEFAULT_TTL["reset"])


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """Mail a recovery link to the address on file. The answer is the same whether or not anyone
    matched, and the look-up, the link and the mail all happen after it, in the background, so
    it takes as long either way."""
    config = settings.current()
    if not mail.configured(config):
        abort(404)
    form = ForgotForm()
    if form.csrf_failed():
        return form_expired()
    if not form.validate_on_submit():
        return render_template("latchkey/forgot.html", form=form, sent=False), 400 if form.is_submitted() else 200
    who = form.who.data.strip()
    address = request.remote_addr or "unknown"
    wait = throttle.begin_attempt([f"mail-addr:{address}"])
    if wait:
        audit.event("recovery_mail_throttled", address=address, wait=wait)
        return render_template("latchkey/forgot.html", form=form, sent=False,
                               error=f"Too many requests. Try again in {throttle.describe_wait(wait)}."), 429
    mail.in_background(lambda: _mail_recovery_links(config, who))
    audit.event("recovery_requested", address=address)
    return render_template("latchkey/forgot.html", form=form, sent=True)

