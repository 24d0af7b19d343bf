"""The second sign-in step in Chromium: set up an authenticator app from the account page by reading
its key off the page (codes computed with pyotp, as a phone would), then sign in to an app with the
password and a code; the ID token says so (amr). Screenshots of the new pages at both widths."""

import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pyotp
import requests
from helpers import PASSWORD, pkce_pair
from world import screenshot, sign_in

SHOTS = (("desktop", 1280, 800, "light"), ("phone", 360, 780, "dark"), ("desktop", 1280, 800, "dark"),
         ("phone", 360, 780, "light"))


def _shoot(page, new_page, url, name):
    """`url` as this browser sees it, at both widths in both colour schemes, fitting a phone."""
    for device, width, height, scheme in SHOTS:
        shot = new_page(color_scheme=scheme, width=width, height=height)
        shot.context.add_cookies(page.context.cookies())
        shot.goto(url)
        assert shot.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(shot, f"{name}-{device}-{scheme}")


def test_set_up_an_authenticator_app_and_sign_in_with_a_code(page, new_page, world):
    page.goto(world.idp.url + "/login")
    sign_in(page)
    page.get_by_role("link", name="Set up an authenticator app").click()
    seed = page.locator("#seed").inner_text().replace(" ", "")
    assert page.locator(".qr svg").is_visible()
    _shoot(page, new_page, world.idp.url + "/account/authenticator", "authenticator-setup")
    totp = pyotp.TOTP(seed)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    screenshot(page, "authenticator-recovery-codes")

    page.context.clear_cookies()
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": "browser-app", "redirect_uri": world.web.url + "/cb",
              "scope": "openid", "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256"}
    page.goto(f"{world.idp.url}/authorize?{urlencode(params)}")
    sign_in(page)
    page.wait_for_url(world.idp.url + "/login/code")
    _shoot(page, new_page, world.idp.url + "/login/code", "second-step")
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the set-up used the current one
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(world.web.url + "/cb?*")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    token = requests.post(world.idp.url + "/token", auth=("browser-app", "browser-app-secret-0123456789"), timeout=10,
                          data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                "redirect_uri": world.web.url + "/cb"}).json()
    assert pyjwt.decode(token["id_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp", "mfa"]
