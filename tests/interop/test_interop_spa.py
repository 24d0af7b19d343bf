"""A single-page app built with oidc-client-ts (npm), served from a loopback origin, as a public
client with PKCE: sign-in, token exchange and userinfo through CORS, renewal with the refresh token,
and signoutRedirect back to the app."""

import json
import re

from test_interop_browser import sign_in


def result(page):
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    data = json.loads(page.inner_text("#result"))
    page.evaluate("document.getElementById('result').textContent = ''")
    return data


def test_spa_signs_in_renews_reads_userinfo_and_signs_out(page, world):
    page.goto(world.spa.url + "/index.html")
    assert page.inner_text("#status") == "signed out"
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(world.idp.url) + r"/login\?"))
    assert "to continue to Browser SPA" in page.inner_text("main")
    sign_in(page)
    page.wait_for_url(world.spa.url + "/index.html")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('signed in')")
    assert page.inner_text("#status") == "signed in as alice"  # the token exchange went through CORS

    page.get_by_role("button", name="Userinfo").click()
    info = result(page)
    assert info["status"] == 200 and info["claims"]["sub"] == "alice" and info["claims"]["email"] == "alice@example.org"

    page.get_by_role("button", name="Renew").click()
    renewed = result(page)
    assert renewed == {"renewed": True, "sub": "alice"}
    page.get_by_role("button", name="Userinfo").click()
    assert result(page)["status"] == 200  # the renewed access token works

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(re.escape(world.spa.url) + r"/index\.html\?state="))
    page.goto(world.idp.url + "/account")
    assert page.url.startswith(world.idp.url + "/login")  # Latchkey's session ended too
