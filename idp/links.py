"""One-time links: an invitation to join (`/join/<token>`) and a recovery link (`/reset/<token>`).
A link is a random 256-bit token, stored only as its SHA-256 hash; it works once, until it expires,
and a new link of the same kind for the same person voids the older ones."""

import re
import secrets
import time

from . import audit, settings
from .db import get_db, secret_hash

KINDS = {"join": "/join/", "reset": "/reset/"}
#: Default lifetimes (s): a week to join, an hour to recover.
DEFAULT_TTL = {"join": 7 * 24 * 3600, "reset": 3600}


def parse_duration(text):
    """Seconds in '7d', '12h', '30m', '90s' or a plain number of seconds; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([smhd]?)\s*", text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 7d, 12h, 30m or 3600")
    seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if not 60 <= seconds <= 90 * 86400:
        raise ValueError("a link must live between one minute and 90 days")
    return seconds


def create(kind, username, ttl=None, db=None):
    """A new link of `kind` for `username`; older unused links of that kind for them stop working.
    Returns the full URL to hand to the person."""
    db = db or get_db()
    now = int(time.time())
    token = secrets.token_urlsafe(32)
    db.execute("UPDATE links SET expires_at = MIN(expires_at, ?) WHERE username = ? AND kind = ? AND used_at IS NULL",
               (now - 1, username, kind))
    db.execute("INSERT INTO links (token_hash, kind, username, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
               (secret_hash(token), kind, username, now, now + (ttl or DEFAULT_TTL[kind])))
    audit.event("link_created", kind=kind, user=username, expires_at=now + (ttl or DEFAULT_TTL[kind]))
    return settings.current()["ISSUER"] + KINDS[kind] + token


class Link:
    """A link as found: `state` is 'ok', 'used', 'expired' or 'unknown'."""

    def __init__(self, row, state):
        self.row, self.state = row, state
        self.username = row["username"] if row else None
        self.expires_at = row["expires_at"] if row else None


def find(kind, token):
    """The link of `kind` behind `token`, with its state."""
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_-]{20,100}", token):
        return Link(None, "unknown")
    row = get_db().execute("SELECT * FROM links WHERE token_hash = ? AND kind = ?", (secret_hash(token), kind)).fetchone()
    if row is None:
        return Link(None, "unknown")
    if row["used_at"] is not None:
        return Link(row, "used")
    if row["expires_at"] <= time.time():
        return Link(row, "expired")
    return Link(row, "ok")


def claim(link):
    """Mark the link used inside the caller's transaction; True for exactly one caller however many
    race (two tabs, two workers)."""
    cur = get_db().execute("UPDATE links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                           (int(time.time()), link.row["token_hash"], int(time.time())))
    return cur.rowcount == 1


def pending(kind, username=None):
    """Unused, unexpired links of `kind` (of one person, or everyone's), oldest first."""
    query = "SELECT username, created_at, expires_at FROM links WHERE kind = ? AND used_at IS NULL AND expires_at > ?"
    params = [kind, int(time.time())]
    if username is not None:
        query += " AND username = ?"
        params.append(username)
    return get_db().execute(query + " ORDER BY created_at", params).fetchall()


def void(username, kind=None):
    """Every unused link of `username` (of one kind, or all) stops working."""
    query = "UPDATE links SET expires_at = MIN(expires_at, ?) WHERE username = ? AND used_at IS NULL"
    params = [int(time.time()) - 1, username]
    if kind:
        query += " AND kind = ?"
        params.append(kind)
    get_db().execute(query, params)

