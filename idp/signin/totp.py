"""Authenticator-app codes (TOTP, RFC 6238, with pyotp): the seed, encrypted at rest; enrolment with
a QR code made on this server (segno, SVG); and checking a code, each accepted once."""

import base64
import logging
import os
import time

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from .. import keys, settings
from ..db import get_db

log = logging.getLogger(__name__)

#: RFC 6238 §5.2: one step either side of now, for clocks a little apart and slow typing.
WINDOW = 1
PERIOD = 30


def _cipher():
    app = current_app
    if "latchkey_data_key" not in app.extensions:
        app.extensions["latchkey_data_key"] = keys.load_data_key(settings.current()["INSTANCE_PATH"])
    return AESGCM(app.extensions["latchkey_data_key"])


def _seal(username, seed):
    nonce = os.urandom(12)
    return nonce + _cipher().encrypt(nonce, seed.encode("ascii"), b"totp:" + username.encode("utf-8"))


def _open(username, sealed):
    return _cipher().decrypt(sealed[:12], sealed[12:], b"totp:" + username.encode("utf-8")).decode("ascii")


def seal_for_session(username, seed):
    """A seed being set up, sealed for the (signed, not encrypted) session cookie."""
    return base64.urlsafe_b64encode(_seal(username, seed)).decode("ascii")


def open_from_session(username, sealed):
    """The seed sealed by `seal_for_session`, or None when it is not this person's or not ours."""
    try:
        return _open(username, base64.urlsafe_b64decode(sealed.encode("ascii")))
    except (InvalidTag, ValueError, TypeError, AttributeError):
        return None


def new_seed():
    """A new random seed (160 bits, RFC 4226 §4), base32 as authenticator apps expect."""
    return pyotp.random_base32(32)


def provisioning(seed, username):
    """(otpauth URI, QR code as inline SVG) for an authenticator app to scan."""
    uri = pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name=settings.current()["SITE_NAME"])
    import segno  # only here, when someone sets up an authenticator app: not in every worker's memory

    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff", border=2)
    return uri, svg


def _matching_step(seed, code, now=None):
    """The time step whose code `code` is, within the window; None for no match."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp, now = pyotp.TOTP(seed), now or time.time()
    step = int(now // PERIOD)
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if totp.at(candidate * PERIOD) == code:
            return candidate
    return None


def check_new(seed, code):
    """The step of a code from a seed being enrolled (shown but not saved yet), or None."""
    return _matching_step(seed, code)


def enrolled(username):
    return get_db().execute("SELECT 1 FROM authenticators WHERE username = ? AND kind = 'totp'",
                            (username,)).fetchone() is not None


def save(db, username, seed, used_step):
    """Keep the confirmed seed; the confirming code counts as used."""
    db.execute("DELETE FROM authenticators WHERE username = ? AND kind = 'totp'", (username,))
    db.execute("INSERT INTO authenticators (username, kind, secret, created_at, last_step) VALUES (?, 'totp', ?, ?, ?)",
               (username, _seal(username, seed), int(time.time()), used_step))


def verify(username, code):
    """True when `code` is the person's current code and was never accepted before (RFC 6238
    §5.2). The step is claimed with one UPDATE, so two workers never both accept one code."""
    row = get_db().execute("SELECT id, secret FROM authenticators WHERE username = ? AND kind = 'totp'",
                           (username,)).fetchone()
    if row is None:
        return False
    try:
        seed = _open(username, row["secret"])
    except InvalidTag:  # instance/data_key is not the key the seed was sealed with
        log.error("cannot read the authenticator app of %s: instance/data_key does not match the database", username)
        return False
    step = _matching_step(seed, code)
    if step is None:
        return False
    cur = get_db().execute(
        "UPDATE authenticators SET last_step = ?, last_used_at = ? WHERE id = ? AND (last_step IS NULL OR last_step < ?)",
        (step, int(time.time()), row["id"], step))
    return cur.rowcount == 1


def encoded(seed):
    """The seed grouped in fours, for typing it into an app by hand."""
    return " ".join(seed[i:i + 4] for i in range(0, len(seed), 4))

