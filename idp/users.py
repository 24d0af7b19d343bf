"""People who can sign in: storage, passwords (argon2id) and the disable/remove rules."""

import logging
import re
import time

from argon2.exceptions import InvalidHashError
from flask import current_app

from . import links, passwords, signout
from .db import get_db, transaction

log = logging.getLogger(__name__)

PROFILE_FIELDS = ("email", "name", "given_name", "family_name", "locale", "picture")


class User:
    """A row of the users table with its groups."""

    def __init__(self, row, groups):
        self.username = row["username"]
        self.password_hash = row["password_hash"]
        self.disabled = bool(row["disabled"])
        self.invited = bool(row["invited"])  # has not followed their join link yet
        self.updated_at = row["updated_at"]
        self.created_at = row["created_at"]
        self.last_sign_in_at = row["last_sign_in_at"]
        for field in PROFILE_FIELDS:
            setattr(self, field, row[field])
        self.groups = groups

    def get_user_id(self):
        """Authlib's name for the subject: the username (OIDC Core §2: `sub` is a string)."""
        return self.username


class UserError(Exception):
    """A user command cannot be carried out; the message says why."""


# The one profile for new usernames. Why plain ASCII rather than RFC 8265 §3.3 (UsernameCaseMapped):
# that profile allows letters of every script, so Latin "alice" and Cyrillic "аlice" would be two
# people who look the same; and the username is the `sub` (OIDC Core §2) every app stores forever.
# A household gains nothing from non-ASCII logins: the display name (`name`) can hold any script.
# Sign-in compares case-insensitively (ASCII case folding: SQLite's COLLATE NOCASE).
USERNAME_RULE = ("a username is 1 to 64 characters from lower-case a-z, digits 0-9, '.', '_' and '-',"
                 " starting with a letter or digit")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def username_problem(name):
    """None if `name` fits the profile for new usernames; otherwise a message saying why not."""
    if USERNAME_RE.fullmatch(name or ""):
        return None
    if not name:
        return f"the username is empty: {USERNAME_RULE}"
    hidden = dict.fromkeys(f"U+{ord(c):04X}" for c in name if not (c.isascii() and c.isprintable()))
    if hidden:
        return (f"the username contains invisible or non-ASCII characters ({', '.join(hidden)}):"
                f" {USERNAME_RULE}")
    if len(name) > 64:
        return f"the username has {len(name)} characters, more than 64: {USERNAME_RULE}"
    if USERNAME_RE.fullmatch(name.lower()):
        return f"usernames are lower case: use {name.lower()!r}"
    others = dict.fromkeys(repr(c) for c in name.lower() if c not in _USERNAME_CHARS)
    if others:
        return (f"the username {name!r} contains characters that are not allowed ({', '.join(others)}):"
                f" {USERNAME_RULE}")
    return f"the username {name!r} does not start with a letter or digit: {USERNAME_RULE}"


# An address of the usual shape (RFC 5322's addr-spec is far wider; a household needs no quoted
# local parts). Whether it receives mail is not checked.
EMAIL_RE = re.compile(r"[^@\s\"<>(),;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")


def email_problem(email):
    """None if `email` looks like an address (name@example.org); otherwise a message."""
    if email and len(email) <= 254 and EMAIL_RE.fullmatch(email):
        return None
    return f"{email!r} is not an email address such as name@example.org"


def _hasher():
    app = current_app
    if "latchkey_hasher" not in app.extensions:
        app.extensions["latchkey_hasher"] = passwords.hasher(app.extensions["latchkey_settings"])
    return app.extensions["latchkey_hasher"]


def active(user):
    """`user` if they may use Latchkey now; None when removed, disabled or not yet joined (their
    sessions and tokens are then dead wherever they are presented)."""
    return user if user is not None and not user.disabled and not user.invited else None


def get_user(username):
    """The user called `username`, or None."""
    db = get_db()
    row = db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        return None
    groups = [
        r[0]
        for r in db.execute(
            "SELECT group_name FROM user_groups WHERE username = ? ORDER BY group_name", (username,)
        )
    ]
    return User(row, groups)


def list_users():
    return [get_user(r[0]) for r in get_db().execute("SELECT username FROM users ORDER BY username")]


def add_user(username, password, email, groups=(), invited=False, **profile):
    """Create a user; raise UserError if the name breaks the profile or is taken, by a user or a
    removed user, in any case (usernames are never reassigned). An invited user has no password
    (`password` None) until they join."""
    problem = username_problem(username) or email_problem(email)
    if problem:
        raise UserError(problem)
    # Before the write lock: argon2 takes a while. "" is no password: no argon2 hash matches it.
    password_hash = _hasher().hash(password) if password is not None else ""
    now = int(time.time())
    fields = {f: profile.get(f) for f in PROFILE_FIELDS if f != "email"}
    with transaction() as db:
        taken = db.execute("SELECT username FROM users WHERE username = ? COLLATE NOCASE",
                           (username,)).fetchone()
        if taken:
            raise UserError(f"user {taken[0]!r} already exists (usernames are never reassigned, and"
                            " names differing only in case are the same username)")
        removed = db.execute("SELECT username FROM removed_usernames WHERE username = ? COLLATE NOCASE",
                             (username,)).fetchone()
        if removed:
            raise UserError(f"the username {removed[0]!r} belonged to a removed user; apps know it as"
                            " theirs, so it (in any case) is never given to anyone else")
        db.execute(
            "INSERT INTO users (username, password_hash, email, name, given_name, family_name,"
            " locale, picture, created_at, updated_at, invited) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (username, password_hash, email, fields["name"], fields["given_name"],
             fields["family_name"], fields["locale"], fields["picture"], now, now, int(invited)),
        )
        db.executemany(
            "INSERT OR IGNORE INTO user_groups (username, group_name) VALUES (?, ?)",
            [(username, g) for g in groups],
        )


