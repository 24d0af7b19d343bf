"""Every page a person can reach, in Debian's Chromium: at desktop (1280×800) and phone (360×780)
widths, light and dark, with a screenshot of each (build/screenshots/<page>-<desktop|phone>-<light|dark>.png).
A phone never scrolls sideways, the app's logo loads under the page's CSP, and no page trips the CSP."""

import re
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from helpers import PASSWORD, LiveServer, csrf_token, pkce_pair
from world import AppHost, screenshot, sign_in

DEVICES = {"desktop": (1280, 800), "phone": (360, 780)}

APP_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#e8590c"/>
<rect x="12" y="20" width="40" height="28" rx="5" fill="#fff"/>
<rect x="24" y="15" width="16" height="8" rx="2" fill="#fff"/>
<circle cx="32" cy="34" r="9" fill="#e8590c"/><circle cx="32" cy="34" r="5" fill="#fff"/></svg>
"""

WIKI_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#2f855a"/>
<path d="M14 18h16a4 4 0 0 1 4 4v26a4 4 0 0 0-4-4H14zM50 18H38a4 4 0 0 0-4 4v26a4 4 0 0 1 4-4h12z" fill="#fff"/></svg>
"""

SITE_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<path d="M32 6 4 30h8v26h40V30h8z" fill="#7b3fa0"/><rect x="26" y="38" width="12" height="18" fill="#fff"/></svg>
"""


@pytest.fixture(scope="module")
def photos(world, tmp_path_factory):
    """Family Photos gets a logo (served from another origin, like an app's own site) and a home
    page in clients.toml; the running Latchkey picks the edit up by itself. A third person, carol,
    takes the wrong passwords, so nobody else gets slowed down."""
    folder = tmp_path_factory.mktemp("photos-site")
    (folder / "photos.svg").write_text(APP_LOGO)
    (folder / "wiki.svg").write_text(WIKI_LOGO)
    host = AppHost(folder)
    clients = Path(world.idp.env["IDP_CLIENTS_FILE"])
    text = clients.read_text()
    photos, wiki = 'client_name = "Family Photos"\n', 'client_name = "Staff Wiki"\n'
    assert photos in text and wiki in text
    clients.write_text(text.replace(photos, photos + f'logo_uri = "{host.url}/photos.svg"\n'
                                                     f'client_uri = "{world.web.url}/"\n')
                           .replace(wiki, wiki + f'logo_uri = "{host.url}/wiki.svg"\n'))
    time.sleep(1.2)  # every worker looks at the file again on its next request
    result = world.idp.flask("user", "add", "carol", "--email", "carol@example.org", "--password-stdin",
                             input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    yield host
    host.stop()
    clients.write_text(text)


@pytest.fixture(scope="module")
def alices_phone(world):
    """Alice is also signed in on her phone (Safari on an iPhone), so the account page lists two
    sessions: that one and the browser at hand."""
    phone = requests.Session()
    phone.headers["User-Agent"] = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
                                   " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
    form = phone.get(world.idp.url + "/login")
    signed_in = phone.post(world.idp.url + "/login", allow_redirects=False, data={
        "username": "alice", "password": PASSWORD, "csrf_token": csrf_token(form.text)})
    assert signed_in.status_code == 303, signed_in.text
    return phone


def authorize_url(world, client_id="browser-app", redirect="/cb", challenge=None, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": world.web.url + redirect,
              "scope": "openid profile", "state": "st-1", "code_challenge": challenge or pkce_pair()[1],
              "code_challenge_method": "S256", **extra}
    return f"{world.idp.url}/authorize?{urlencode(params)}"


def watch_csp(page):
    """Collect the browser's complaints about the Content-Security-Policy."""
    complaints = []
    page.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    return complaints


class Shots:
    """Screenshots of one device and colour scheme; on a phone, every page must fit its width."""

    def __init__(self, page, device, scheme):
        self.page, self.device, self.scheme = page, device, scheme
        self.csp = watch_csp(page)

    def take(self, name):
        self.page.wait_for_load_state("load")
        if self.device == "phone":
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{name}: {width}px wide on a 360px phone"
        assert not self.csp, (name, self.csp)
        screenshot(self.page, f"{name}-{self.device}-{self.scheme}")


def image_loaded(page, selector):
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def give_photos_a_token(page, world):
    """Sign in to Family Photos and let it redeem its code, so the account page lists it."""
    verifier, challenge = pkce_pair()
    page.goto(authorize_url(world, challenge=challenge))
    page.wait_for_url(re.compile(re.escape(world.web.url) + r"/cb\?"))
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    response = requests.post(world.idp.url + "/token", auth=("browser-app", "browser-app-secret-0123456789"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": world.web.url + "/cb",
        "code_verifier": verifier})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(DEVICES))
