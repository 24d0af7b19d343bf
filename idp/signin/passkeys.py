"""Passkeys (WebAuthn Level 2+, with the `webauthn` package): creating one for a person (from the
account page, or instead of a password when joining), signing in with one (no username needed:
discoverable credentials), and keeping them in the `authenticators` table with kind 'passkey'.

The relying party id is the issuer's host and the only origin accepted is the issuer's (§7.1 step
9, §7.2 step 13). Challenges are single-use and live a few minutes in the signed session, each
bound to its ceremony (a sign-in, adding one for a signed-in person, joining by one invitation).
Browsers refuse WebAuthn on an IP-address host, so an issuer like http://127.0.0.1:5000 cannot
have passkeys at all (`available`)."""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import sqlite3
import time
from urllib.parse import urlsplit

from flask import current_app, session

from .. import audit, keys, links, settings
from ..db import get_db, transaction
from ..users import end_sessions

#: Pending challenges in the signed session: [{"challenge", "ceremony", "until"}, …], newest last.
CHALLENGES = "latchkey_webauthn_challenges"
#: Seconds a challenge may be answered in (the browser is told a little less, as `timeout`).
CHALLENGE_TTL = 300
#: Ceremonies pending at once in one browser (a few tabs); the oldest goes first.
CHALLENGES_KEPT = 4
NAME_MAX = 60
#: The longest credential JSON accepted (an attestation with its certificates fits many times).
CREDENTIAL_MAX = 20000


class PasskeyError(Exception):
    """A passkey could not be created or used. `reason` is for the audit log; the message is for
    the person."""

    def __init__(self, reason, message, detail=None):
        super().__init__(message)
        self.reason, self.detail = reason, detail


def available(issuer=None):
    """True when the issuer's host is a name (localhost, id.example.org): browsers refuse WebAuthn
    on an IP address (WebAuthn §5.1.3 step 7: the RP ID must be a registrable domain suffix)."""
    host = urlsplit(issuer or settings.current()["ISSUER"]).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(host)
    return False


def rp_id():
    """The relying party id: the issuer's host (§5.1.3)."""
    return urlsplit(settings.current()["ISSUER"]).hostname


def origin():
    """The issuer's origin as a browser serialises it into clientDataJSON (HTML §7.5): the scheme,
    the host in lower case, and the port unless it is the scheme's default."""
    parts = urlsplit(settings.current()["ISSUER"])
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _webauthn():
    """The webauthn package, imported at the first passkey ceremony of a worker rather than at its
    start: with pyasn1 and pyOpenSSL it costs 0.15 s of CPU and several MB per worker, and most
    requests never need it (README, Performance)."""
    import webauthn
    import webauthn.helpers.exceptions
    import webauthn.helpers.structs

    return webauthn


def bytes_to_base64url(value):
    """Unpadded base64url, as WebAuthn writes binary values (the webauthn package's own helper)."""
    return base64.urlsafe_b64encode(value).decode("ascii").rstrip("=")


# --- Challenges: single-use, short-lived, bound to one ceremony ---

def _new_challenge(ceremony):
    challenge = _webauthn().helpers.generate_challenge()
    now = int(time.time())
    kept = [c for c in session.get(CHALLENGES, []) if isinstance(c, dict) and c.get("until", 0) >= now]
    kept.append({"challenge": bytes_to_base64url(challenge), "ceremony": ceremony, "until": now + CHALLENGE_TTL})
    session[CHALLENGES] = kept[-CHALLENGES_KEPT:]
    return challenge


def _client_data(credential):
    """clientDataJSON of a credential the browser sent, parsed (just to find its challenge: the
    webauthn package checks everything in it again)."""
    try:
        raw = credential["response"]["clientDataJSON"]
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return data if isinstance(data, dict) else {}
    except (KeyError, TypeError, ValueError, binascii.Error):
        return {}


