"""Passkey pages and endpoints: signing in with one (/login/passkey), adding, renaming and removing
them on the account page, signing in with passkeys only (removing the password, or choosing one
again), the offer after a password sign-in (OFFER_PASSKEY), and joining by invitation with one.

The ceremonies run in the browser (static/passkeys.js): it fetches the options here (a POST with
the page's CSRF token in X-CSRFToken), asks the authenticator, and posts the answer in an ordinary
form, so every result is a normal page with a 303 (the logic: signin/passkeys.py)."""

import time

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from .. import audit, devices, links, password_rules, sessions, settings, throttle
from ..db import secret_hash, transaction
from ..errors import form_expired
from ..forms import ConfirmForm, NewPasswordForm, PasskeyForm, RemovePasswordForm, RenamePasskeyForm
from ..signin import passkeys, steps
from ..signin.passkeys import LastWayToSignIn, PasskeyError
from ..users import active, check_password, get_user, set_password
from .authenticator import notify
from .links import _invalid
from .pages import _safe_next

bp = Blueprint("passkeys", __name__)

LAST_WAY = "This is your last way to sign in: add another passkey or a password before removing it."
#: A sign-in this recent (s) is proof enough to add a passkey; later the password is asked again,
#: as for an authenticator app (a browser left signed in is not enough to add a way in).
FRESH_FOR_ADDING = 300


def _refused(message, status=400):
    return jsonify(error=message), status


def _options(make):
    """A ceremony's options as JSON, for a page whose CSRF token comes in the X-CSRFToken header.
    `make` returns them, or a refusal (a response) instead."""
    if not passkeys.available():
        abort(404)
    token = ConfirmForm(formdata=MultiDict({"csrf_token": request.headers.get("X-CSRFToken", "")}))
    if not token.validate():
        return _refused("This page has expired. Reload it and try again.")
    options = make()
    if not isinstance(options, dict):
        return options
    response = jsonify(options)
    response.headers["Cache-Control"] = "no-store"
    return response


def _wrong_password(signed_in, password):
    """None when `password` is the person's; otherwise what to tell them. Guessed here as at
    /login, so throttled the same way."""
    username, address = signed_in.user.username, request.remote_addr or "unknown"
    keys = throttle.password_keys(username, address, devices.known_device(username))
    if wait := throttle.begin_attempt(keys):
        audit.event("password_check_throttled", user=username, address=address, wait=wait)
        return f"Too many wrong passwords. Try again in {throttle.describe_wait(wait)}."
    if not check_password(signed_in.user, password):
        audit.event("password_check_failed", user=username, address=address)
        return "That is not your password."
    throttle.record_success(keys)
    return None


def _login_again(message, next_url):
    flash(message, "error")
    return redirect(url_for("latchkey.pages.login", next=next_url) if next_url else url_for("latchkey.pages.login"), 303)


@bp.route("/login/passkey/options", methods=["POST"])
def sign_in_options():
    return _options(passkeys.sign_in_options)


@bp.route("/login/passkey", methods=["POST"])
def sign_in():
    """A passkey alone signs the person in: no username, no password, no second step."""
    form = PasskeyForm()
    next_url = _safe_next(form.next.data)
    if form.csrf_failed():
        return _login_again("The sign-in page had expired. Please sign in again.", next_url)
    if not passkeys.available():
        abort(404)
    try:
        username, amr = passkeys.verify_sign_in(form.credential.data)
        user = active(get_user(username))
        if user is None:
            raise PasskeyError("disabled_user", "This passkey cannot be used to sign in.")
    except PasskeyError as e:
        audit.event("passkey_sign_in_failed", reason=e.reason, detail=e.detail, address=request.remote_addr)
        return _login_again(str(e), next_url)
    return steps.finish(user, amr, next_url, devices.known_device(username))


# --- The account page's passkeys ---

def _when(timestamp):
    return time.strftime("%-d %b %Y, %H:%M", time.localtime(timestamp)) if timestamp else None


def account_context(signed_in):
    """What the account page shows about passkeys and the password."""
    username = signed_in.user.username
    listed = [{"id": row["id"], "name": row["name"], "synced": bool(row["backup_eligible"]),
               "added": _when(row["created_at"]), "last_used": _when(row["last_used_at"])}
              for row in passkeys.list_for(username)]
    return {"passkeys_available": passkeys.available(), "passkeys": listed,
            "passkey_needs_password": _needs_password(signed_in),
            "has_password": passkeys.has_password(username), "passkey_form": PasskeyForm(formdata=None),
            "rename_form": RenamePasskeyForm(formdata=None), "remove_password_form": RemovePasswordForm(formdata=None),
            "choose_password_form": NewPasswordForm(formdata=None)}


