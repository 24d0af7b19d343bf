"""Passkey-only accounts and the rules around them: removing a passkey or the password ends other
sessions, nobody removes their last way to sign in, a passkey-only account has no password to
guess, joining by invitation with a passkey, OFFER_PASSKEY, and an issuer on an IP address, which
cannot have passkeys."""

from helpers import PASSWORD, csrf_token, login
from passkey_device import Authenticator, audit_events, db_rows, device, options, passkey_sign_in  # noqa: F401

from idp import create_app


# --- Removing passkeys and the password; passkey-only accounts ---

def passkey_id(app):
    return db_rows(app, "SELECT id FROM authenticators WHERE kind = 'passkey' ORDER BY id")[0][0]


def remove_password(client, password=PASSWORD):
    token = csrf_token(client.get("/account").text)
    return client.post("/account/password/remove", data={"csrf_token": token, "password": password})


def test_removing_a_passkey_ends_the_other_sessions(app, flow, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    other = app.test_client()
    login(other)
    token = csrf_token(flow.client.get("/account").text)
    response = flow.client.post(f"/account/passkeys/{passkey_id(app)}/remove", data={"csrf_token": token})
    assert response.status_code == 303 and "was removed" in flow.client.get("/account").text
    assert other.get("/account").status_code == 302 and flow.client.get("/account").status_code == 200
    assert audit_events(caplog, "passkey_removed")[0]["user"] == "alice"
    assert passkey_sign_in(app.test_client(), device).status_code == 303
    assert audit_events(caplog, "passkey_sign_in_failed")[-1]["reason"] == "unknown_credential"


def test_the_password_is_removed_and_the_account_signs_in_with_passkeys_only(app, flow, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    other = app.test_client()
    login(other)
    assert remove_password(flow.client).status_code == 303
    assert db_rows(app, "SELECT password_hash FROM users WHERE username = 'alice'")[0][0] == ""
    assert other.get("/account").status_code == 302
    assert audit_events(caplog, "password_removed")[0]["other_sessions_ended"] is True
    assert "you have no password" in flow.client.get("/account").text
    assert passkey_sign_in(app.test_client(), device).status_code == 303


def test_a_passkey_only_account_cannot_sign_in_with_an_empty_password(app, flow, device):
    remove_password(flow.client)
    for password in ("", PASSWORD):
        response = login(app.test_client(), "alice", password)
        assert response.status_code == 200 and "/account" not in (response.location or "")
    with app.test_request_context():
        from idp.users import authenticate
        assert authenticate("alice", "") == (None, "wrong_password")


def test_the_last_passkey_of_a_passkey_only_account_cannot_be_removed(app, flow, device):
    remove_password(flow.client)
    token = csrf_token(flow.client.get("/account").text)
    response = flow.client.post(f"/account/passkeys/{passkey_id(app)}/remove", data={"csrf_token": token})
    assert response.status_code == 303 and "your last way to sign in" in flow.client.get("/account").text
    assert db_rows(app, "SELECT COUNT(*) FROM authenticators WHERE kind = 'passkey'")[0][0] == 1


def test_the_password_cannot_be_removed_without_a_passkey(app, flow):
    assert "Remove my password" not in flow.client.get("/account").text
    remove_password(flow.client)
    assert "Add a passkey first" in flow.client.get("/account").text
    assert db_rows(app, "SELECT password_hash FROM users WHERE username = 'alice'")[0][0] != ""


def test_removing_the_password_needs_the_password(app, flow, device):
    remove_password(flow.client, "not my password")
    assert "That is not your password." in flow.client.get("/account").text
    assert db_rows(app, "SELECT password_hash FROM users WHERE username = 'alice'")[0][0] != ""


def test_a_passkey_only_person_may_choose_a_password_again(app, flow, device):
    remove_password(flow.client)
    token = csrf_token(flow.client.get("/account").text)
    flow.client.post("/account/password/choose", data={"csrf_token": token, "new": "a walk by the sea",
                                                        "confirm": "a walk by the sea"})
    assert login(app.test_client(), "alice", "a walk by the sea").status_code == 303


def test_an_old_passkey_only_session_cannot_add_a_way_in(app, flow, device):
    """A browser left signed in (or a stolen cookie) of a passkey-only account has no password to
    type again: adding a passkey or choosing a password needs a fresh passkey sign-in."""
    from idp.db import connect

    remove_password(flow.client)
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 3600")
    page = flow.client.get("/account")
    refused = flow.client.post("/account/passkeys/options", headers={"X-CSRFToken": csrf_token(page.text)})
    assert refused.status_code == 400 and "sign out and in again with your passkey" in refused.json["error"]
    flow.client.post("/account/password/choose", data={"csrf_token": csrf_token(page.text), "new": "a walk by the sea",
                                                        "confirm": "a walk by the sea"})
    assert login(app.test_client(), "alice", "a walk by the sea").status_code != 303


# --- Joining with a passkey ---

def invite(app, username="dora"):
    result = app.test_cli_runner().invoke(args=["user", "invite", username, "--email", f"{username}@example.org"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1].removeprefix("http://localhost")


def test_joining_with_a_passkey_instead_of_a_password(app, client, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    path = invite(app)
    page = client.get(path).text
    assert "Use a passkey instead" in page
    device = Authenticator()
    opts, token = options(client, path + "/passkey/options", page=path)
    assert opts["user"]["name"] == "dora"
    response = client.post(path + "/passkey", data={"csrf_token": token, "credential": device.create(opts)})
    assert response.status_code == 303 and response.location == "/account"
    assert "you have no password" in client.get("/account").text
    assert tuple(db_rows(app, "SELECT invited, password_hash FROM users WHERE username = 'dora'")[0]) == (0, "")
    assert audit_events(caplog, "joined")[0]["method"] == "passkey"
    assert client.get(path).status_code == 410  # the link was claimed
    assert passkey_sign_in(app.test_client(), device).status_code == 303


def test_a_used_invitation_cannot_join_with_a_passkey(app, client):
    path = invite(app)
    opts, token = options(client, path + "/passkey/options", page=path)
    page = client.get(path)
    client.post(path, data={"new": "a trip to the river", "confirm": "a trip to the river",
                            "csrf_token": csrf_token(page.text)})
    late = client.post(path + "/passkey", data={"csrf_token": token, "credential": Authenticator().create(opts)})
    assert late.status_code == 410
    assert db_rows(app, "SELECT COUNT(*) FROM authenticators WHERE kind = 'passkey'")[0][0] == 0


# --- OFFER_PASSKEY, and an issuer that cannot have passkeys ---

def test_offer_passkey_asks_after_a_password_sign_in(settings, alice):
    app = create_app({**settings, "OFFER_PASSKEY": True})
    client = app.test_client()
    response = login(client, next_url="/authorize?client_id=web")
    assert response.location.startswith("/account/passkeys/offer?next=")
    page = client.get(response.location).text
    assert "Add a passkey" in page and 'href="/authorize?client_id=web">Not now</a>' in page
    device = Authenticator()
    opts, token = options(client, "/account/passkeys/options", page=response.location)
    added = client.post("/account/passkeys", data={"csrf_token": token, "credential": device.create(opts),
                                                   "next": "/authorize?client_id=web"})
    assert added.location == "/authorize?client_id=web"
    assert login(app.test_client()).location == "/account"  # has one now: not asked again


def test_offer_passkey_is_off_by_default(client, alice):
    assert login(client).location == "/account"


def test_an_ip_address_issuer_offers_no_passkeys(settings, alice):
    app = create_app({**settings, "ISSUER": "http://127.0.0.1:5000"})
    client = app.test_client()
    page = client.get("/login", base_url="http://127.0.0.1:5000").text
    assert "passkey" not in page.lower() and "<script" not in page
    login_page = client.get("/login", base_url="http://127.0.0.1:5000")
    client.post("/login", base_url="http://127.0.0.1:5000", data={
        "username": "alice", "password": PASSWORD, "csrf_token": csrf_token(login_page.text)})
    account = client.get("/account", base_url="http://127.0.0.1:5000").text
    assert 'id="passkeys-unavailable"' in account and "Add a passkey" not in account
    token = csrf_token(account)
    assert client.post("/account/passkeys/options", base_url="http://127.0.0.1:5000",
                       headers={"X-CSRFToken": token}).status_code == 404


def test_the_default_issuer_is_localhost_so_flask_run_has_passkeys():
    from idp.settings import DEFAULTS
    from idp.signin.passkeys import available

    assert DEFAULTS["ISSUER"] == "http://localhost:5000" and available(DEFAULTS["ISSUER"])
    assert not available("http://127.0.0.1:5000") and not available("http://[::1]:5000")
    assert available("https://id.example.org")
