"""Browser-facing hardening: headers, cookies, no third-party resources, proxies."""

import re

import pytest
from helpers import PASSWORD, csrf_token, login

PAGES = ["/login", "/logout", "/account", "/authorize?client_id=nope", "/nowhere"]


@pytest.mark.parametrize("path", PAGES)
def test_every_html_page_forbids_framing_and_sniffing(flow, path):
    response = flow.client.get(path)
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", PAGES)
def test_no_page_loads_anything_from_another_site(flow, path):
    html = flow.client.get(path).text
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert url.startswith("/") and not url.startswith("//"), url
    assert "<script" not in html and "style=" not in html


def test_after_a_credential_post_the_answer_is_303_never_307(client, alice):
    response = login(client)
    assert response.status_code == 303
    token = csrf_token(client.get("/account").text)
    response = client.post("/account/password", data={"current": PASSWORD, "new": "new password 1",
                                                      "confirm": "new password 1", "csrf_token": token})
    assert response.status_code == 303


def test_proxy_hops_zero_ignores_forwarded_headers(settings, alice):
    from idp import create_app

    client = create_app(settings).test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" not in response.headers.get("Set-Cookie", "")


def test_proxy_hops_one_trusts_one_proxy(settings, alice, caplog):
    from idp import create_app

    app = create_app({**settings, "ISSUER": "https://id.example.org", "PROXY_HOPS": 1})
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "id.example.org", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/login", headers=headers)
    caplog.set_level("INFO", logger="idp.audit")
    client.post("/login", headers=headers, data={"username": "alice", "password": "wrong",
                                                 "csrf_token": csrf_token(page.text)})
    assert '"address": "203.0.113.9"' in caplog.text


@pytest.mark.parametrize("path", PAGES + ["/login?next=/account", "/authorize?client_id=web"])
def test_every_html_page_is_never_cached(flow, path):
    """Account details and CSRF tokens must not stay in a shared computer's cache."""
    response = flow.client.get(path)
    assert response.mimetype == "text/html" and response.headers["Cache-Control"] == "no-store", path


def test_the_stylesheet_may_be_cached(client):
    with client.get("/static/style.css") as response:
        assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"


def test_with_an_https_issuer_the_session_cookie_is_host_prefixed(settings, alice):
    """A sibling app on the same parent domain cannot plant a __Host- cookie (RFC 6265bis §4.1.3.2)."""
    from idp import create_app

    client = create_app({**settings, "ISSUER": "https://id.example.org"}).test_client()
    page = client.get("/login", base_url="https://id.example.org")
    response = client.post("/login", base_url="https://id.example.org",
                           data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    session = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-latchkey_session=")]
    assert session, response.headers.getlist("Set-Cookie")
    assert "Secure" in session[0] and "Path=/" in session[0] and "Domain" not in session[0]
    assert "HttpOnly" in session[0] and "SameSite=Lax" in session[0]
    assert client.get("/account", base_url="https://id.example.org").status_code == 200


def test_a_session_cookie_planted_without_the_prefix_is_ignored_over_https(settings, alice):
    from idp import create_app

    client = create_app({**settings, "ISSUER": "https://id.example.org"}).test_client()
    client.set_cookie("latchkey_session", "planted-by-a-sibling", domain="id.example.org")
    page = client.get("/login", base_url="https://id.example.org")
    assert page.status_code == 200 and "planted" not in page.text
