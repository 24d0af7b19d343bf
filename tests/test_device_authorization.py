"""The device authorization grant (RFC 8628): a TV app asks for codes, the person signs in at /activate
and confirms, the device polls /token. And what an attacker would try: another app's device code,
a user code twice, after expiry or denial, /activate without signing in or without the second step
an app requires, a forged confirmation, guessing user codes."""

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from helpers import PASSWORD, ROOT, LiveServer, add_user, csrf_token, login
from machines import (BOATS, DEVICE_GRANT, MACHINE_CLIENTS, approve, approve_over_http, claims, enter_code, poll,
                      readme_block, signed_in_browser, start_device)

from idp.db import get_db


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(MACHINE_CLIENTS)
    return path


@pytest.fixture
def settings(settings):
    return {**settings, "DEVICE_POLL_INTERVAL": 1}


@pytest.fixture
def browser(app, alice):
    return signed_in_browser(app)


def test_the_device_gets_a_device_code_a_typable_user_code_and_where_to_go(client):
    started = start_device(client)
    # RFC 8628 §6.1: letters that cannot be mistaken for each other, in two groups of four.
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", started["user_code"])
    assert started["verification_uri"] == "http://localhost/activate"
    assert started["verification_uri_complete"] == f"http://localhost/activate?user_code={started['user_code']}"
    assert started["expires_in"] == 600 and started["interval"] == 1
    assert len(started["device_code"]) >= 43


def test_only_hashes_of_the_codes_are_stored(app, client):
    started = start_device(client)
    with app.app_context():
        row = dict(get_db().execute("SELECT * FROM device_codes").fetchone())
    stored = json.dumps(row)
    for value in (started["device_code"], started["user_code"], started["user_code"].replace("-", "")):
        assert value not in stored


def test_an_app_without_the_device_grant_is_unauthorized(client):
    response = client.post("/device_authorization", data={"client_id": "spa", "scope": "openid"})
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_an_unknown_resource_is_refused_before_any_code(client):
    response = client.post("/device_authorization", data={"client_id": "tv", "scope": "boats:read",
                                                          "resource": "https://unknown.example/api"})
    assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_the_whole_flow_polling_pending_slow_down_then_tokens(app, client, browser):
    started = start_device(client)
    assert poll(client, started["device_code"]).json["error"] == "authorization_pending"
    # RFC 8628 §3.5: polling faster than the interval is slow_down, and the interval grows by 5 s.
    assert poll(client, started["device_code"]).json["error"] == "slow_down"
    with app.app_context():
        assert get_db().execute("SELECT poll_interval FROM device_codes").fetchone()[0] == 6
    done = approve(browser, started["user_code"])
    assert done.status_code == 200 and "Your device is signed in" in done.text
    with app.app_context():  # the device waits its (new) interval
        get_db().execute("UPDATE device_codes SET last_polled_at = last_polled_at - 6")
    response = poll(client, started["device_code"])
    assert response.status_code == 200, response.json
    tokens = response.json
    assert tokens["scope"] == "openid profile offline_access boats:read"
    assert "refresh_token" in tokens  # offline_access was granted
    id_token = claims(tokens["id_token"])
    assert id_token["sub"] == "alice" and id_token["aud"] == "tv" and id_token["amr"] == ["pwd"]
    access = claims(tokens["access_token"])  # boats:read: a JWT for the boats API
    assert access["aud"] == BOATS and access["sub"] == "alice" and access["client_id"] == "tv"
    # The approval works once.
    again = poll(client, started["device_code"])
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "client_id": "tv",
                                            "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and claims(refreshed.json["access_token"])["aud"] == BOATS


def test_without_offline_access_there_is_no_refresh_token(client, browser):
    started = start_device(client, scope="openid profile")
    approve(browser, started["user_code"])
    tokens = poll(client, started["device_code"]).json
    assert "refresh_token" not in tokens and tokens["access_token"].count(".") == 0  # opaque: no API scope