def _take_challenge(credential, ceremony):
    """The challenge this credential answers, used up whether or not the answer turns out good:
    taken out of the session, and claimed in the database (committed at once, so a copy of the
    old cookie cannot bring it back). PasskeyError when it was never issued to this browser for
    `ceremony`, was used already, or is too old."""
    answered = _client_data(credential).get("challenge")
    now = int(time.time())
    pending = [c for c in session.get(CHALLENGES, []) if isinstance(c, dict)]
    match = next((c for c in pending if c.get("challenge") == answered and c.get("ceremony") == ceremony), None)
    session[CHALLENGES] = [c for c in pending if c is not match and c.get("until", 0) >= now]
    if match is None or match["until"] < now or get_db().execute(
            "INSERT OR IGNORE INTO passkey_challenges_used (challenge_hash, expires_at) VALUES (?, ?)",
            (hashlib.sha256(answered.encode("ascii")).hexdigest(), match["until"])).rowcount != 1:
        raise PasskeyError("unknown_challenge", "That passkey request has expired or was used already. Try again.")
    return _webauthn().base64url_to_bytes(match["challenge"])


def _parse(text):
    """The credential JSON a form carried, or PasskeyError."""
    try:
        credential = json.loads(text or "") if len(text or "") <= CREDENTIAL_MAX else None
    except ValueError:
        credential = None
    if not isinstance(credential, dict):
        raise PasskeyError("malformed", "Your browser did not send a passkey. Try again.")
    return credential


# --- Creating a passkey (registration, WebAuthn §7.1) ---

def _user_handle(username):
    """The WebAuthn user.id for `username`: random-looking and stable (HMAC of the name under the
    instance's data key), so an authenticator replaces rather than piles up a person's passkeys,
    and no username is in it (§14.6.1)."""
    app = current_app
    if "latchkey_data_key" not in app.extensions:
        app.extensions["latchkey_data_key"] = keys.load_data_key(settings.current()["INSTANCE_PATH"])
    return hmac.new(app.extensions["latchkey_data_key"], b"webauthn-user:" + username.encode("utf-8"),
                    hashlib.sha256).digest()


def registration_options(user, ceremony):
    """Options for navigator.credentials.create(), as JSON-ready dict: a discoverable credential
    (so signing in needs no username), user verification preferred, none of the person's
    existing passkeys again (§5.4.3 excludeCredentials)."""
    existing = get_db().execute("SELECT credential_id, transports FROM authenticators"
                                " WHERE username = ? AND kind = 'passkey'", (user.username,)).fetchall()
    webauthn = _webauthn()
    structs = webauthn.helpers.structs
    options = webauthn.generate_registration_options(
        rp_id=rp_id(), rp_name=settings.current()["SITE_NAME"], user_name=user.username,
        user_id=_user_handle(user.username), user_display_name=user.name or user.username,
        challenge=_new_challenge(ceremony), timeout=(CHALLENGE_TTL - 30) * 1000,
        authenticator_selection=structs.AuthenticatorSelectionCriteria(
            resident_key=structs.ResidentKeyRequirement.REQUIRED,
            user_verification=structs.UserVerificationRequirement.PREFERRED),
        exclude_credentials=[structs.PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(row[0]),
                                                                   transports=_transports(row[1]))
                             for row in existing])
    return webauthn.helpers.options_to_json_dict(options)


def _transports(text):
    transport = _webauthn().helpers.structs.AuthenticatorTransport
    known = {t.value for t in transport}
    return [transport(t) for t in (text or "").split() if t in known] or None