def _require(username):
    user = get_user(username)
    if user is None:
        raise UserError(f"no user called {username!r}")
    return user


def set_password(username, password, keep_session=None, claim=None):
    """Change a password (an invited person joins this way); every session (but `keep_session`, a
    session id hash) and every token of the user ends. `claim`, when given, runs first in the same
    transaction (a one-time link's claim) and the change happens only if it returns True."""
    _require(username)
    password_hash = _hasher().hash(password)
    with transaction() as db:
        if claim is not None and not claim():
            return False
        db.execute(
            "UPDATE users SET password_hash = ?, invited = 0, updated_at = ? WHERE username = ?",
            (password_hash, int(time.time()), username),
        )
        end_everything(db, username, keep_session, reason="password_changed")
        links.void(username)  # a new password, however set, makes every older link void
    return True


def edit_user(username, add_groups=(), remove_groups=(), **changes):
    """Change profile fields (None: unchanged; "" clears an optional one) and groups; `updated_at`
    moves on, so apps see the change in the next token or userinfo answer."""
    _require(username)
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise UserError(f"cannot change {', '.join(sorted(unknown))}")
    if "email" in changes and (problem := email_problem(changes["email"])):
        raise UserError(problem)
    values = {k: (v if v != "" else None) for k, v in changes.items()}
    with transaction() as db:
        for field, value in values.items():  # field names come from PROFILE_FIELDS only
            db.execute(f"UPDATE users SET {field} = ? WHERE username = ?", (value, username))
        db.executemany("INSERT OR IGNORE INTO user_groups (username, group_name) VALUES (?, ?)",
                       [(username, g) for g in add_groups])
        db.executemany("DELETE FROM user_groups WHERE username = ? AND group_name = ?",
                       [(username, g) for g in remove_groups])
        db.execute("UPDATE users SET updated_at = ? WHERE username = ?", (int(time.time()), username))
        if "email" in values:
            links.void(username)  # a link mailed to a mistyped address must not stay usable


def list_groups():
    """{group name: [member usernames]}, sorted."""
    groups = {}
    for row in get_db().execute("SELECT group_name, username FROM user_groups ORDER BY group_name, username"):
        groups.setdefault(row[0], []).append(row[1])
    return groups


def record_sign_in(username, now=None):
    get_db().execute("UPDATE users SET last_sign_in_at = ? WHERE username = ?", (int(now or time.time()), username))


def set_disabled(username, disabled):
    """Disable or enable a user; disabling ends their sessions and revokes their tokens at once."""
    _require(username)
    with transaction() as db:
        db.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username))
        if disabled:
            end_everything(db, username, reason="user_disabled")
            links.void(username)


def remove_user(username):
    """Delete a user with their sessions, codes, tokens and links (ON DELETE CASCADE). The name is
    retired, unless they never joined: then no app has seen it."""
    user = _require(username)
    with transaction() as db:
        end_sessions(db, username, reason="user_removed")  # the apps hear of it (signout.py)
        db.execute("DELETE FROM users WHERE username = ?", (username,))
        if not user.invited:
            db.execute("INSERT INTO removed_usernames (username, removed_at) VALUES (?, ?)",
                       (username, int(time.time())))


def end_sessions(db, username, keep_session=None, reason="sessions_ended"):
    """End every browser session of `username` but `keep_session` (a session id hash, or None), in the
    transaction `db`; the apps of those sessions are told (signout.py)."""
    signout.end_where("username = ? AND id_hash IS NOT ?", (username, keep_session), reason)


def end_everything(db, username, keep_session=None, reason="sessions_ended"):
    """End every browser session (but `keep_session`) and revoke every token of `username`."""
    end_sessions(db, username, keep_session, reason)
    db.execute(
        "UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
        (int(time.time()), username),
    )


def _sign_in_user(username):
    """The user a typed username means: the exact match, else the one user whose name differs
    only in ASCII case (COLLATE NOCASE); None when there is none, or several (legacy names)."""
    if not username:
        return None
    user = get_user(username)
    if user is None:
        rows = get_db().execute("SELECT username FROM users WHERE username = ? COLLATE NOCASE LIMIT 2",
                                (username,)).fetchall()
        user = get_user(rows[0][0]) if len(rows) == 1 else None
    return user


def authenticate(username, password):
    """(user, None) for the enabled user with this username (in any case) and password; otherwise
    (None, why) for the audit log: unknown_user, invited_user, wrong_password or disabled_user.
    Every case costs one argon2 run, so timing does not tell them apart."""
    ph = _hasher()
    user = _sign_in_user(username)
    ok = passwords.verify(ph, user.password_hash if user and user.password_hash else _dummy_hash(ph), password)
    if user is None:
        return None, "unknown_user"
    if user.invited:
        return None, "invited_user"
    if not ok:
        return None, "wrong_password"
    if user.disabled:
        return None, "disabled_user"
    try:
        needs_rehash = ph.check_needs_rehash(user.password_hash)
    except InvalidHashError:
        needs_rehash = True
    if needs_rehash:
        get_db().execute(
            "UPDATE users SET password_hash = ? WHERE username = ?", (ph.hash(password), user.username)
        )
        log.info("rehashed the password of %s with the current argon2 parameters", user.username)
    return user, None


def check_password(user, password):
    """True when `password` is the user's current password."""
    return passwords.verify(_hasher(), user.password_hash, password)


def _dummy_hash(ph):
    app = current_app
    if "latchkey_dummy_hash" not in app.extensions:
        app.extensions["latchkey_dummy_hash"] = ph.hash("not a password anyone has")
    return app.extensions["latchkey_dummy_hash"]