def test_a_denied_device_hears_access_denied(client, browser):
    started = start_device(client)
    done = approve(browser, started["user_code"], decision="deny")
    assert "Sign-in denied" in done.text
    response = poll(client, started["device_code"])
    assert response.status_code == 400 and response.json["error"] == "access_denied"


def test_an_expired_device_code_is_expired_token(app, client, browser):
    started = start_device(client)
    with app.app_context():
        get_db().execute("UPDATE device_codes SET expires_at = ?", (int(time.time()) - 1,))
    response = poll(client, started["device_code"])
    assert response.status_code == 400 and response.json["error"] == "expired_token"
    # …and its user code no longer works at /activate.
    assert "That code is not valid" in enter_code(browser, started["user_code"]).text


def test_a_device_code_polled_by_another_app_is_invalid_grant(client, browser):
    started = start_device(client)
    approve(browser, started["user_code"])
    stolen = poll(client, started["device_code"], client_id="other-tv")
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    assert poll(client, started["device_code"]).status_code == 200  # the real device still gets its tokens


def test_an_unknown_device_code_is_invalid_grant(client):
    response = poll(client, "made-up")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_a_user_code_works_once(client, browser):
    started = start_device(client)
    approve(browser, started["user_code"])
    response = enter_code(browser, started["user_code"])
    assert response.status_code == 400 and "That code is not valid" in response.text


def test_a_denied_user_code_cannot_be_approved_afterwards(client, browser):
    started = start_device(client)
    approve(browser, started["user_code"], decision="deny")
    assert enter_code(browser, started["user_code"]).status_code == 400
    assert poll(client, started["device_code"]).json["error"] == "access_denied"


def test_the_user_code_may_be_typed_in_lower_case_with_spaces(client, browser):
    started = start_device(client)
    response = enter_code(browser, started["user_code"].lower().replace("-", " "))
    assert response.status_code == 303 and response.location.endswith("/activate/confirm")


def test_activate_asks_to_sign_in_first_and_comes_back_with_the_code(app, client, alice):
    started = start_device(client)
    person = app.test_client()
    response = person.get(started["verification_uri_complete"])
    assert response.status_code == 302 and "/login?next=" in response.location
    assert login(person, next_url=f"/activate?user_code={started['user_code']}").location == \
        f"/activate?user_code={started['user_code']}"
    page = person.get(f"/activate?user_code={started['user_code']}")
    assert f'value="{started["user_code"]}"' in page.text and "Signed in as <strong>alice</strong>" in page.text


def test_nobody_can_approve_without_signing_in(app, client):
    started = start_device(client)
    stranger = app.test_client()
    page = stranger.get("/login")
    for path, data in (("/activate", {"user_code": started["user_code"]}), ("/activate/confirm", {"decision": "allow"})):
        response = stranger.post(path, data={**data, "csrf_token": csrf_token(page.text)})
        assert response.status_code == 302 and "/login" in response.location
    assert poll(client, started["device_code"]).json["error"] == "authorization_pending"


def test_the_confirmation_needs_its_csrf_token(client, browser):
    started = start_device(client)
    enter_code(browser, started["user_code"])
    forged = browser.post("/activate/confirm", data={"decision": "allow"})
    assert forged.status_code == 400 and "This form has expired" in forged.text
    assert poll(client, started["device_code"]).json["error"] == "authorization_pending"


