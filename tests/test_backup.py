"""`flask db backup PATH` (idp/backup.py): an online copy of the database taken while the real server
keeps answering, restored as the README says on a second server where the tokens issued before the
backup still work; and what it refuses, with a message and no traceback."""

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from helpers import FAST_ARGON2, PASSWORD, ROOT, LiveServer, browser_sign_in, pkce_pair

SPA = {"client_id": "spa", "redirect_uri": "http://127.0.0.1:5173/cb"}
KEYS = ("signing_key.pem", "session_secret")


def sign_in_tokens(server, scope="openid profile offline_access"):
    verifier, challenge = pkce_pair()
    callback = browser_sign_in(requests.Session(), server.url + "/authorize?" + urlencode({
        "response_type": "code", "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256", **SPA}))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = requests.post(server.url + "/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, **SPA})
    assert response.status_code == 200, response.text
    return response.json()


def refresh(server, refresh_token):
    return requests.post(server.url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "spa"})


def userinfo(server, access_token):
    return requests.get(server.url + "/userinfo", headers={"Authorization": "Bearer " + access_token})


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Traffic(threading.Thread):
    """An app refreshing its tokens and calling userinfo, over and over, until stopped."""

    def __init__(self, server, tokens):
        super().__init__()
        self.server, self.tokens, self.statuses, self.done = server, tokens, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            response = refresh(self.server, self.tokens["refresh_token"])
            self.statuses.append(response.status_code)
            if response.status_code != 200:
                return
            self.tokens = response.json()
            self.statuses.append(userinfo(self.server, self.tokens["access_token"]).status_code)

    def wait_for(self, count):
        deadline = time.time() + 30
        while len(self.statuses) < count and self.is_alive() and time.time() < deadline:
            time.sleep(0.01)

    def stop(self):
        self.done.set()
        self.join(timeout=30)


def test_a_backup_taken_while_serving_restores_with_working_tokens(tmp_path):
    (tmp_path / "first").mkdir()
    server = LiveServer(tmp_path / "first", workers=2)
    try:
        added = server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                             input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        before = sign_in_tokens(server)  # the app that will find its tokens working after the restore
        traffic = Traffic(server, sign_in_tokens(server))
        traffic.start()
        try:
            traffic.wait_for(10)
            backup = tmp_path / "backups" / "latchkey.sqlite3"
            backup.parent.mkdir()
            # What was written lately is still in the -wal file: the backup must take it too.
            assert (Path(server.env["IDP_INSTANCE_PATH"]) / "idp.sqlite3-wal").stat().st_size > 0
            result = server.flask("db", "backup", "--with-keys", str(backup))
            count = len(traffic.statuses)
            traffic.wait_for(count + 10)  # and it goes on answering after the backup
        finally:
            traffic.stop()
        instance = Path(server.env["IDP_INSTANCE_PATH"])
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith(f"wrote {backup}: ")
    assert "integrity check ok" in result.stdout and "1 person" in result.stdout
    assert all(status == 200 for status in traffic.statuses) and len(traffic.statuses) >= 20, traffic.statuses
    # One self-contained file (nothing beside it), private like the database, and the keys beside it.
    assert sorted(p.name for p in backup.parent.iterdir()) == sorted(
        ["latchkey.sqlite3"] + [f"latchkey.sqlite3.{name}" for name in KEYS])
    for path in backup.parent.iterdir():
        assert mode(path) == 0o600, path
        assert f"wrote {path}" in result.stdout
    for name in KEYS:
        assert (backup.parent / f"latchkey.sqlite3.{name}").read_bytes() == (instance / name).read_bytes()

    # The README's restore: a new instance folder with the backup as idp.sqlite3 and the same keys.
    (tmp_path / "restored").mkdir()
    restored = tmp_path / "restored" / "live-instance"
    restored.mkdir(mode=0o700)
    shutil.copy(backup, restored / "idp.sqlite3")
    for name in KEYS:
        shutil.copy(backup.parent / f"latchkey.sqlite3.{name}", restored / name)
    server = LiveServer(tmp_path / "restored", workers=2)
    try:
        assert Path(server.env["IDP_INSTANCE_PATH"]) == restored
        answer = userinfo(server, before["access_token"])
        assert answer.status_code == 200 and answer.json()["sub"] == "alice", answer.text
        refreshed = refresh(server, before["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        assert userinfo(server, refreshed.json()["access_token"]).json()["sub"] == "alice"
        sign_in_tokens(server)  # and alice signs in there with her password
    finally:
        server.stop()
    for name in KEYS:  # the restored server used the keys it was given, and made none
        assert (restored / name).read_bytes() == (instance / name).read_bytes()


@pytest.fixture
def flask_command(app, settings):
    """`flask …` as an admin runs it, in a process of its own, on the instance of `app`."""
    env = {**os.environ, "IDP_INSTANCE_PATH": settings["INSTANCE_PATH"], "IDP_CLIENTS_FILE": settings["CLIENTS_FILE"],
           "IDP_ISSUER": settings["ISSUER"], **{f"IDP_{k}": str(v) for k, v in FAST_ARGON2.items()}}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)

    return run


def refused(result, message):
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout, result.stderr


def test_without_keys_it_names_the_key_files_to_back_up(flask_command, settings, tmp_path):
    target = tmp_path / "copy.sqlite3"
    result = flask_command("db", "backup", str(target))
    assert result.returncode == 0, result.stderr
    instance = settings["INSTANCE_PATH"]
    assert "not in this backup: " in result.stdout
    for name in KEYS:
        assert os.path.join(instance, name) in result.stdout
    assert mode(target) == 0o600
    assert not any(name.startswith("copy.sqlite3.") for name in os.listdir(tmp_path))


def test_it_never_replaces_a_file_unless_forced(flask_command, tmp_path):
    target = tmp_path / "copy.sqlite3"
    target.write_text("last week's backup")
    target.chmod(0o644)
    refused(flask_command("db", "backup", str(target)), f"{target} exists: give another name, or --force")
    assert target.read_text() == "last week's backup"
    keys_in_the_way = tmp_path / "other.sqlite3"
    (tmp_path / "other.sqlite3.session_secret").write_text("older")
    refused(flask_command("db", "backup", "--with-keys", str(keys_in_the_way)), "other.sqlite3.session_secret exists")
    assert not keys_in_the_way.exists()  # nothing written when any one of them is in the way
    forced = flask_command("db", "backup", "--force", str(target))
    assert forced.returncode == 0, forced.stderr
    assert mode(target) == 0o600 and target.read_bytes().startswith(b"SQLite format 3\0")
    assert [name for name in os.listdir(tmp_path) if name.startswith(".latchkey-backup-")] == []


def test_unwritable_or_wrong_places_get_a_message(flask_command, settings, tmp_path):
    refused(flask_command("db", "backup", str(tmp_path / "missing" / "copy.sqlite3")),
            f"cannot write {tmp_path / 'missing' / 'copy.sqlite3'}: No such file or directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere on a writable file system; /sys is read-only to all
        locked = Path("/sys")
    refused(flask_command("db", "backup", str(locked / "copy.sqlite3")),
            f"cannot write {locked / 'copy.sqlite3'}: Permission denied")
    refused(flask_command("db", "backup", str(tmp_path)), f"{tmp_path} is a folder: give the backup's file name")
    database = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    refused(flask_command("db", "backup", "--force", database), "is the database itself")
    refused(flask_command("db", "backup", "--force", database + "-wal"), "is the database itself")
