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


def test_every_link_page_in_both_widths_and_both_colour_schemes(new_page, world):
    """Screenshots of the join, reset and bad-link pages, as a phone and a desktop see them."""
    pages = {"join": _link(world, "invite", "shots", "--email", "shots@example.org", "--name", "Sam Shots"),
             "link-invalid": world.idp.url + "/join/" + "A" * 43}
    for name, url in pages.items():
        for scheme in ("light", "dark"):
            for device, width, height in (("desktop", 1280, 800), ("phone", 360, 780)):
                page = new_page(color_scheme=scheme, width=width, height=height)
                page.goto(url)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                screenshot(page, f"{name}-{device}-{scheme}")


def test_forgot_password_by_mail_in_chromium(new_page, tmp_path):
    """A real SMTP server on loopback receives the recovery mail; the link in it works in Chromium."""
    from helpers import LiveServer
    from test_recovery import Inbox

    inbox = Inbox()
    server = LiveServer(tmp_path, workers=2, settings={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": inbox.port,
                                                       "SMTP_SECURITY": "none", "SMTP_FROM": "Latchkey <id@example.org>"})
    try:
        assert server.flask("user", "add", "pat", "--email", "pat@example.org", "--password-stdin",
                            input=PASSWORD + "\n").returncode == 0
        for scheme, device, width in (("light", "desktop", 1280), ("dark", "phone", 360)):
            page = new_page(color_scheme=scheme, width=width, height=780)
            page.goto(server.url + "/login")
            page.get_by_role("link", name="Forgot your password?").click()
            screenshot(page, f"forgot-{device}-{scheme}")
            page.get_by_label("Username or email").fill("pat@example.org")
            page.get_by_role("button", name="Send me a link").click()
            assert "If an account matches" in page.get_by_role("status").inner_text()
            screenshot(page, f"forgot-sent-{device}-{scheme}")
        (recipients, message), _ = inbox.wait_for(2)
        assert recipients == ["pat@example.org"]
        newest = [inbox.link_in(m) for _, m in inbox.messages]
        page = new_page(color_scheme="dark", width=360, height=780)
        results = []
        for path in newest:
            page.goto(server.url + path)
            results.append("Set a new password" in page.inner_text("main"))
        assert results.count(True) == 1  # the second request voided the first link
        page.goto(server.url + newest[results.index(True)])
        screenshot(page, "reset-phone-dark")
        _choose(page, "a fresh river walk", "Set password")
        page.wait_for_url(server.url + "/account")
    finally:
        server.stop()
        inbox.controller.stop()
