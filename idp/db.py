"""SQLite storage: one kept connection per worker, WAL mode, schema migrations by user_version."""

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time

from flask import current_app

from . import settings

log = logging.getLogger(__name__)

#: SQL files, each moving the schema one version up; PRAGMA user_version records how far a
#: database is. Add a file here to change the schema of existing installations.
MIGRATIONS = ["schema.sql", "schema_2.sql", "schema_3.sql", "schema_4.sql", "schema_5.sql", "schema_6.sql"]

#: How long a writer waits for another worker's lock before giving up (ms).
BUSY_TIMEOUT_MS = 5000
#: Expired rows are purged at most this often (s).
PURGE_INTERVAL = 600


def _read(name):
    with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as f:
        return f.read()


def connect(path):
    """Open a connection in autocommit mode with WAL, foreign keys and a busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def migrate(path):
    """Create or upgrade the database at `path`; return the list of versions applied.

    Each step runs in its own write transaction and reads the version inside it: gunicorn's
    workers start together, and a step another worker has just applied is not applied twice."""
    # A new database is private to this user, as the keys are (it holds password hashes and
    # e-mail addresses); SQLite gives its -wal and -shm files the database file's mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    conn = connect(path)
    try:
        _use_wal(conn)
        applied = []
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version >= 1:
                    _complete_version_1(conn)
                if version >= len(MIGRATIONS):
                    conn.execute("COMMIT")
                    return applied
                for statement in _statements(_read(MIGRATIONS[version])):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(version + 1)
    finally:
        conn.close()


def _complete_version_1(conn):
    """Version 1 grew twice before version 2 existed (the tokens' parent_id and access_revoked_at
    columns, the login_failures table), so a database made by the first release says version 1
    without them: add what is missing. Idempotent; a no-op on every other database."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(tokens)")}
    if "parent_id" not in columns:
        conn.execute("ALTER TABLE tokens ADD COLUMN parent_id INTEGER")
        conn.execute("CREATE INDEX IF NOT EXISTS tokens_parent_id ON tokens (parent_id)")
    if "access_revoked_at" not in columns:
        conn.execute("ALTER TABLE tokens ADD COLUMN access_revoked_at INTEGER")
    conn.execute("CREATE TABLE IF NOT EXISTS login_failures (key TEXT PRIMARY KEY, failures INTEGER NOT NULL,"
                 " last_failure_at REAL NOT NULL, blocked_until REAL NOT NULL)")