def _add_ceremony(username):
    return f"add:{username}"


def _stale(signed_in):
    """Signed in longer ago than FRESH_FOR_ADDING: a browser left signed in, or a stolen cookie,
    must prove the person again before adding a way in."""
    return signed_in.auth_time < time.time() - FRESH_FOR_ADDING


def _needs_password(signed_in):
    return passkeys.has_password(signed_in.user.username) and _stale(signed_in)


def _needs_fresh_passkey_sign_in(signed_in):
    """A passkey-only person has no password to type again: a fresh passkey sign-in instead."""
    return not passkeys.has_password(signed_in.user.username) and _stale(signed_in)


SIGN_IN_AGAIN = "You signed in a while ago: sign out and in again with your passkey, then add it within 5 minutes."


def _back_to_account():
    return redirect(url_for("latchkey.account.account") + "#passkeys-heading", 303)


@bp.route("/account/passkeys/options", methods=["POST"])
@login_required
def add_options():
    """The password is checked before any passkey is made: a refusal after the ceremony would
    leave a passkey on the device that Latchkey never knew."""
    signed_in = sessions.current()

    def make():
        if _needs_fresh_passkey_sign_in(signed_in):
            return _refused(SIGN_IN_AGAIN)
        if _needs_password(signed_in):
            if not request.form.get("password"):
                return _refused("Type your password to add a passkey.")
            if problem := _wrong_password(signed_in, request.form["password"][:1000]):
                return _refused(problem, 429 if problem.startswith("Too many") else 400)
        return passkeys.registration_options(signed_in.user, _add_ceremony(signed_in.user.username))

    return _options(make)


@bp.route("/account/passkeys", methods=["POST"])
@login_required
def add():
    username = sessions.current().user.username
    form = PasskeyForm()
    if form.csrf_failed():
        return form_expired()
    if not passkeys.available():
        abort(404)
    go_on = _safe_next(form.next.data)
    try:
        new = passkeys.verify_new(username, form.credential.data, _add_ceremony(username))
        with transaction() as db:
            passkey_id = passkeys.save(db, new, form.name.data)
    except PasskeyError as e:
        audit.event("passkey_add_failed", user=username, reason=e.reason, detail=e.detail)
        flash(str(e), "error")
        return redirect(url_for(".offer", next=go_on), 303) if go_on else _back_to_account()
    audit.event("passkey_added", user=username, passkey=passkey_id, synced=new["backup_eligible"])
    notify(sessions.current().user, "A passkey was added to your account")
    flash("Your passkey was added. Next time, sign in with it: no password needed.")
    return redirect(go_on, 303) if go_on else _back_to_account()


@bp.route("/account/passkeys/<int:passkey_id>/rename", methods=["POST"])
@login_required
def rename(passkey_id):
    username = sessions.current().user.username
    form = RenamePasskeyForm()
    if form.csrf_failed():
        return form_expired()
    if not form.validate_on_submit() or not passkeys.clean_name(form.name.data):
        flash("Give the passkey a name.", "error")
    elif passkeys.rename(username, passkey_id, form.name.data):
        audit.event("passkey_renamed", user=username, passkey=passkey_id)
        flash("The passkey was renamed.")
    return _back_to_account()


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
def remove(passkey_id):
    """Other sessions end: one that signed in with this passkey must not outlive it."""
    signed_in = sessions.current()
    username = signed_in.user.username
    form = ConfirmForm()
    if form.csrf_failed():
        return form_expired()
    try:
        with transaction() as db:
            name = passkeys.remove(db, username, passkey_id, keep_session=secret_hash(signed_in.sid))
    except LastWayToSignIn:
        flash(LAST_WAY, "error")
        return _back_to_account()
    if name is not None:
        audit.event("passkey_removed", user=username, passkey=passkey_id, other_sessions_ended=True)
        notify(signed_in.user, "A passkey was removed from your account")
        flash(f"The passkey “{name}” was removed. Your other sessions have ended.")
    return _back_to_account()


