"""First start, settings, and the errors a person sees when the instance or database is unusable."""

import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from idp import StartupError, create_app
from idp.db import MIGRATIONS, _read
from idp.settings import SettingsError, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_first_start_creates_instance_database_key_and_secret(settings, caplog):
    caplog.set_level("INFO")
    create_app(settings)
    instance = settings["INSTANCE_PATH"]
    key = os.path.join(instance, "signing_key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(instance, "session_secret")).st_mode) == 0o600
    db = sqlite3.connect(os.path.join(instance, "idp.sqlite3"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for name in ("idp.sqlite3", "idp.sqlite3-wal", "idp.sqlite3-shm"):  # password hashes, e-mail addresses
        assert stat.S_IMODE(os.stat(os.path.join(instance, name)).st_mode) == 0o600, name
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    for what in ("created instance folder", f"schema version {len(MIGRATIONS)}", "RSA-2048 signing key", "session secret"):
        assert what in caplog.text


def test_a_database_of_an_older_version_is_upgraded_in_place(settings):
    os.makedirs(settings["INSTANCE_PATH"])
    path = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    old = sqlite3.connect(path)
    old.executescript(_read("schema.sql") + "PRAGMA user_version = 1;")
    old.execute("INSERT INTO users (username, password_hash, email, created_at, updated_at)"
                " VALUES ('alice', 'x', 'alice@example.org', 0, 0)")
    old.commit()
    old.close()
    create_app(settings)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT username FROM users").fetchall() == [("alice",)]
    assert db.execute("SELECT COUNT(*) FROM removed_usernames").fetchone()[0] == 0


def test_second_start_reuses_key_and_secret(settings):
    first = create_app(settings)
    second = create_app(settings)
    assert first.secret_key == second.secret_key
    assert first.extensions["latchkey_key"].as_dict() == second.extensions["latchkey_key"].as_dict()


STARTER = """
import json, os, sys, time
from idp import create_app
settings, ready, go = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
try:
    app = create_app(settings)
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
else:
    print(json.dumps({"key": app.extensions["latchkey_key"].as_dict(private=False), "secret": app.secret_key}))
"""


@pytest.mark.parametrize("attempt", range(3))
def test_workers_starting_together_on_a_new_instance_agree_on_everything(settings, tmp_path, attempt):
    # The server's workers each import the app at the same moment: on a first start they race to
    # create the instance folder, the database and the keys. Eight processes, released at once.
    import json

    go = tmp_path / "go"
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, json.dumps(settings), str(tmp_path / f"ready-{i}"),
                                  str(go)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for i in range(8)]
    while not all((tmp_path / f"ready-{i}").exists() for i in range(8)):
        assert all(p.poll() is None for p in starters), [p.communicate()[0] for p in starters]
        time.sleep(0.01)
    go.touch()
    answers = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in starters]
    assert [a.get("error") for a in answers] == [None] * 8
    assert len({json.dumps(a["key"]) for a in answers}) == 1
    assert len({a["secret"] for a in answers}) == 1
    instance = settings["INSTANCE_PATH"]
    assert sorted(n for n in os.listdir(instance) if not n.startswith("idp.sqlite3")) == ["session_secret",
                                                                                          "signing_key.pem"]
    db = sqlite3.connect(os.path.join(instance, "idp.sqlite3"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_foreign_keys_are_on(app):
    from idp.db import connect

    assert connect(app.config["DATABASE"]).execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_settings_order_defaults_config_env(tmp_path):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.toml").write_text('ISSUER = "https://from-config.example"\nAUTH_CODE_TTL = 30\n')
    settings = load(environ={"IDP_INSTANCE_PATH": str(instance), "IDP_AUTH_CODE_TTL": "45"})
    assert settings["ISSUER"] == "https://from-config.example"
    assert settings["AUTH_CODE_TTL"] == 45 and settings["SESSION_TTL"] == 14 * 24 * 3600
    assert settings["DATABASE"] == str(instance / "idp.sqlite3")


@pytest.mark.parametrize("environ, message", [
    ({"IDP_ISSUR": "x"}, "unknown setting ISSUR (did you mean ISSUER?)"),
    ({"IDP_ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL must be a whole number, not 'soon'"),
    ({"IDP_AUTH_CODE_TTL": "0"}, "AUTH_CODE_TTL must be at least 1"),
])
def test_bad_settings_are_named(tmp_path, environ, message):
    with pytest.raises(SettingsError) as e:
        load(environ={"IDP_INSTANCE_PATH": str(tmp_path), **environ})
    assert message in str(e.value)


def test_broken_config_toml_is_named(tmp_path):
    (tmp_path / "config.toml").write_text("ISSUER = \n")
    with pytest.raises(SettingsError, match="config.toml: "):
        load(environ={"IDP_INSTANCE_PATH": str(tmp_path)})


def test_instance_folder_that_cannot_be_created_is_a_clear_error(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StartupError, match="cannot create the instance folder .*: Not a directory"):
        create_app({**settings, "INSTANCE_PATH": str(blocker / "instance")})
    with pytest.raises(StartupError, match="cannot create the instance folder .*: a file of that name is in the way"):
        create_app({**settings, "INSTANCE_PATH": str(blocker)})


def test_broken_clients_file_refuses_to_start_with_file_and_line(settings, clients_file):
    clients_file.write_text("[[clients]]\nclient_id = 'a'\nredirect_uris = ['http://a.example/cb']\n")
    with pytest.raises(StartupError) as e:
        create_app(settings)
    assert f"{clients_file}:3: 'http://a.example/cb': http is only allowed" in str(e.value)


def test_flask_run_prints_the_problem_and_exits(tmp_path, clients_file):
    clients_file.write_text("[[clients]\n")
    env = {**os.environ, "IDP_CLIENTS_FILE": str(clients_file), "IDP_INSTANCE_PATH": str(tmp_path / "i")}
    result = subprocess.run([sys.executable, "-m", "flask", "run", "--port", "0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Latchkey cannot start: clients file is invalid:\n{clients_file}:1: TOML syntax error" in result.stderr


def test_a_locked_database_gives_a_busy_answer_and_loses_nothing(flow, app):
    """Another process holds the write lock past the busy timeout: the app says so, 503.
    (Readers are never blocked in WAL mode; writes are what can wait.)"""
    import idp.db

    code, verifier = flow.code()
    browser = app.test_client()
    login_page = browser.get("/login")
    blocker = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    old = idp.db.BUSY_TIMEOUT_MS
    idp.db.BUSY_TIMEOUT_MS = 200
    try:
        response = flow.exchange(code, verifier)
        from helpers import PASSWORD, csrf_token

        page = browser.post("/login", data={"username": "alice", "password": PASSWORD,
                                            "csrf_token": csrf_token(login_page.text)})
    finally:
        idp.db.BUSY_TIMEOUT_MS = old
        blocker.execute("ROLLBACK")
    assert response.status_code == 503 and response.json["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"] == "1"
    assert page.status_code == 503 and "Latchkey is busy" in page.text
    # nothing was lost: the code is still unused and works now
    assert flow.exchange(code, verifier).status_code == 200


@pytest.mark.parametrize("issuer", ["http://id.example.org", "not a url", "https://id.example.org/?x=1"])
def test_a_bad_issuer_stops_the_start(settings, issuer):
    with pytest.raises(StartupError, match="ISSUER must"):
        create_app({**settings, "ISSUER": issuer})
