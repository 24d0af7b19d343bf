"""Known devices: a signed cookie that a browser receives when someone signs in with it (OWASP's
"device cookies" against lockout abuse). It names the people who signed in there, each with a random
device id. A password check for one of them from that browser is throttled under the device id
alone, so wrong passwords typed elsewhere (by someone trying to lock that person out) never hold
up the browser the person really uses; see throttle.py."""

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from . import settings

#: How long a browser stays known after its last sign-in (s).
DEVICE_COOKIE_TTL = 365 * 24 * 3600
#: People remembered per browser (a family computer), newest first.
PEOPLE_PER_DEVICE = 8


def cookie_name():
    """`__Host-` with an https issuer: Secure, Path=/, no Domain, so no sibling site can plant one."""
    return "__Host-latchkey_device" if settings.current()["ISSUER"].startswith("https://") else "latchkey_device"


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="latchkey-device-cookie")


def _entries():
    """[[username, device id], …] from this browser's cookie; [] when absent or not ours."""
    raw = request.cookies.get(cookie_name())
    if not raw:
        return []
    try:
        entries = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)]


def known_device(username):
    """The device id under which `username` signed in with this browser before, or None."""
    wanted = (username or "").strip().lower()
    return next((device for name, device in _entries() if name == wanted), None)


def remember(response, username, device=None):
    """After a successful sign-in: this browser is known for `username` (keeping its device id)."""
    name = username.lower()
    device = device or secrets.token_urlsafe(16)
    entries = [[name, device]] + [e for e in _entries() if e[0] != name]
    https = settings.current()["ISSUER"].startswith("https://")
    response.set_cookie(cookie_name(), _serializer().dumps(entries[:PEOPLE_PER_DEVICE]),
                        max_age=DEVICE_COOKIE_TTL, path="/", secure=https, httponly=True, samesite="Lax")
    return response
