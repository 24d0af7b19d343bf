"""The sequence of sign-in steps, and stepping up a session that an app finds too weak.

A sign-in whose first step is done but whose second is not yet lives in the (signed) Flask session
as PENDING for a few minutes; nobody is signed in until `finish`. The amr values (RFC 8176) of the
finished sign-in go on the session's row and from there into codes, tokens and ID tokens."""

import time
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for

from .. import audit, devices, sessions, settings
from ..db import get_db, secret_hash, transaction
from ..users import end_sessions, record_sign_in
from . import passkeys, totp

PENDING = "latchkey_pending_sign_in"
#: Seconds between the password and the second step, at most.
PENDING_TTL = 300


def first_step_done(user, method, next_url, device):
    """The password (`method` "pwd") was right: finish, or ask for the second step first."""
    if not totp.enrolled(user.username):
        return finish(user, [method], next_url, device)
    session[PENDING] = {"user": user.username, "amr": [method], "next": next_url, "device": device,
                        "until": int(time.time()) + PENDING_TTL}
    return redirect(url_for("latchkey.second_step.code"), 303)


def pending():
    """The sign-in waiting for its second step, or None (absent, or too old)."""
    waiting = session.get(PENDING)
    if not isinstance(waiting, dict) or waiting.get("until", 0) < time.time():
        session.pop(PENDING, None)
        return None
    return waiting


def finish(user, amr, next_url, device=None):
    """Every step is done (a password and maybe a code, or a passkey alone): start the session
    and go on to where the person was going."""
    session.pop(PENDING, None)
    with transaction():  # one commit for the session, its mark and the person's last sign-in
        sessions.sign_in(user, amr)
        record_sign_in(user.username)
        if next_url and urlsplit(next_url).path == url_for("latchkey.authorize.authorize"):
            sessions.mark_fresh_sign_in(urlsplit(next_url).query)
    audit.event("sign_in", user=user.username, address=request.remote_addr, amr=amr)
    go_on = next_url or url_for("latchkey.account.account")
    if "pwd" in amr and passkeys.worth_offering(user.username):
        # OFFER_PASSKEY: a person who typed a password and has no passkey is offered one first.
        go_on = url_for("latchkey.passkeys.offer", next=go_on)
    response = redirect(go_on, 303)
    return devices.remember(response, user.username, device)


def step_up(signed_in, added):
    """A signed-in session proved one more factor: it keeps that strength until it ends."""
    amr = sorted(set(signed_in.amr) | set(added) | {"mfa"})
    get_db().execute("UPDATE sessions SET amr = ? WHERE id_hash = ?", (" ".join(amr), secret_hash(signed_in.sid)))
    signed_in.amr = signed_in.user.amr = amr
    audit.event("session_stepped_up", user=signed_in.user.username, amr=amr)


def remove_second_factors(db, username, keep_session=None):
    """Every second factor of `username` goes, and every session but `keep_session` (a session id
    hash) ends: a session that relied on a removed factor must not outlive it. Passkeys stay: they
    are a way to sign in of their own, not a second step."""
    db.execute("DELETE FROM authenticators WHERE username = ? AND kind IN ('totp', 'recovery_code')", (username,))
    end_sessions(db, username, keep_session)


#: OIDC Core §2 `acr` values Latchkey speaks (discovery lists them): a sign-in with a password (or
#: more) is "pwd"; one with a second factor, or a passkey with user verification, is "mfa".
ACR_VALUES = ("pwd", "mfa")


def acr(amr):
    """The `acr` of a sign-in made with the methods `amr`."""
    return "mfa" if "mfa" in amr else "pwd"


def strong_enough(signed_in, client, acr_values=None):
    """True when this session may get a code for `client`: a second factor is needed when the app
    sets require_mfa, the REQUIRE_MFA setting is on, or the request's acr_values ask for "mfa"
    (OIDC Core §3.1.2.1: Latchkey honours acr_values rather than treating them as a hint)."""
    required = (getattr(client, "require_mfa", False) or settings.current()["REQUIRE_MFA"]
                or "mfa" in (acr_values or "").split())
    return not required or "mfa" in signed_in.amr


def step_up_url(signed_in, return_to):
    """Where a too-weak session goes: the second step (an authenticator app's code), else signing
    in again with a passkey (one that verifies the person counts as mfa), else setting up an
    authenticator app first."""
    username = signed_in.user.username
    if totp.enrolled(username):
        return url_for("latchkey.second_step.code", next=return_to)
    if passkeys.available() and passkeys.count(username):
        return url_for("latchkey.pages.login", next=return_to, login_hint=username)
    return url_for("latchkey.authenticator.authenticator", next=return_to)
