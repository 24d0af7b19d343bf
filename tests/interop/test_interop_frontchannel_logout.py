"""Front-Channel Logout 1.0 in Debian's Chromium: after a sign-out, the signed-out page loads each app's
frontchannel_logout_uri in a hidden frame (the receiving page is hit with the session's sid), within
the page's CSP, and only then goes back to the app that asked, with JavaScript or without. Screenshots
of the page with its frames: build/screenshots/signed-out-frames-<desktop|phone>-<light|dark>.png."""

import http.server
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from helpers import PASSWORD, LiveServer, free_port, pkce_pair
from world import screenshot, sign_in

#: The slow app's logout page takes this long: the way back must wait for it.
SLOW = 1.5


class Apps:
    """Two apps on one loopback host: /<app>/cb gets the code, /<app>/fc is the front-channel logout page
    (the Wiki's is slow), /<app>/bye where the app's sign-out lands. Every GET is recorded with its time."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits = []  # (path with query, time it was answered)
        apps = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/wiki/fc"):
                    time.sleep(SLOW)
                body = f"<!doctype html><title>{self.path}</title><h1>{self.path.split('?')[0]}</h1>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                apps.hits.append((self.path, time.time()))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hit(self, prefix):
        return [(path, at) for path, at in self.hits if path.startswith(prefix)]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def clients_for(apps):
    return f"""
[[clients]]
client_id = "photos"
client_name = "Family Photos"
client_secret = "photos-secret-0123456789"
redirect_uris = ["{apps}/photos/cb"]
post_logout_redirect_uris = ["{apps}/photos/bye"]
frontchannel_logout_uri = "{apps}/photos/fc"
frontchannel_logout_session_required = true
scope = "openid profile"

[[clients]]
client_id = "wiki"
client_name = "Club Wiki"
client_secret = "wiki-secret-0123456789"
redirect_uris = ["{apps}/wiki/cb"]
frontchannel_logout_uri = "{apps}/wiki/fc?source=latchkey"
frontchannel_logout_session_required = true
scope = "openid"

[[clients]]
client_id = "notes"
client_name = "Notes"
client_secret = "notes-secret-0123456789"
redirect_uris = ["{apps}/notes/cb"]
scope = "openid"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = Apps()
    idp = LiveServer(tmp_path_factory.mktemp("fcl"), clients_text=clients_for(apps.url), workers=2)
    result = idp.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                       input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    yield idp, apps
    idp.stop()
    apps.stop()


def sign_in_to(page, idp, apps, app, first=False):
    """The browser signs in to `app`; the app redeems its code. Returns the ID token's claims."""
    verifier, challenge = pkce_pair()
    page.goto(idp.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": app, "redirect_uri": f"{apps.url}/{app}/cb", "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}))
    if first:
        sign_in(page)
    page.wait_for_url(f"{apps.url}/{app}/cb?*")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    tokens = requests.post(idp.url + "/token", auth=(app, f"{app}-secret-0123456789"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": f"{apps.url}/{app}/cb",
        "code_verifier": verifier}, timeout=10).json()
    return tokens["id_token"], jwt.decode(tokens["id_token"], options={"verify_signature": False})


def csp_complaints(page):
    complaints = []
    page.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    return complaints


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_the_apps_frames_load_with_the_sid_before_the_browser_goes_back(site, new_page, javascript):
    idp, apps = site
    page = new_page(java_script_enabled=javascript)
    complaints = csp_complaints(page)
    hint, photos = sign_in_to(page, idp, apps, "photos", first=True)
    _, wiki = sign_in_to(page, idp, apps, "wiki")
    sid = photos["sid"]
    assert wiki["sid"] == sid
    apps.hits.clear()

    page.goto(idp.url + "/logout?" + urlencode({"id_token_hint": hint, "state": "st",
                                                "post_logout_redirect_uri": f"{apps.url}/photos/bye"}))
    page.wait_for_url(f"{apps.url}/photos/bye?state=st", timeout=20000)
    back_at = apps.hit("/photos/bye")[0][1]
    (photos_frame, _), = apps.hit("/photos/fc")
    (wiki_frame, wiki_done), = apps.hit("/wiki/fc")
    assert parse_qs(urlsplit(photos_frame).query) == {"iss": [idp.url], "sid": [sid]}
    assert parse_qs(urlsplit(wiki_frame).query) == {"source": ["latchkey"], "iss": [idp.url], "sid": [sid]}
    assert back_at > wiki_done  # the way back waited for the slow app's page
    assert complaints == []
    assert apps.hit("/notes") == []


def test_the_signed_out_page_with_its_frames(site, new_page):
    idp, apps = site
    for device, (width, height) in {"desktop": (1280, 800), "phone": (360, 780)}.items():
        for scheme in ("light", "dark"):
            page = new_page(color_scheme=scheme, width=width, height=height)
            complaints = csp_complaints(page)
            sign_in_to(page, idp, apps, "photos", first=True)
            sign_in_to(page, idp, apps, "wiki")
            sign_in_to(page, idp, apps, "notes")
            apps.hits.clear()
            page.goto(idp.url + "/logout")
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_load_state("load")  # the frames have loaded too
            assert page.get_by_role("heading", name="You are signed out").is_visible()
            assert page.get_by_text("Signing you out of Family Photos and Club Wiki too.").is_visible()
            assert page.get_by_text("Notes keeps its own session").is_visible()
            assert len(apps.hit("/photos/fc")) == 1 and len(apps.hit("/wiki/fc")) == 1
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert complaints == []
            screenshot(page, f"signed-out-frames-{device}-{scheme}")


def test_an_apps_sign_out_without_an_id_token_asks_then_goes_back(site, new_page):
    """Grafana before 10.2 and Kleis send client_id and the URI but no id_token_hint."""
    idp, apps = site
    page = new_page(width=360, height=780)
    sign_in_to(page, idp, apps, "photos", first=True)
    apps.hits.clear()
    page.goto(idp.url + "/logout?" + urlencode({"client_id": "photos", "state": "g",
                                                "post_logout_redirect_uri": f"{apps.url}/photos/bye"}))
    assert page.get_by_text("After signing out you go back to Family Photos.").is_visible()
    screenshot(page, "logout-confirm-without-hint-phone-light")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{apps.url}/photos/bye?state=g")
    assert len(apps.hit("/photos/fc")) == 1
