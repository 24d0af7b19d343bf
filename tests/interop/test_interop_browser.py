"""A real browser (Debian's Chromium, driven by Playwright) signs in through Latchkey's pages, and
takes a screenshot of every page a person can reach, errors included."""

import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from helpers import PASSWORD, pkce_pair
from world import screenshot, sign_in


def authorize_url(world, client_id="browser-app", redirect="/cb", **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": world.web.url + redirect,
              "scope": "openid profile", "state": "st-1", "code_challenge": pkce_pair()[1],
              "code_challenge_method": "S256", **extra}
    return f"{world.idp.url}/authorize?{urlencode(params)}"


def landed_with_code(page, world):
    page.wait_for_url(re.compile(re.escape(world.web.url) + r"/cb\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["st-1"] and query["iss"] == [world.idp.url] and query["code"][0]
    assert "The app got its answer" in page.content()
    return query["code"][0]


def test_browser_signs_in_through_the_login_page_and_lands_on_the_app(page, world):
    page.goto(authorize_url(world))
    assert "to continue to Family Photos" in page.inner_text("main")
    screenshot(page, "login")
    sign_in(page)
    landed_with_code(page, world)


def test_browser_wrong_password_shows_a_visible_error(page, world):
    page.goto(authorize_url(world))
    sign_in(page, password="not the password")
    alert = page.get_by_role("alert")
    assert alert.is_visible() and alert.inner_text() == "Wrong username or password."
    assert page.get_by_label("Username").input_value() == "alice"  # kept, so only the password is retyped
    screenshot(page, "login-wrong-password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    landed_with_code(page, world)


def test_browser_prompt_login_asks_again_though_signed_in(page, world):
    page.goto(authorize_url(world))
    sign_in(page)
    landed_with_code(page, world)
    page.goto(authorize_url(world, prompt="login"))
    assert page.get_by_role("button", name="Sign in").is_visible()
    sign_in(page)
    landed_with_code(page, world)


def test_browser_signs_out(page, world):
    page.goto(world.idp.url + "/login")
    sign_in(page)
    page.wait_for_url(world.idp.url + "/account")
    screenshot(page, "account")
    page.get_by_role("link", name="Sign out of this browser").click()
    screenshot(page, "logout-confirm")
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out" in page.inner_text("h1")
    screenshot(page, "signed-out")
    page.goto(world.idp.url + "/account")
    assert page.url.startswith(world.idp.url + "/login")


def test_error_page_unknown_app(page, world):
    page.goto(authorize_url(world, client_id="nextclod"))
    assert page.inner_text("h1") == "Unknown app"
    assert "Tell the person who runs Latchkey" in page.inner_text("main")
    screenshot(page, "error-unknown-app")


def test_error_page_bad_redirect(page, world):
    page.goto(authorize_url(world, redirect="/elsewhere"))
    assert page.inner_text("h1") == "This app asked to send you somewhere unexpected"
    assert world.web.url + "/elsewhere" not in page.url
    screenshot(page, "error-bad-redirect")


def test_error_page_denied_group(page, world):
    page.goto(authorize_url(world, client_id="staff-only", scope="openid"))
    sign_in(page, "bob")
    assert page.inner_text("h1") == "You cannot use Staff Wiki"
    assert "ask the person who runs Latchkey to add you" in page.inner_text("main")
    screenshot(page, "error-denied-group")
    page.get_by_role("link", name="Back to Staff Wiki").click()
    page.wait_for_url(re.compile(r".*error=access_denied.*"))


def test_error_page_expired_login(page, world):
    page.goto(authorize_url(world))
    page.context.clear_cookies()  # the session behind the open login page is gone
    sign_in(page)
    assert "The sign-in page had expired. Please sign in again." in page.inner_text("main")
    assert "to continue to Family Photos" in page.inner_text("main")
    screenshot(page, "error-expired-login")
    sign_in(page)
    landed_with_code(page, world)


def test_error_page_throttled(page, world):
    page.goto(world.idp.url + "/login")
    for _ in range(5):
        sign_in(page, "bob", "wrong password")
    sign_in(page, "bob", PASSWORD)
    assert re.search(r"Too many failed sign-ins\. Try again in \d+ seconds?\.", page.get_by_role("alert").inner_text())
    screenshot(page, "error-throttled")
    time.sleep(1.1)


def test_login_page_fits_a_phone(chromium, world):
    context = chromium.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(authorize_url(world))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.get_by_label("Password").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 32
    screenshot(page, "login-phone")
    context.close()


def test_login_works_by_keyboard_alone(page, world):
    page.goto(authorize_url(world))
    assert page.evaluate("document.activeElement.id") == "username"  # focus starts in the form
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    landed_with_code(page, world)


def test_login_fields_have_names_a_screen_reader_announces(page, world):
    page.goto(authorize_url(world))
    tree = page.locator("form").aria_snapshot()
    assert 'textbox "Username"' in tree and 'textbox "Password"' not in tree or "Password" in tree
    assert page.get_by_role("textbox", name="Username").count() == 1
    assert page.get_by_label("Password").get_attribute("type") == "password"
    assert page.get_by_role("button", name="Sign in").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(world.idp.url + "/login")
    sign_in(page, "alice", "nope")
    assert page.get_by_role("alert").count() == 1
    assert page.get_by_label("Username").get_attribute("aria-describedby") == "login-error"
