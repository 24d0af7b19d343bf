"""refresh_token_lifetime: by default ("offline") an app's refresh tokens outlive the browser session
they came from; with "session" they end when it ends, by sign-out or by expiry."""

import time

import pytest
from helpers import CLIENTS, csrf_token, login

from idp.clients import ClientsFileError, parse
from idp.db import get_db
from idp.settings import DEFAULTS

SESSION_APP = """
[[clients]]
client_id = "kiosk"
client_name = "Kiosk"
redirect_uris = ["https://kiosk.example/cb"]
token_endpoint_auth_method = "none"
scope = "openid offline_access"
refresh_token_lifetime = "session"

[[clients]]
client_id = "board"
client_secret = "board-secret-0123456789"
redirect_uris = ["https://board.example/cb"]
scope = "openid offline_access"
refresh_token_lifetime = "session"
"""
BOARD = ("board", "board-secret-0123456789")
KIOSK = {"client_id": "kiosk", "redirect_uri": "https://kiosk.example/cb", "scope": "openid offline_access"}


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(CLIENTS + SESSION_APP)
    return path


def refresh(flow, token, client_id):
    return flow.token({"grant_type": "refresh_token", "refresh_token": token}, client_id)


def sign_out(client):
    page = client.get("/logout")
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})


def test_session_bound_refresh_tokens_end_at_sign_out_and_offline_ones_do_not(flow):
    kiosk = flow.tokens(**KIOSK)
    web = flow.tokens()
    assert refresh(flow, kiosk["refresh_token"], "kiosk").status_code == 200  # alive while the session is
    kiosk = flow.tokens(**KIOSK)
    sign_out(flow.client)
    assert refresh(flow, kiosk["refresh_token"], "kiosk").json["error"] == "invalid_grant"
    assert refresh(flow, web["refresh_token"], "web").status_code == 200  # the default: offline access


def test_a_rotated_session_bound_token_still_ends_with_its_session(flow):
    first = flow.tokens(**KIOSK)
    rotated = refresh(flow, first["refresh_token"], "kiosk").json
    sign_out(flow.client)
    assert refresh(flow, rotated["refresh_token"], "kiosk").status_code == 400


def test_session_bound_refresh_tokens_end_when_the_session_expires(app, flow):
    kiosk = flow.tokens(**KIOSK)
    with app.app_context():
        get_db().execute("UPDATE sessions SET expires_at = ?", (int(time.time()) - 1,))
    assert refresh(flow, kiosk["refresh_token"], "kiosk").json["error"] == "invalid_grant"


def test_introspection_calls_a_session_bound_token_inactive_once_its_session_is_over(app, flow):
    code, verifier = flow.code(client_id="board", redirect_uri="https://board.example/cb", scope="openid offline_access")
    board = flow.client.post("/token", auth=BOARD, data={"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": "https://board.example/cb",
                                                         "code_verifier": verifier}).json
    assert flow.client.post("/introspect", data={"token": board["refresh_token"]}, auth=BOARD).json["active"] is True
    with app.app_context():
        get_db().execute("UPDATE sessions SET expires_at = ?", (int(time.time()) - 1,))
    assert flow.client.post("/introspect", data={"token": board["refresh_token"]}, auth=BOARD).json == {"active": False}


def test_the_session_of_another_browser_ending_leaves_this_ones_tokens(app, flow):
    kiosk = flow.tokens(**KIOSK)
    other = app.test_client()
    login(other)
    sign_out(other)
    assert refresh(flow, kiosk["refresh_token"], "kiosk").status_code == 200


def test_signing_in_again_in_the_same_browser_keeps_the_session_and_its_tokens(flow):
    kiosk = flow.tokens(**KIOSK)
    assert login(flow.client).status_code == 303  # prompt=login and max_age sign in again like this
    assert refresh(flow, kiosk["refresh_token"], "kiosk").status_code == 200


def test_another_person_signing_in_in_the_browser_ends_the_first_ones_session(app, flow):
    from helpers import add_user

    kiosk = flow.tokens(**KIOSK)
    add_user(app, "bob")
    assert login(flow.client, "bob").status_code == 303
    assert refresh(flow, kiosk["refresh_token"], "kiosk").status_code == 400


@pytest.mark.parametrize("value, ok", [("offline", True), ("session", True), ("browser", False), ("Session", False)])
def test_refresh_token_lifetime_is_offline_or_session(tmp_path, value, ok):
    path = tmp_path / "clients.toml"
    path.write_text(SESSION_APP.replace('"session"', f'"{value}"'))
    if ok:
        assert parse(str(path), DEFAULTS)["kiosk"].refresh_token_lifetime == value
    else:
        with pytest.raises(ClientsFileError) as e:
            parse(str(path), DEFAULTS)
        assert e.value.problems[0] == (f'{path}:8: refresh_token_lifetime must be "offline" (the default: refresh tokens'
                                       ' outlive the browser session) or "session" (they end with it)')


def test_the_default_is_offline(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(SESSION_APP.replace('refresh_token_lifetime = "session"\n', ""))
    assert parse(str(path), DEFAULTS)["kiosk"].refresh_token_lifetime == "offline"
