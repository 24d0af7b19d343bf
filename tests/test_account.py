"""The account page: profile, password change, apps holding tokens, sign out everywhere."""

from helpers import PASSWORD, csrf_token, login


def test_account_needs_a_signed_in_person(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_account_shows_the_profile(flow):
    page = flow.client.get("/account").text
    assert "alice" in page and "Alice Liddell" in page and "alice@example.org" in page and "family, staff" in page


def change(client, current, new, confirm=None):
    token = csrf_token(client.get("/account").text)
    return client.post("/account/password", data={"current": current, "new": new,
                                                  "confirm": confirm or new, "csrf_token": token})


def test_password_change_needs_the_old_password(flow):
    response = change(flow.client, "wrong", "a brand new password")
    assert response.status_code == 400 and "That is not your current password." in response.text


def test_password_change_needs_matching_new_passwords(flow):
    response = change(flow.client, PASSWORD, "a brand new password", "another one")
    assert response.status_code == 400 and "The new passwords do not match." in response.text


def test_password_change_ends_other_sessions_and_tokens_but_not_this_one(flow, app):
    other_browser = app.test_client()
    login(other_browser)
    tokens = flow.tokens()
    response = change(flow.client, PASSWORD, "a brand new password")
    assert response.status_code == 303 and response.location == "/account"
    assert "Your password was changed" in flow.client.get("/account").text
    assert other_browser.get("/account").status_code == 302
    assert flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).status_code == 400
    assert login(app.test_client(), "alice", "a brand new password").status_code == 303


def test_apps_holding_tokens_are_listed_and_can_be_revoked(flow):
    tokens = flow.tokens()
    page = flow.client.get("/account").text
    assert "Web App" in page and "Revoke access of Web App" in page
    response = flow.client.post("/account/revoke", data={"client_id": "web", "csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert "No app holds a token for you" in flow.client.get("/account").text


def test_sign_out_everywhere_ends_every_session(flow, app):
    other_browser = app.test_client()
    login(other_browser)
    token = csrf_token(flow.client.get("/account").text)
    response = flow.client.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert "You are signed out" in response.text
    assert flow.client.get("/account").status_code == 302
    assert other_browser.get("/account").status_code == 302


def test_account_forms_need_their_csrf_token(flow):
    for path in ("/account/password", "/account/revoke", "/account/sign-out-everywhere"):
        response = flow.client.post(path, data={"current": PASSWORD, "new": "x" * 10, "confirm": "x" * 10,
                                                "client_id": "web"})
        assert response.status_code == 400 and "This form has expired" in response.text


def test_guessing_the_current_password_on_the_account_page_is_throttled(flow, app):
    """The account page checks a password as /login does, so it is counted and slowed the same way."""
    for _ in range(5):
        assert change(flow.client, "wrong", "a brand new password").status_code == 400
    blocked = change(flow.client, PASSWORD, "a brand new password")
    assert blocked.status_code == 429 and "Too many wrong passwords. Try again in 1 second." in blocked.text
    assert login(app.test_client(), "alice", PASSWORD).status_code == 303  # her other browsers are not held up


def test_a_new_password_on_the_account_page_follows_the_same_rules(flow):
    response = change(flow.client, PASSWORD, "password1")
    assert response.status_code == 400 and "most common" in response.text