def test_every_page_looks_finished_and_fits(world, photos, alices_phone, new_page, device, scheme):
    width, height = DEVICES[device]
    page = new_page(scheme, width, height, **({"is_mobile": True, "has_touch": True} if device == "phone" else {}))
    shots = Shots(page, device, scheme)

    page.goto(world.idp.url + "/login")
    assert page.title() == "Sign in · Latchkey" and page.inner_text(".brand-name") == "Latchkey"
    shots.take("login")

    page.goto(authorize_url(world))
    assert "to continue to Family Photos" in page.inner_text("main")
    assert image_loaded(page, "img.app-logo")  # another origin, allowed by this page's img-src
    shots.take("login-app")

    sign_in(page, "carol", "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    shots.take("login-wrong-password")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(world.web.url) + r"/cb\?"))
    give_photos_a_token(page, world)
    page.goto(world.idp.url + "/account")
    assert page.get_by_role("button", name="Revoke access of Family Photos").is_visible()
    sessions = page.locator(".sessions li")
    assert sessions.count() == 2 and "This browser" in sessions.nth(0).inner_text()
    assert "Safari on iPhone" in sessions.nth(1).inner_text()
    assert page.get_by_role("button", name="End the session of Safari on iPhone at 127.0.0.1").is_visible()
    shots.take("account")

    page.evaluate("document.querySelector('form[action=\"/account/password\"] input[name=csrf_token]').value = 'forged'")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("another password 1")
    page.get_by_label("New password again").fill("another password 1")
    page.get_by_role("button", name="Change password").click()
    assert page.inner_text("h1") == "This form has expired"
    assert page.get_by_role("link", name="Go to your account").is_visible()
    shots.take("error-expired-form")

    page.goto(world.idp.url + "/logout")
    shots.take("logout-confirm")
    page.get_by_role("button", name="Sign out").click()
    assert page.inner_text("h1") == "You are signed out"
    shots.take("signed-out")

    page.goto(authorize_url(world, client_id="staff-only", scope="openid"))
    sign_in(page, "bob")
    assert page.inner_text("h1") == "You cannot use Staff Wiki"
    assert image_loaded(page, "img.app-logo")
    shots.take("error-denied")
    page.context.clear_cookies()

    page.goto(authorize_url(world, client_id="nextclod"))
    assert page.inner_text("h1") == "Unknown app"
    assert page.get_by_role("link", name="Sign in to Latchkey").is_visible()
    shots.take("error-unknown-app")

    page.goto(authorize_url(world, redirect="/elsewhere"))
    assert page.inner_text("h1") == "This app asked to send you somewhere unexpected"
    back = page.get_by_role("link", name="Back to Family Photos")
    assert back.get_attribute("href") == world.web.url + "/"  # its client_uri, never the asked address
    assert image_loaded(page, "img.app-logo")
    shots.take("error-bad-redirect")

    page.goto(world.idp.url + "/nowhere")
    assert page.inner_text("h1") == "Page not found"
    assert "requested URL" not in page.inner_text("main")
    assert page.get_by_role("link", name="Sign in to Latchkey").is_visible()
    shots.take("error-404")


def test_the_app_logo_is_allowed_from_its_origin_only_on_its_pages(world, photos):
    with_app = requests.get(authorize_url(world))
    assert with_app.url.startswith(world.idp.url + "/login")
    assert with_app.headers["Content-Security-Policy"].endswith(f"; img-src 'self' {photos.url}")
    without = requests.get(world.idp.url + "/login")
    assert "img-src" not in without.headers["Content-Security-Policy"]


@pytest.fixture(scope="module")
def hill_family(tmp_path_factory):
    """A Latchkey with its own name, logo and accent colour (instance/config.toml)."""
    tmp = tmp_path_factory.mktemp("branded")
    instance = tmp / "live-instance"
    instance.mkdir(mode=0o700)
    (instance / "hill.svg").write_text(SITE_LOGO)
    (instance / "config.toml").write_text(textwrap.dedent("""\
        SITE_NAME = "Hill Family"
        LOGO = "hill.svg"
        ACCENT_COLOR = "#7b3fa0"
        """))
    server = LiveServer(tmp, workers=1)
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(DEVICES))
def test_a_branded_site_shows_its_name_logo_and_colour(hill_family, new_page, device, scheme):
    width, height = DEVICES[device]
    page = new_page(scheme, width, height)
    shots = Shots(page, device, scheme)
    page.goto(hill_family.url + "/login")
    assert page.title() == "Sign in · Hill Family" and page.inner_text(".brand-name") == "Hill Family"
    assert "Latchkey" not in page.inner_text("main")
    assert image_loaded(page, "img.brand-logo")
    button = page.get_by_role("button", name="Sign in").evaluate("b => getComputedStyle(b).backgroundColor")
    if scheme == "light":
        assert button == "rgb(123, 63, 160)"  # #7b3fa0, readable on the white card as it is
    shots.take("branded-login")
