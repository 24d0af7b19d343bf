"""SQLite storage: one connection per request on `g`, WAL mode, schema migrations by user_version."""

import contextlib
import hashlib
import logging
import os
import sqlite3
import time

from flask import current_app, g

from . import settings

log = logging.getLogger(__name__)

#: SQL files, each moving the schema one version up; PRAGMA user_version records how far a
#: database is. Add a file here to change the schema of existing installations.
MIGRATIONS = ["schema.sql", "schema_2.sql"]

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
    """Create or upgrade the database at `path`; return the list of versions applied."""
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        applied = []
        for number, name in enumerate(MIGRATIONS[version:], start=version + 1):
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{_read(name)}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(number)
        return applied
    finally:
        conn.close()


def get_db():
    """The request's connection, opened on first use."""
    if "latchkey_db" not in g:
        g.latchkey_db = connect(settings.current()["DATABASE"])
    return g.latchkey_db


def close_db(exc=None):
    db = g.pop("latchkey_db", None)
    if db is not None:
        db.close()


@contextlib.contextmanager
def transaction():
    """A short write transaction: takes the write lock at once so reads inside it are current."""
    db = get_db()
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


def purge_expired(db, now=None):
    """Delete expired codes, sessions and token rows whose every part has expired."""
    now = int(now or time.time())
    db.execute("DELETE FROM authorization_codes WHERE expires_at < ?", (now - 3600,))
    db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
    db.execute("DELETE FROM login_failures WHERE last_failure_at < ? AND blocked_until < ?", (now - 3600, now))
    db.execute(
        "DELETE FROM tokens WHERE access_expires_at < ?"
        " AND (refresh_expires_at IS NULL OR refresh_expires_at < ? OR rotated_at IS NOT NULL"
        "      OR revoked_at IS NOT NULL)"
        " AND grant_id NOT IN (SELECT grant_id FROM tokens WHERE refresh_expires_at >= ?"
        "                      AND rotated_at IS NULL AND revoked_at IS NULL)",
        (now, now, now),
    )


def purge_if_due():
    """Purge expired rows if the last purge in this process is older than PURGE_INTERVAL."""
    app = current_app
    now = time.time()
    if now - app.extensions.get("latchkey_last_purge", 0) < PURGE_INTERVAL:
        return
    app.extensions["latchkey_last_purge"] = now
    try:
        purge_expired(get_db(), now)
    except sqlite3.OperationalError as e:  # busy: try again next interval
        log.warning("purge of expired rows skipped: %s", e)


def init_app(app):
    app.teardown_appcontext(close_db)
