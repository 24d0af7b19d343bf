"""Invitation to sign-in, as a person would do it: the admin invites, the person opens the link in
Chromium, chooses a password, and signs in to an app that uses an RP library (Authlib's OAuth 2.0
session with PKCE). Then a recovery link ends the app's tokens."""

import jwt as pyjwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from world import screenshot

PASSWORD = "river walk at dawn"


def _link(world, *args):
    result = world.idp.flask("user", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _choose(page, password, button):
    page.locator("#new").fill(password)
    page.locator("#confirm").fill(password)
    page.get_by_role("button", name=button).click()


def _sign_in_to_the_app(page, world):
    """The app (Authlib's client) sends the browser to Latchkey and redeems the code it gets back."""
    rp = OAuth2Session("browser-app", "browser-app-secret-0123456789", scope="openid profile email",
                       redirect_uri=world.web.url + "/cb", code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = rp.create_authorization_url(world.idp.url + "/authorize", code_verifier=verifier)
    page.goto(url)
    page.wait_for_url(world.web.url + "/cb?*")
    token = rp.fetch_token(world.idp.url + "/token", authorization_response=page.url, code_verifier=verifier)
    return rp, token


def test_an_invited_person_joins_in_chromium_and_signs_in_to_an_app(page, world, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test issuer is http on loopback
    link = _link(world, "invite", "newbie", "--email", "newbie@example.org", "--name", "Nina Newbie", "--group", "family")
    page.goto(link)
    assert "Nina Newbie" in page.inner_text("main") and "newbie@example.org" in page.inner_text("main")
    screenshot(page, "join")
    _choose(page, "password1", "Join")  # a common one first: refused, with a visible reason
    assert "most common" in page.get_by_role("alert").inner_text()
    _choose(page, PASSWORD, "Join")
    page.wait_for_url(world.idp.url + "/account")
    rp, token = _sign_in_to_the_app(page, world)
    assert pyjwt.decode(token["id_token"], options={"verify_signature": False})["sub"] == "newbie"
    assert rp.get(world.idp.url + "/userinfo").json()["email"] == "newbie@example.org"
    page.goto(link)
    assert "This link was already used" in page.inner_text("main")
    screenshot(page, "link-used")

    # Recovery: a reset link sets a new password and ends the app's tokens.
    page.context.clear_cookies()
    page.goto(_link(world, "reset", "newbie"))
    screenshot(page, "reset")
    _choose(page, "a new river walk", "Set password")
    page.wait_for_url(world.idp.url + "/account")
    assert requests.get(world.idp.url + "/userinfo", timeout=10,
                        headers={"Authorization": "Bearer " + token["access_token"]}).status_code == 401