@bp.route("/account/password/remove", methods=["POST"])
@login_required
def remove_password():
    """Sign in with passkeys only: the current password confirms it (guessed here as at /login,
    so throttled the same way)."""
    signed_in = sessions.current()
    username = signed_in.user.username
    form = RemovePasswordForm()
    if form.csrf_failed():
        return form_expired()
    if not form.validate_on_submit():
        flash("Type your password to remove it.", "error")
    elif problem := _wrong_password(signed_in, form.password.data):
        flash(problem, "error")
    else:
        try:
            with transaction() as db:
                passkeys.remove_password(db, username, keep_session=secret_hash(signed_in.sid))
        except LastWayToSignIn:
            flash("Add a passkey first: without a password it is your only way to sign in.", "error")
            return _back_to_account()
        audit.event("password_removed", user=username, other_sessions_ended=True)
        notify(signed_in.user, "The password of your account was removed")
        flash("Your password was removed: you sign in with a passkey now. Your other sessions have ended.")
    return redirect(url_for("latchkey.account.account") + "#password-heading", 303)


@bp.route("/account/password/choose", methods=["POST"])
@login_required
def choose_password():
    """A person who signs in with passkeys only may have a password again."""
    signed_in = sessions.current()
    user = signed_in.user
    form = NewPasswordForm()
    if form.csrf_failed():
        return form_expired()
    if passkeys.has_password(user.username):
        abort(400)
    if _needs_fresh_passkey_sign_in(signed_in):
        flash(SIGN_IN_AGAIN.replace("add it", "choose a password"), "error")
        return redirect(url_for("latchkey.account.account") + "#password-heading", 303)
    if not form.validate_on_submit():
        problem = next(iter(form.errors.values()))[0]
    else:
        problem = password_rules.problem(form.new.data, user.username, user.email, settings.current()["SITE_NAME"])
    if problem:
        flash(problem, "error")
    else:
        set_password(user.username, form.new.data, keep_session=secret_hash(signed_in.sid))
        audit.event("password_changed", user=user.username, was_passkey_only=True)
        flash("You have a password again. Your other sessions and every app's tokens have ended.")
    return redirect(url_for("latchkey.account.account") + "#password-heading", 303)


@bp.route("/account/passkeys/offer")
@login_required
def offer():
    """OFFER_PASSKEY: right after a password sign-in, before going on to `next`."""
    go_on = _safe_next(request.args.get("next")) or url_for("latchkey.account.account")
    signed_in = sessions.current()
    if not passkeys.available() or passkeys.count(signed_in.user.username):
        return redirect(go_on)
    return render_template("latchkey/passkey_offer.html", form=PasskeyForm(formdata=None), next=go_on,
                           needs_password=_needs_password(signed_in))


# --- Joining by invitation with a passkey instead of a password ---

def _joinable(token):
    """(link, the invited person) for a usable invitation; (link, None) otherwise."""
    link = links.find("join", token)
    user = get_user(link.username) if link.state == "ok" else None
    if user is None or user.disabled or not user.invited:
        return link, None
    return link, user


def _join_ceremony(link):
    return f"join:{link.row['token_hash']}"


@bp.route("/join/<token>/passkey/options", methods=["POST"])
def join_options(token):
    link, user = _joinable(token)
    if user is None:
        return jsonify(error="This invitation cannot be used any more."), 410
    return _options(lambda: passkeys.registration_options(user, _join_ceremony(link)))


@bp.route("/join/<token>/passkey", methods=["POST"])
def join(token):
    """The link is claimed in the same transaction as the passkey is stored: two tabs, one winner."""
    link, user = _joinable(token)
    if user is None:
        return _invalid(link if link.state != "ok" else links.Link(link.row, "used"), "join")
    form = PasskeyForm()
    if form.csrf_failed():
        return form_expired()
    if not passkeys.available():
        abort(404)
    try:
        new = passkeys.verify_new(user.username, form.credential.data, _join_ceremony(link))
        with transaction() as db:
            if not links.claim(link):
                return _invalid(links.Link(link.row, "used"), "join")
            passkey_id = passkeys.save(db, new, form.name.data)
            db.execute("UPDATE users SET invited = 0 WHERE username = ?", (user.username,))
            links.void(user.username)
    except PasskeyError as e:
        audit.event("passkey_add_failed", user=user.username, reason=e.reason, detail=e.detail)
        flash(str(e), "error")
        return redirect(url_for("latchkey.links.join", token=token), 303)
    audit.event("joined", user=user.username, address=request.remote_addr, method="passkey")
    audit.event("passkey_added", user=user.username, passkey=passkey_id, synced=new["backup_eligible"])
    user = get_user(user.username)
    return steps.finish(user, passkeys.amr(new["backup_eligible"], new["user_verified"]), None, None)