def test_the_confirmation_is_only_for_the_code_this_person_entered(app, client, browser):
    # Posting the confirmation without having entered a code confirms nothing.
    start_device(client)
    page = browser.get("/activate")
    response = browser.post("/activate/confirm", data={"decision": "allow", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 400 and "no longer waiting" in response.text
    with app.app_context():
        assert get_db().execute("SELECT status FROM device_codes").fetchone()[0] == "pending"


def test_an_app_that_requires_mfa_gets_the_second_step_first(app, client, browser):
    started = start_device(client, client_id="vault-tv", scope="openid")
    response = enter_code(browser, started["user_code"])
    # Alice has no authenticator app: she is led to set one up, and comes back to this code.
    assert response.status_code == 302 and response.location.startswith("/account/authenticator?next=")
    assert started["user_code"] in response.location
    page = browser.get("/activate")
    skipped = browser.post("/activate/confirm", data={"decision": "allow", "csrf_token": csrf_token(page.text)})
    assert skipped.status_code == 400
    assert poll(client, started["device_code"], client_id="vault-tv").json["error"] == "authorization_pending"


def test_a_person_outside_the_apps_groups_is_refused_and_the_device_told(client, browser):
    started = start_device(client, client_id="staff-tv", scope="openid")
    response = enter_code(browser, started["user_code"])
    assert response.status_code == 403 and "Only members of board" in response.text
    assert poll(client, started["device_code"], client_id="staff-tv").json["error"] == "access_denied"


def test_guessing_user_codes_is_slowed_per_person_from_any_address(app, client, browser, caplog):
    started = start_device(client)
    page = browser.get("/activate")
    for n in range(5):
        response = browser.post("/activate", data={"user_code": "BCDF-GHJK", "csrf_token": csrf_token(page.text)},
                                environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
        assert response.status_code == 400
    with caplog.at_level(logging.INFO, logger="idp.audit"):
        # From yet another address, even the right code has to wait now.
        response = browser.post("/activate", data={"user_code": started["user_code"], "csrf_token": csrf_token(page.text)},
                                environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 429 and "Too many wrong codes" in response.text
    assert '"event": "user_code_throttled"' in caplog.text and started["user_code"] not in caplog.text


def test_guessing_user_codes_is_slowed_per_address_across_people(app, client):
    names = [f"guesser{n}" for n in range(5)]
    for name in names:
        add_user(app, name, PASSWORD)
    statuses = []
    for name in names:
        browser = signed_in_browser(app, name)
        page = browser.get("/activate")
        for _ in range(4):  # each person stays under their own limit of 5
            statuses.append(browser.post("/activate", data={"user_code": "BCDF-GHJK",
                                                            "csrf_token": csrf_token(page.text)}).status_code)
    assert statuses[:20] == [400] * 20
    browser = signed_in_browser(app, names[0])
    page = browser.get("/activate")
    assert browser.post("/activate", data={"user_code": "BCDF-GHJK", "csrf_token": csrf_token(page.text)}).status_code == 429


def test_the_confirmation_page_shows_the_app_and_the_code(client, browser):
    started = start_device(client)
    enter_code(browser, started["user_code"])
    page = browser.get("/activate/confirm")
    assert "Sign in to Club TV on your device?" in page.text
    assert started["user_code"] in page.text and "signed in as <strong>alice</strong>" in page.text


def test_device_polling_with_a_wrong_grant_type_for_the_app_is_unauthorized(client):
    response = client.post("/token", data={"grant_type": DEVICE_GRANT, "device_code": "x", "client_id": "spa"})
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_the_readme_terminal_example_runs_as_written(tmp_path):
    """The README's device flow from a terminal polls while a person approves at /activate."""
    script = readme_block("### A TV or a command-line tool: device authorization")
    server = LiveServer(tmp_path, clients_text=Path(ROOT, "clients.toml").read_text(), host="localhost",
                        settings={"DEVICE_POLL_INTERVAL": 1})
    try:
        added = server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                             input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        device = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script.replace("http://localhost:5000", server.url)],
                                  cwd=tmp_path, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        shown = device.stdout.readline()
        match = re.fullmatch(rf"Open {re.escape(server.url)}/activate and type ([A-Z]{{4}}-[A-Z]{{4}})\n", shown)
        assert match, shown
        approve_over_http(server.url, match.group(1))
        out, err = device.communicate(timeout=60)
    finally:
        server.stop()
    assert device.returncode == 0, out + err
    tokens = json.loads(out.splitlines()[-1])
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    assert claims(tokens["access_token"])["aud"] == "http://localhost:8000/api"
    assert not (tmp_path / "device.json").exists() and not (tmp_path / "answer.json").exists()
