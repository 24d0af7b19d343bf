"""The redirect-URI attacks of RFC 9700 §4.1.3, in a real browser: Chromium (the WHATWG URL
standard) reads `http://attacker.example\\@127.0.0.1/cb` as a URL on attacker.example, where
Python's urlsplit sees 127.0.0.1. Latchkey must show its error page and the browser must never
leave for another host, signed in or not."""

from urllib.parse import urlencode, urlsplit

import pytest
from helpers import pkce_pair
from world import screenshot, sign_in

HOSTILE = [
    "http://attacker.example\\@{web}/cb",
    "http://attacker.example%5C@{web}/cb",
    "http://evil@{web}/cb",
    "HTTP://{web}/cb",
    "http://{web}\\@attacker.example/cb",
    "http://{web}@attacker.example/cb",
]


def _authorize(world, redirect_uri, **extra):
    params = {"response_type": "code", "client_id": "cli-app", "redirect_uri": redirect_uri, "scope": "openid",
              "state": "st-1", "code_challenge": pkce_pair()[1], "code_challenge_method": "S256", **extra}
    return f"{world.idp.url}/authorize?{urlencode(params)}"


def _watch(page, world):
    """Record every request the browser makes, redirects included (each is a request event)."""
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def test_chromium_and_python_disagree_on_the_host_of_the_reported_uri(page, world):
    """Why string matching: the two parsers name different hosts for the same string."""
    uri = "http://attacker.example\\@127.0.0.1:9/cb"
    assert urlsplit(uri).hostname == "127.0.0.1"
    assert page.evaluate("u => new URL(u).hostname", uri) == "attacker.example"


@pytest.mark.parametrize("template", HOSTILE)
def test_the_browser_never_leaves_for_another_host(page, world, template):
    web = urlsplit(world.web.url).netloc
    seen = _watch(page, world)
    # First signed out with prompt=none (an error redirect would be an open redirect), then signed in.
    page.goto(_authorize(world, template.format(web=web), prompt="none"))
    assert page.url.startswith(world.idp.url) and "somewhere unexpected" in page.inner_text("main")
    page.goto(_authorize(world, f"{world.web.url}/cb"))
    sign_in(page)
    page.wait_for_url(world.web.url + "/cb?*")
    page.goto(_authorize(world, template.format(web=web)))
    assert page.url.startswith(world.idp.url) and "somewhere unexpected" in page.inner_text("main")
    assert not [u for u in seen if urlsplit(u).netloc not in (urlsplit(world.idp.url).netloc, web)], seen
    codes = [u for u in seen if u.startswith(world.web.url) and "code=" in u]
    assert len(codes) == 1  # only the sign-in with the registered URI reached the app
    if template == HOSTILE[0]:
        screenshot(page, "error-hostile-redirect-uri")


def test_a_native_apps_other_loopback_port_is_followed(page, world):
    """RFC 8252 §7.3: the browser goes to the port the native app listens on, same host and path."""
    port = urlsplit(world.web.url).port
    seen = _watch(page, world)
    page.goto(_authorize(world, f"{world.web.url}/cb"))
    sign_in(page)
    page.wait_for_url(world.web.url + "/cb?*")
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/cb"
    response = page.request.get(_authorize(world, other), max_redirects=0)
    assert response.status == 302 and response.headers["location"].startswith(other + "?code=")
    assert not [u for u in seen if "attacker" in u]