def verify_new(username, credential_text, ceremony):
    """Check the browser's answer to registration_options (§7.1); the new passkey as a dict, not
    stored yet (see `save`), or PasskeyError."""
    webauthn = _webauthn()
    credential = _parse(credential_text)
    challenge = _take_challenge(credential, ceremony)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id(), expected_origin=origin())
    except (webauthn.helpers.exceptions.WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise PasskeyError(_reason(e), "Your passkey could not be checked. Try again.", str(e)) from None
    transports = credential["response"].get("transports")
    transports = [t for t in transports if isinstance(t, str)] if isinstance(transports, list) else []
    return {"username": username, "credential_id": bytes_to_base64url(verified.credential_id),
            "public_key": verified.credential_public_key, "sign_count": verified.sign_count,
            "transports": " ".join(t for t in transports
                                   if t in {x.value for x in webauthn.helpers.structs.AuthenticatorTransport}),
            "backup_eligible": verified.credential_device_type == "multi_device",
            "backup_state": verified.credential_backed_up, "user_verified": verified.user_verified}


def default_name(username):
    count = get_db().execute("SELECT COUNT(*) FROM authenticators WHERE username = ? AND kind = 'passkey'",
                             (username,)).fetchone()[0]
    return f"Passkey {count + 1}"


def clean_name(name):
    """A passkey's name as shown: one line, at most NAME_MAX characters; None when empty."""
    name = " ".join("".join(c if c.isprintable() else " " for c in (name or "")).split())[:NAME_MAX]
    return name or None


def save(db, new, name):
    """Store a verified new passkey in the caller's transaction (§7.1 step 26: a credential id
    registered already, to anyone, is refused). Returns its row id."""
    try:
        cur = db.execute(
            "INSERT INTO authenticators (username, kind, name, credential_id, public_key, sign_count, transports,"
            " backup_eligible, backup_state, user_handle, created_at) VALUES (?, 'passkey', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new["username"], clean_name(name) or default_name(new["username"]), new["credential_id"],
             new["public_key"], new["sign_count"], new["transports"], int(new["backup_eligible"]),
             int(new["backup_state"]), _user_handle(new["username"]), int(time.time())))
    except sqlite3.IntegrityError:
        raise PasskeyError("credential_exists", "That passkey is registered already.") from None
    return cur.lastrowid


def amr(backup_eligible, user_verified):
    """RFC 8176 §2 values for a passkey sign-in: "swk" for a synced passkey (backup eligible, so
    its key is software-held and copied between devices), "hwk" for one bound to its device;
    "user" (the user-presence test, which every passkey ceremony passes: §7.2 step 16); and, when
    the authenticator verified the person too (a PIN or biometric, UV), "mfa": possession plus
    verification, as strong as a password with a second step."""
    values = ["swk" if backup_eligible else "hwk", "user"]
    return values + ["mfa"] if user_verified else values


# --- Signing in with a passkey (authentication, WebAuthn §7.2) ---

def sign_in_options():
    """Options for navigator.credentials.get() with no allowCredentials: the browser offers the
    passkeys it holds for this site (discoverable credentials), in a dialog or as autofill."""
    webauthn = _webauthn()
    options = webauthn.generate_authentication_options(
        rp_id=rp_id(), challenge=_new_challenge("sign_in"), timeout=(CHALLENGE_TTL - 30) * 1000,
        user_verification=webauthn.helpers.structs.UserVerificationRequirement.PREFERRED)
    return webauthn.helpers.options_to_json_dict(options)


