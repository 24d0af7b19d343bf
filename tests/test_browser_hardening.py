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
