"""Ending browser sessions, and what that sets off. Every way a session ends goes through `end_where`
(signing out here or through an app, "sign out everywhere", "End" on the account page, a password
change, disabling, removing or resetting the person): in the same transaction as the session's row,

- each app the session signed in to is queued a logout notice, if it registered a
  backchannel_logout_uri (backchannel_logout.py; Back-Channel Logout 1.0 §2.3, §2.7);
- the refresh tokens of apps with refresh_token_lifetime = "session" end (their grants are revoked);
- codes of the session not yet exchanged die, so no app gets tokens for it afterwards.

It returns what ended, so that the browser's own signed-out page can load the front-channel frames of
its session (frontchannel_logout.py). A session that merely expires tells nobody (the specs ask for
notices on logout)."""

import time
from typing import NamedTuple

from flask import current_app

from . import audit, backchannel_logout
from .db import transaction


class Ended(NamedTuple):
    """A session that has just ended: its `sid`, its person and the apps it signed in to."""

    sid: str
    username: str
    client_ids: tuple


def end_where(condition, params, reason):
    """End the sessions matching the SQL `condition` (with `params`); return them as Ended records.
    `reason` goes into the audit log and the notices' rows."""
    now = int(time.time())
    registry = current_app.extensions["latchkey_clients"]
    ended = []
    with transaction() as db:
        for row in db.execute(f"SELECT sid, username FROM sessions WHERE {condition}", params).fetchall():
            sid, username = row["sid"], row["username"]
            client_ids = tuple(r[0] for r in db.execute(
                "SELECT client_id FROM session_clients WHERE sid = ? ORDER BY client_id", (sid,)))
            for client_id in client_ids:
                client = registry.get(client_id)
                if client is None:
                    # Not in the whitelist this process read: an app since removed, or a `flask user …`
                    # command that could not read clients.toml. Queued all the same: the sender looks
                    # the address up when it sends, in the server's whitelist, and drops the notice of
                    # an app that has none (a command must not silently tell no app).
                    backchannel_logout.queue(db, client_id, username, sid, reason, now)
                    continue
                if client.backchannel_logout_uri:
                    backchannel_logout.queue(db, client_id, username, sid, reason, now)
                if client.refresh_token_lifetime == "session":
                    revoked = db.execute("UPDATE tokens SET revoked_at = ? WHERE username = ? AND sid = ?"
                                         " AND client_id = ? AND revoked_at IS NULL",
                                         (now, username, sid, client_id)).rowcount
                    audit.event("session_tokens_revoked", client=client_id, user=username, sid=sid, tokens=revoked)
            if sid is not None:
                # A handful of rows: codes live AUTH_CODE_TTL and are purged within the hour.
                db.execute("DELETE FROM authorization_codes WHERE sid = ? AND used_at IS NULL", (sid,))
                db.execute("DELETE FROM session_clients WHERE sid = ?", (sid,))
            ended.append(Ended(sid, username, client_ids))
        db.execute(f"DELETE FROM sessions WHERE {condition}", params)
    return ended