def verify_sign_in(credential_text):
    """Check a passkey sign-in (§7.2). Returns (username, amr values); PasskeyError otherwise
    (the caller audits it). The stored counter, backup state and last use move on."""
    webauthn = _webauthn()
    credential = _parse(credential_text)
    challenge = _take_challenge(credential, "sign_in")
    credential_id = credential.get("id") if isinstance(credential.get("id"), str) else ""
    row = get_db().execute("SELECT * FROM authenticators WHERE credential_id = ? AND kind = 'passkey'",
                           (credential_id,)).fetchone()
    if row is None:
        raise PasskeyError("unknown_credential", "This passkey is not registered here. It may have been removed.")
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    if handle and handle != bytes_to_base64url(row["user_handle"]):
        # §7.2 step 6: the user handle must be the one the credential was made for.
        raise PasskeyError("wrong_user_handle", "This passkey could not be used.")
    try:
        # The stored counter is passed as 0 so the package checks the signature first; the counter
        # is compared below, once the signature proves the counter really came from the key.
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id(), expected_origin=origin(),
            credential_public_key=row["public_key"], credential_current_sign_count=0)
    except (webauthn.helpers.exceptions.WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise PasskeyError(_reason(e), "Your passkey could not be checked. Try again.", str(e)) from None
    if (verified.credential_device_type == "multi_device") != bool(row["backup_eligible"]):
        # §6.3.3: backup eligibility is fixed when the credential is made; a change is a red flag.
        raise PasskeyError("backup_eligibility_changed", "This passkey could not be used.")
    with transaction() as db:  # the counter compared and moved on at once: parallel sign-ins, one order
        stored = db.execute("SELECT sign_count FROM authenticators WHERE id = ?", (row["id"],)).fetchone()
        stored, received = (stored[0] or 0) if stored else 0, verified.new_sign_count
        if (stored or received) and received <= stored:
            # §6.1.1: a counter that does not increase, when either is non-zero, signals a cloned
            # authenticator. Refused; the stored counter stays as it was.
            audit.event("passkey_counter_regressed", user=row["username"], passkey=row["id"], stored=stored,
                        received=received)
            raise PasskeyError("counter_regressed", "This passkey could not be used. It may have been copied;"
                               " sign in another way and check your passkeys.")
        db.execute("UPDATE authenticators SET sign_count = ?, backup_state = ?, last_used_at = ? WHERE id = ?",
                   (received, int(verified.credential_backed_up), int(time.time()), row["id"]))
    return row["username"], amr(row["backup_eligible"], verified.user_verified)


def _reason(error):
    """A short reason for the audit log from the webauthn package's message."""
    text = str(error)
    for needle, reason in (("origin", "wrong_origin"), ("RP ID", "wrong_rp_id"), ("signature", "bad_signature"),
                           ("challenge", "wrong_challenge"), ("type", "wrong_type"), ("present", "no_user_presence")):
        if needle in text:
            return reason
    return "invalid_response"


# --- The person's passkeys ---

def list_for(username):
    return get_db().execute("SELECT id, name, created_at, last_used_at, backup_eligible, backup_state, transports"
                            " FROM authenticators WHERE username = ? AND kind = 'passkey' ORDER BY created_at, id",
                            (username,)).fetchall()


def count(username, db=None):
    return (db or get_db()).execute("SELECT COUNT(*) FROM authenticators WHERE username = ? AND kind = 'passkey'",
                                    (username,)).fetchone()[0]


def has_password(username, db=None):
    """False for a person who signs in with passkeys only (users.password_hash "")."""
    row = (db or get_db()).execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return bool(row and row[0])


def rename(username, passkey_id, name):
    """True when the person's passkey got its new name."""
    cur = get_db().execute("UPDATE authenticators SET name = ? WHERE id = ? AND username = ? AND kind = 'passkey'",
                           (clean_name(name), passkey_id, username))
    return cur.rowcount == 1


class LastWayToSignIn(Exception):
    """Removing this would leave the person no way to sign in."""


def remove(db, username, passkey_id, keep_session):
    """Remove one of the person's passkeys in the caller's transaction, and every session but
    `keep_session` (a session id hash): one that signed in with it must not outlive it. Refused
    (LastWayToSignIn) for the last passkey of someone without a password. Returns its name, or
    None when there is no such passkey."""
    row = db.execute("SELECT name FROM authenticators WHERE id = ? AND username = ? AND kind = 'passkey'",
                     (passkey_id, username)).fetchone()
    if row is None:
        return None
    if count(username, db) == 1 and not has_password(username, db):
        raise LastWayToSignIn()
    db.execute("DELETE FROM authenticators WHERE id = ?", (passkey_id,))
    end_sessions(db, username, keep_session)
    return row["name"]


def remove_password(db, username, keep_session):
    """The person signs in with passkeys only from now on (password_hash "": no argon2 hash
    matches it). Refused (LastWayToSignIn) without a passkey. Other sessions end, and pending
    links die as with any password change."""
    if count(username, db) == 0:
        raise LastWayToSignIn()
    db.execute("UPDATE users SET password_hash = '', updated_at = ? WHERE username = ?", (int(time.time()), username))
    end_sessions(db, username, keep_session)
    links.void(username)


def worth_offering(username):
    """OFFER_PASSKEY: after a password sign-in, offer a passkey to a person who has none."""
    return settings.current()["OFFER_PASSKEY"] and available() and count(username) == 0
