"""The account page's "Where you are signed in": the person's live sessions (browser, address, how
they signed in, when, last seen), each named by its random handle, and ending one of them.

A handle is only good with its owner's own signed-in session: ending asks for the handle and the
username together, so somebody else's handle, or one whose session has ended, ends nothing."""

import time
from datetime import UTC, datetime

from flask import current_app

from . import signout
from .db import get_db, secret_hash
from .sessions import LAST_SEEN_EVERY

#: RFC 8176 amr values, as the page says them.
_PARTS = (("pwd", "password"), ("otp", "code"))
_PASSKEY = {"hwk", "swk"}


def method(amr):
    """How a session's sign-in was made: "password", "password and code" or "passkey"."""
    amr = set(amr)
    if amr & _PASSKEY:
        return "passkey"
    return " and ".join(name for value, name in _PARTS if value in amr) or "unknown"


def _plural(count, unit):
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def ago(then, now):
    """"just now", "5 minutes ago", "3 hours ago", "2 days ago", or a date (UTC) for longer."""
    seconds = max(0, now - then)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _plural(seconds // 60, "minute")
    if seconds < 86400:
        return _plural(seconds // 3600, "hour")
    if seconds < 60 * 86400:
        return _plural(seconds // 86400, "day")
    return "on " + datetime.fromtimestamp(then, UTC).strftime("%d %B %Y").lstrip("0")


def seen(then, now):
    """When a session was last used: it is written down at most every LAST_SEEN_EVERY seconds."""
    if now - then < LAST_SEEN_EVERY:
        return f"within the last {LAST_SEEN_EVERY // 60} minutes"
    return ago(then, now)


def _iso(then):
    return datetime.fromtimestamp(then, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def listed(signed_in):
    """The live sessions of the person `signed_in`, this browser's first, then the most recently seen."""
    return listed_for(signed_in.user.username, secret_hash(signed_in.sid))


def listed_for(username, this_id_hash=None):
    """The live sessions of `username` (the account page's list, and `flask user show`'s): the one
    whose id hash is `this_id_hash` first, then the most recently seen. `apps`: the names of the apps
    each one signed in to, which hear of it when it ends."""
    now = int(time.time())
    db = get_db()
    rows = db.execute(
        "SELECT handle, user_agent, address, auth_time, last_seen_at, amr, sid, id_hash IS ? AS this FROM sessions"
        " WHERE username = ? AND expires_at > ?"
        " ORDER BY this DESC, COALESCE(last_seen_at, auth_time) DESC, auth_time DESC",
        (this_id_hash, username, now),
    ).fetchall()
    registry = current_app.extensions["latchkey_clients"]
    listing = []
    for row in rows:
        last_seen = row["last_seen_at"] or row["auth_time"]
        listing.append({
            "handle": row["handle"],
            "browser": row["user_agent"] or "Unknown browser",
            "address": row["address"] or "unknown address",
            "method": method(row["amr"].split()),
            "this": bool(row["this"]),
            "signed_in": ago(row["auth_time"], now), "signed_in_iso": _iso(row["auth_time"]),
            "last_seen": seen(last_seen, now), "last_seen_iso": _iso(last_seen),
            "apps": [getattr(registry.get(r[0]), "client_name", r[0]) for r in db.execute(
                "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id", (row["sid"],))],
        })
    return listing


def end(username, handle):
    """End the live session of `username` named `handle`; False when there is none (it has ended
    already, or the handle is not one of theirs)."""
    return len(signout.end_where("handle = ? AND username = ? AND expires_at > ?",
                                 (handle, username, int(time.time())), "ended_from_account_page")) == 1