def _use_wal(conn):
    """Switch the database to WAL. The switch needs the database to itself and SQLite answers
    "locked" at once, without its busy timeout, while another worker makes the same switch; so
    wait here as the busy timeout would."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _statements(script):
    """Split an SQL script into its statements (executescript would commit the open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


#: Connections kept open, per thread: {database path: connection}. Opening one costs more than
#: most requests (the schema is parsed again; closing the last one checkpoints the WAL), so each
#: worker keeps its own.
_kept = threading.local()
_inherited = []


def _forget_parents_connections():
    """A forked child must not use, nor close, its parent's connections (SQLite: "How To Corrupt
    An SQLite Database File" §2.6); they are set aside untouched."""
    global _kept
    _inherited.append(_kept)
    _kept = threading.local()


os.register_at_fork(after_in_child=_forget_parents_connections)

#: At most this many databases per thread (several only in tests, one Latchkey per test).
KEEP_AT_MOST = 4


def get_db():
    """This worker's connection, opened on first use and kept for its next requests."""
    path = settings.current()["DATABASE"]
    kept = _kept.__dict__.setdefault("connections", {})
    db = kept.get(path)
    if db is None:
        while len(kept) >= KEEP_AT_MOST:
            kept.pop(next(iter(kept))).close()
        db = kept[path] = connect(path)
    return db


def end_request(exc=None):
    """Nothing a request started stays open: a transaction left by an error is rolled back."""
    db = _kept.__dict__.get("connections", {}).get(settings.current()["DATABASE"])
    if db is not None and db.in_transaction:
        db.execute("ROLLBACK")


@contextlib.contextmanager
def transaction():
    """A short write transaction: takes the write lock at once so reads inside it are current.
    Inside another one it joins the outer transaction (one commit for the whole step)."""
    db = get_db()
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def secret_hash(value):
    """The stored form of a code, token or session id: SHA-256, hex. These are random 256-bit
    values, so a fast hash is enough (no dictionary to guess from)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


#: Rows deleted per statement: each batch is its own short write, so other workers' requests
#: wait at most one batch for the lock.
PURGE_BATCH = 100
#: Seconds of purging after one response, at most (plus one batch), and the pause before a
#: backlog goes on: a worker spends at most about a fifth of its time on a backlog.
PURGE_BUDGET = 0.05
PURGE_PAUSE = 0.25


def _purges(now):
    """(table, condition, parameters) of every kind of expired row."""
    return [
        ("authorization_codes", "expires_at < ?", (now - 3600,)),
        ("sessions", "expires_at < ?", (now,)),
        # Used and expired links are kept a week, so "this link was already used" can be told apart.
        ("links", "expires_at < ?", (now - 7 * 24 * 3600,)),
        ("login_failures", "last_failure_at < ? AND blocked_until < ?", (now - 3600, now)),
        ("passkey_challenges_used", "expires_at < ?", (now,)),
        # The apps of a session are remembered while it lives (schema_5.sql); notices that could not be
        # sent in a day were given up by their sender, unless every worker was down all that time.
        ("session_clients", "NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.sid = session_clients.sid)", ()),
        ("logout_notices", "created_at < ?", (now - 2 * 24 * 3600,)),
        # Machines and devices (schema_6.sql): a device code is kept an hour past its end, so a late poll
        # still hears expired_token; a used jti is kept until its assertion could no longer be accepted.
        ("client_tokens", "expires_at < ?", (now,)),
        ("device_codes", "expires_at < ?", (now - 3600,)),
        ("client_assertion_jtis", "expires_at < ?", (now,)),
        # A token row goes when its access token and its refresh token are both dead, and no
        # refresh token of its grant lives on (rotated rows are kept for reuse detection).
        ("tokens", "access_expires_at < ?"
                   " AND (refresh_expires_at IS NULL OR refresh_expires_at < ? OR rotated_at IS NOT NULL"
                   "      OR revoked_at IS NOT NULL)"
                   " AND NOT EXISTS (SELECT 1 FROM tokens AS live WHERE live.grant_id = tokens.grant_id"
                   "                 AND live.refresh_expires_at >= ? AND live.rotated_at IS NULL"
                   "                 AND live.revoked_at IS NULL)", (now, now, now)),
    ]


def purge_expired(db, now=None, budget=None):
    """Delete expired codes, sessions, throttle counts and dead token rows, in batches. With a
    `budget` (seconds), stop after the batch that passes it; return True when nothing due is left."""
    now = int(now or time.time())
    started = time.monotonic()
    for table, condition, params in _purges(now):
        while db.execute(f"DELETE FROM {table} WHERE rowid IN"
                         f" (SELECT rowid FROM {table} WHERE {condition} LIMIT {PURGE_BATCH})",
                         params).rowcount == PURGE_BATCH:
            if budget is not None and time.monotonic() - started > budget:
                return False
    return True


def purge_when_due(response):
    """Once per PURGE_INTERVAL in each worker, purge expired rows after this response has been
    sent (WSGI close), so no request waits for it. A large backlog (say, after a long downtime)
    goes PURGE_BUDGET seconds at a time, PURGE_PAUSE apart, so the worker stays free to serve."""
    app = current_app._get_current_object()
    now = time.time()
    if now - app.extensions.get("latchkey_last_purge", 0) < PURGE_INTERVAL:
        return response
    app.extensions["latchkey_last_purge"] = now

    def purge():
        with app.app_context():
            try:
                if not purge_expired(get_db(), now, budget=PURGE_BUDGET):
                    # More to do: go on after a response PURGE_PAUSE seconds from now.
                    app.extensions["latchkey_last_purge"] = now - PURGE_INTERVAL + PURGE_PAUSE
            except sqlite3.Error as e:  # busy: the next interval tries again
                log.warning("purge of expired rows skipped: %s", e)

    response.call_on_close(purge)
    return response


def init_app(app):
    app.teardown_appcontext(end_request)
