"""Upgrades: a database made by any earlier version of Latchkey is migrated on start to the newest
schema, and the people and tokens in it keep working. The schema files are discovered in idp/, so a
new schema_N.sql is covered without touching this file."""

import base64
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from helpers import PASSWORD, WEB_SECRET, login

import idp
from idp import create_app
from idp.db import MIGRATIONS, secret_hash

IDP = Path(idp.__file__).parent
#: Version 1 as the very first commit created it (its tokens table was widened, and the
#: login_failures table added, before version 2 existed; both kept the number 1).
FIRST_COMMIT_SCHEMA = Path(__file__).parent / "data" / "schema_1_first_commit.sql"


def schema_files():
    """idp/schema.sql, idp/schema_2.sql, schema_3.sql, …: every version's file, in order."""
    numbered = {int(m.group(1)): p.name for p in IDP.glob("schema_*.sql")
                if (m := re.fullmatch(r"schema_(\d+)\.sql", p.name))}
    assert sorted(numbered) == list(range(2, len(numbered) + 2)), f"a gap in the schema files: {sorted(numbered)}"
    return ["schema.sql"] + [numbered[n] for n in sorted(numbered)]


NEWEST = len(schema_files())


def test_every_schema_file_is_a_migration_in_order():
    assert MIGRATIONS == schema_files()


def database_at(path, version, first=None):
    """A database as Latchkey at schema `version` left it: the files up to it, user_version set."""
    conn = sqlite3.connect(path)
    scripts = [first or (IDP / "schema.sql").read_text(encoding="utf-8")]
    scripts += [(IDP / name).read_text(encoding="utf-8") for name in schema_files()[1:version]]
    for script in scripts:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    return conn


def put_old_rows(conn):
    """alice with a password and a group, and the app "web"'s live access and refresh token of hers,
    written with version 1's columns only, as that version stored them (argon2id hash; tokens as
    SHA-256 hex)."""
    now = int(time.time())
    password_hash = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID).hash(PASSWORD)
    conn.execute("INSERT INTO users (username, password_hash, email, name, created_at, updated_at)"
                 " VALUES ('alice', ?, 'alice@example.org', 'Alice Liddell', ?, ?)", (password_hash, now, now))
    conn.execute("INSERT INTO user_groups (username, group_name) VALUES ('alice', 'family')")
    access, refresh = "old-access-" + "a" * 32, "old-refresh-" + "r" * 32
    conn.execute(
        "INSERT INTO tokens (grant_id, client_id, username, scope, grant_scope, access_hash, access_expires_at,"
        " refresh_hash, refresh_expires_at, issued_at, auth_time)"
        " VALUES ('grant-1', 'web', 'alice', ?, ?, ?, ?, ?, ?, ?, ?)",
        ("openid profile email offline_access", "openid profile email offline_access", secret_hash(access),
         now + 900, secret_hash(refresh), now + 30 * 24 * 3600, now, now))
    conn.commit()
    conn.close()
    return access, refresh


def shape(path):
    """Every table's columns (name, type, not null, default, key) and every index's name."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {t: {tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        return columns, indexes
    finally:
        conn.close()


@pytest.fixture
def newest_shape(tmp_path, settings):
    create_app({**settings, "INSTANCE_PATH": str(tmp_path / "fresh")})
    return shape(tmp_path / "fresh" / "idp.sqlite3")


def start_on(settings, conn_maker):
    """Make the instance's database with `conn_maker(path)`, then start Latchkey on it."""
    os.makedirs(settings["INSTANCE_PATH"])
    path = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    rows = conn_maker(path)
    return create_app(settings), path, rows


def check_upgraded(app, path, newest_shape, tokens):
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == NEWEST
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    columns, indexes = shape(path)
    missing = {t: sorted(c[0] for c in want - columns.get(t, set())) for t, want in newest_shape[0].items()}
    missing = {t: c for t, c in missing.items() if c}
    assert not missing, f"columns missing after the upgrade: {missing}"
    assert (columns, indexes) == newest_shape
    client = app.test_client()
    # The person signs in with the password the old version stored.
    assert login(client).status_code == 303
    assert client.get("/account").status_code == 200
    # The app's tokens from before the upgrade still work: userinfo, then a refresh (rotation).
    access, refresh = tokens
    userinfo = client.get("/userinfo", headers={"Authorization": "Bearer " + access})
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json["sub"] == "alice" and userinfo.json["email"] == "alice@example.org"
    basic = "Basic " + base64.b64encode(f"web:{WEB_SECRET}".encode()).decode()
    refreshed = client.post("/token", headers={"Authorization": basic},
                            data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert refreshed.status_code == 200, refreshed.text
    assert client.get("/userinfo", headers={
        "Authorization": "Bearer " + refreshed.json["access_token"]}).json["sub"] == "alice"
    again = client.post("/token", headers={"Authorization": basic},
                        data={"grant_type": "refresh_token", "refresh_token": refreshed.json["refresh_token"]})
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("version", [1, NEWEST], ids=["as-left", "already-upgraded-by-an-earlier-start"])
def test_the_first_commits_version_1_database_upgrades_and_keeps_its_people_and_tokens(settings, newest_shape,
                                                                                        version):
    # "already upgraded": the files 2… were applied on top of it before version 1 was completed.
    first = FIRST_COMMIT_SCHEMA.read_text(encoding="utf-8")
    app, path, tokens = start_on(settings, lambda path: put_old_rows(database_at(path, version, first=first)))
    check_upgraded(app, path, newest_shape, tokens)


@pytest.mark.parametrize("version", range(1, NEWEST + 1))
def test_a_database_at_each_version_upgrades_and_keeps_its_people_and_tokens(settings, newest_shape, version):
    app, path, tokens = start_on(settings, lambda path: put_old_rows(database_at(path, version)))
    check_upgraded(app, path, newest_shape, tokens)


def test_an_upgrade_is_logged_and_a_second_start_changes_nothing(settings, caplog):
    caplog.set_level("INFO")
    start_on(settings, lambda path: database_at(path, 1).close())
    assert f"at schema version {NEWEST}" in caplog.text
    path = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    before = shape(path)
    caplog.clear()
    create_app(settings)
    assert "schema version" not in caplog.text
    assert shape(path) == before
