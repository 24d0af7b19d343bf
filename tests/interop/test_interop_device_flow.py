"""The device authorization grant end to end: a device client (a TV app, a CLI) polls the real server
while a person completes /activate in Chromium: sign in, the code already filled in from the
device's link, "Sign in to Club TV on your device?", allow. The device gets its tokens; the JWT
access token verifies against the JWKS. Screenshots of /activate in light, dark and at a phone's
width (build/screenshots/activate-*.png)."""

import threading
import time

import jwt as pyjwt
import pytest
import requests
from helpers import PASSWORD, LiveServer
from machines import BOATS, DEVICE_GRANT, MACHINE_CLIENTS
from world import screenshot, sign_in

SHOTS = (("desktop", 1280, 800, "light"), ("desktop", 1280, 800, "dark"), ("phone", 360, 780, "light"),
         ("phone", 360, 780, "dark"))


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("device-idp"), clients_text=MACHINE_CLIENTS, workers=2,
                        settings={"DEVICE_POLL_INTERVAL": 1})
    result = server.flask("user", "add", "alice", "--email", "alice@example.org", "--name", "Alice Liddell",
                          "--password-stdin", input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    yield server
    server.stop()


class Device:
    """A device client: asks for codes, then polls /token in a thread as RFC 8628 §3.4 says."""

    def __init__(self, idp, scope="openid profile offline_access boats:read"):
        self.url = idp.url
        response = requests.post(f"{idp.url}/device_authorization", data={"client_id": "tv", "scope": scope},
                                 timeout=10)
        assert response.status_code == 200, response.text
        self.codes, self.errors, self.tokens = response.json(), [], None
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        interval, deadline = self.codes["interval"], time.time() + 120
        while time.time() < deadline:
            time.sleep(interval)
            answer = requests.post(f"{self.url}/token", timeout=10, data={
                "grant_type": DEVICE_GRANT, "device_code": self.codes["device_code"], "client_id": "tv"}).json()
            if "access_token" in answer:
                self.tokens = answer
                return
            self.errors.append(answer["error"])
            if answer["error"] == "slow_down":
                interval += 5
            elif answer["error"] != "authorization_pending":
                return

    def result(self):
        self.thread.join(timeout=60)
        return self.tokens


def shoot(page, new_page, url, name, csp_errors):
    """`url` as this browser sees it, at both widths in both colour schemes, fitting a phone."""
    for device, width, height, scheme in SHOTS:
        shot = new_page(color_scheme=scheme, width=width, height=height)
        shot.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
        shot.context.add_cookies(page.context.cookies())
        shot.goto(url)
        assert shot.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(shot, f"{name}-{device}-{scheme}")


def test_a_tv_app_is_signed_in_from_a_phone_while_it_polls(page, new_page, idp):
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    device = Device(idp)
    page.goto(device.codes["verification_uri_complete"])
    assert "/login" in page.url
    sign_in(page)
    page.wait_for_url(f"{idp.url}/activate?*")
    assert page.get_by_label("Code").input_value() == device.codes["user_code"]
    shoot(page, new_page, page.url, "activate", csp_errors)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{idp.url}/activate/confirm")
    assert page.get_by_role("heading").inner_text() == "Sign in to Club TV on your device?"
    assert page.locator(".user-code-shown").inner_text() == device.codes["user_code"]
    shoot(page, new_page, page.url, "activate-confirm", csp_errors)
    page.get_by_role("button", name="Sign in on the device").click()
    assert page.get_by_role("heading").inner_text() == "Your device is signed in"
    screenshot(page, "activate-done-desktop-light")

    tokens = device.result()
    assert tokens is not None, device.errors
    assert set(device.errors) <= {"authorization_pending"} and device.errors  # it waited, politely
    assert "refresh_token" in tokens and "id_token" in tokens
    jwks = pyjwt.PyJWKClient(f"{idp.url}/.well-known/jwks.json")
    access = pyjwt.decode(tokens["access_token"], jwks.get_signing_key_from_jwt(tokens["access_token"]).key,
                          algorithms=["RS256"], audience=BOATS, issuer=idp.url)
    assert access["sub"] == "alice" and access["client_id"] == "tv" and access["amr"] == ["pwd"]
    assert csp_errors == []


def test_denying_on_a_phone_in_dark_mode_tells_the_device(new_page, idp):
    phone = new_page(color_scheme="dark", width=360, height=780)
    device = Device(idp, scope="openid")
    phone.goto(f"{idp.url}/activate")
    sign_in(phone)
    phone.wait_for_url(f"{idp.url}/activate")
    phone.get_by_label("Code").fill(device.codes["user_code"].lower().replace("-", " "))
    phone.get_by_role("button", name="Continue").click()
    phone.get_by_role("button", name="Deny").click()
    assert phone.get_by_role("heading").inner_text() == "Sign-in denied"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "activate-denied-phone-dark")
    assert device.result() is None and device.errors[-1] == "access_denied"


def test_a_wrong_code_is_said_plainly(new_page, idp):
    page = new_page()
    page.goto(f"{idp.url}/activate")
    sign_in(page)
    page.wait_for_url(f"{idp.url}/activate")
    page.get_by_label("Code").fill("BCDF-GHJK")
    page.get_by_role("button", name="Continue").click()
    assert "That code is not valid" in page.get_by_role("alert").inner_text()
    screenshot(page, "activate-wrong-code-desktop-light")
