"""The login page, the browser session and sign-out."""

import pytest
from helpers import PASSWORD, csrf_token, login

from idp.db import connect


def test_login_page_shows_which_app_is_asking(client):
    page = client.get("/login", query_string={"next": "/authorize?client_id=web&response_type=code"})
    assert page.status_code == 200 and "to continue to <strong>Web App</strong>" in page.text


def test_wrong_password_and_unknown_user_get_the_same_message(client, alice):
    wrong_password = login(client, "alice", "nope")
    unknown_user = login(client, "mallory", "nope")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200 and "Wrong username or password." in response.text
    assert wrong_password.text.replace("alice", "X") == unknown_user.text.replace("mallory", "X").replace(
        csrf_token(unknown_user.text), csrf_token(wrong_password.text))


def test_an_expired_login_form_asks_again_and_keeps_the_request(client, alice):
    response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                           "next": "/authorize?client_id=web"})
    assert response.status_code == 303 and response.location.startswith("/login?next=")
    page = client.get(response.location)
    assert "The sign-in page had expired. Please sign in again." in page.text
    assert "to continue to <strong>Web App</strong>" in page.text
    assert client.get("/account").status_code == 302  # nobody was signed in


def test_successful_login_is_a_303_and_sets_a_safe_cookie(client, alice):
    response = login(client)
    assert response.status_code == 303 and response.location == "/account"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # http issuer on loopback: local testing
    assert "Alice Liddell" in client.get("/account").text


def test_cookie_is_secure_and_login_works_over_https_without_referer(settings, alice):
    from helpers import sign_in_over_https

    _, response = sign_in_over_https(settings)
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


def test_session_id_changes_at_sign_in(client, alice, app):
    login(client)
    db = connect(app.config["DATABASE"])
    first = db.execute("SELECT id_hash FROM sessions").fetchall()
    login(client)
    second = db.execute("SELECT id_hash FROM sessions").fetchall()
    assert len(first) == len(second) == 1 and first != second


def test_next_must_stay_on_this_server(client, alice):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert login(client, next_url=target).location == "/account"


def test_sign_out_ends_the_session(client, alice, app):
    login(client)
    page = client.get("/logout")
    assert "Sign out of Latchkey?" in page.text
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert "You are signed out" in response.text
    assert client.get("/account").status_code == 302
    assert connect(app.config["DATABASE"]).execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_session_ends_after_session_ttl(client, alice, app):
    login(client)
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET expires_at = 1")
    assert client.get("/account").status_code == 302


def test_login_hint_prefills_the_username(client):
    page = client.get("/login", query_string={"next": "/authorize?client_id=web&login_hint=bob"})
    assert 'value="bob"' in page.text


def test_every_page_carries_the_security_headers(client):
    for path in ("/login", "/logout", "/nowhere"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\n/evil", "//evil", "/\\\\evil"])
def test_next_never_leaves_the_server(client, alice, target):
    response = login(client, next_url=target)
    assert response.status_code == 303 and response.location == "/account"
