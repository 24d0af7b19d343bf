"""Codes, access tokens, refresh tokens and session ids are stored only as hashes; expired rows go."""

import time
from pathlib import Path

from idp.db import PURGE_BATCH, connect, purge_expired, secret_hash


def database_bytes(app):
    db = connect(app.config["DATABASE"])
    db.execute("PRAGMA wal_checkpoint(FULL)")
    db.close()
    wal = Path(app.config["DATABASE"] + "-wal")
    return Path(app.config["DATABASE"]).read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_no_code_or_token_is_stored_in_the_clear(flow, app):
    code, verifier = flow.code(scope="openid offline_access")
    tokens = flow.exchange(code, verifier).json
    data = database_bytes(app)
    for secret in (code, tokens["access_token"], tokens["refresh_token"]):
        assert secret.encode() not in data
        assert secret_hash(secret).encode() in data


def test_session_id_is_stored_as_a_hash(flow, app):
    rows = connect(app.config["DATABASE"]).execute("SELECT id_hash FROM sessions").fetchall()
    assert len(rows) == 1 and len(rows[0][0]) == 64


def test_purge_removes_expired_codes_sessions_and_dead_tokens(flow, app):
    alive = flow.tokens()
    flow.tokens(scope="openid")  # no refresh token: gone once the access token expires
    db = connect(app.config["DATABASE"])
    now = int(time.time())
    db.execute("UPDATE tokens SET access_expires_at = ?", (now - 1,))
    db.execute("UPDATE authorization_codes SET expires_at = ?", (now - 7200,))
    purge_expired(db, now)
    assert db.execute("SELECT COUNT(*) FROM authorization_codes").fetchone()[0] == 0
    remaining = db.execute("SELECT refresh_hash FROM tokens").fetchall()
    assert [r[0] for r in remaining] == [secret_hash(alive["refresh_token"])]
    db.execute("UPDATE sessions SET expires_at = ?", (now - 1,))
    db.execute("UPDATE tokens SET refresh_expires_at = ?", (now - 1,))
    purge_expired(db, now)
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_rotated_tokens_stay_while_their_grant_lives_so_reuse_is_caught(flow, app):
    first = flow.tokens()
    flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    db = connect(app.config["DATABASE"])
    now = int(time.time()) + 1000
    db.execute("UPDATE tokens SET access_expires_at = ?", (now - 1,))
    purge_expired(db, now)
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 2


def test_expired_rows_are_purged_while_serving(flow, app):
    flow.code()
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE authorization_codes SET expires_at = 0")
    app.extensions["latchkey_last_purge"] = 0  # the last purge is long ago
    response = flow.client.get("/.well-known/jwks.json")
    assert db.execute("SELECT COUNT(*) FROM authorization_codes").fetchone()[0] == 1  # nobody waits
    response.close()  # as the WSGI server does once the response is sent
    assert db.execute("SELECT COUNT(*) FROM authorization_codes").fetchone()[0] == 0


def dead_tokens(app, count):
    """`count` dead token rows (expired, no refresh token), as years of use leave behind."""
    db = connect(app.config["DATABASE"])
    now = int(time.time())
    db.executemany(
        "INSERT INTO tokens (grant_id, client_id, username, scope, grant_scope, access_hash, access_expires_at,"
        " issued_at, auth_time) VALUES (?, 'web', 'alice', 'openid', 'openid', ?, ?, 0, 0)",
        ((f"old{i}", f"hash{i}", now - 10) for i in range(count)))
    return db, now


def test_a_large_purge_goes_in_batches_and_keeps_live_grants(flow, app):
    alive = flow.tokens()
    db, now = dead_tokens(app, 3 * PURGE_BATCH + 7)
    purge_expired(db, now)
    remaining = db.execute("SELECT refresh_hash FROM tokens").fetchall()
    assert [r[0] for r in remaining] == [secret_hash(alive["refresh_token"])]


def test_a_backlog_is_purged_a_little_after_each_response_apart(flow, app, monkeypatch):
    import idp.db

    db, _ = dead_tokens(app, 3 * PURGE_BATCH)
    monkeypatch.setattr(idp.db, "PURGE_BUDGET", 0)  # one batch per response
    monkeypatch.setattr(idp.db, "PURGE_PAUSE", 0)
    app.extensions["latchkey_last_purge"] = 0
    left = []
    for _ in range(4):
        flow.client.get("/.well-known/jwks.json").close()
        left.append(db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0])
    assert left == [2 * PURGE_BATCH, PURGE_BATCH, 0, 0]


def test_a_backlog_pauses_between_bits(flow, app, monkeypatch):
    import idp.db

    db, _ = dead_tokens(app, 3 * PURGE_BATCH)
    monkeypatch.setattr(idp.db, "PURGE_BUDGET", 0)
    app.extensions["latchkey_last_purge"] = 0
    flow.client.get("/.well-known/jwks.json").close()
    flow.client.get("/.well-known/jwks.json").close()  # within PURGE_PAUSE: no purging
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 2 * PURGE_BATCH
    time.sleep(idp.db.PURGE_PAUSE)
    flow.client.get("/.well-known/jwks.json").close()
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == PURGE_BATCH



def test_a_transaction_inside_another_joins_it(app):
    """One commit for a whole step; a failure inside rolls all of it back."""
    import pytest

    from idp.db import get_db, transaction

    with app.app_context():
        db = get_db()
        db.execute("CREATE TABLE t (x INTEGER)")
        with pytest.raises(RuntimeError):
            with transaction():
                db.execute("INSERT INTO t VALUES (1)")
                with transaction():
                    db.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("the outer step fails")
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
        with transaction():
            with transaction():
                db.execute("INSERT INTO t VALUES (3)")
            assert db.in_transaction
        assert not db.in_transaction and db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
