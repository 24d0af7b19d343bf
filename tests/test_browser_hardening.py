"""Browser-facing hardening: headers, cookies, no third-party resources, proxies."""

import json
import re
import textwrap

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
    # The one script there is: Latchkey's own passkeys.js, from its own origin, never inline (the
    # CSP's default-src 'self' would refuse an inline one anyway).
    scripts = re.findall(r"<script[^>]*>[^<]*</script>", html)
    assert scripts in ([], ['<script src="/static/passkeys.js" defer></script>']), scripts
    assert html.count("<script") == len(scripts) and "style=" not in html
    assert not re.search(r"<[^>]*\son[a-z]+=", html)  # no inline event handlers


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
    from helpers import sign_in_over_https

    client, response = sign_in_over_https(settings)
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


# --- The pages' look: SITE_NAME, LOGO, ACCENT_COLOR, app logos, error pages with a way on ---

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201ad2a7d5e0000000049454e44ae426082")


def photos(logo_uri="https://cdn.photos.example:8443/logo.png", client_uri="https://photos.example/"):
    """An app with a logo and a home page (RFC 7591 §2), as a clients.toml table."""
    return textwrap.dedent(f"""
        [[clients]]
        client_id = "photos"
        client_name = "Family Photos"
        client_secret = "photos-secret-0123456789"
        redirect_uris = ["https://photos.example/cb"]
        logo_uri = {json.dumps(logo_uri)}
        client_uri = {json.dumps(client_uri)}
        """)


def test_site_name_is_in_the_title_and_on_the_card(settings):
    from idp import create_app

    client = create_app({**settings, "SITE_NAME": "Hill Family"}).test_client()
    for path, title in (("/login", "Sign in"), ("/nowhere", "Page not found"), ("/logout", "Sign out")):
        html = client.get(path).text
        assert f"<title>{title} · Hill Family</title>" in html, path
        assert '<span class="brand-name">Hill Family</span>' in html and "Latchkey" not in html, path


def test_the_logo_is_served_from_the_instance_folder_and_may_be_cached(settings, tmp_path):
    from idp import create_app

    (tmp_path / "instance").mkdir(mode=0o700)
    (tmp_path / "instance" / "logo.png").write_bytes(PNG)
    client = create_app({**settings, "LOGO": "logo.png"}).test_client()
    src = re.search(r'<img class="brand-logo" src="([^"]+)"', client.get("/login").text).group(1)
    assert src.startswith("/branding/logo")
    with client.get(src) as response:
        assert response.status_code == 200 and response.mimetype == "image/png" and response.data == PNG
        assert "no-store" not in response.headers["Cache-Control"] and "max-age" in response.headers["Cache-Control"]


@pytest.mark.parametrize("name", ["../x", "../logo.png", "/etc/logo.png", "sub/logo.png", "..\\logo.png",
                                  ".logo.png", "signing_key.pem", "idp.sqlite3", "config.toml"])
def test_the_logo_setting_is_a_plain_image_file_name(settings, name):
    from idp import StartupError, create_app

    with pytest.raises(StartupError, match="LOGO must be"):
        create_app({**settings, "LOGO": name})


def test_a_missing_logo_is_logged_and_not_shown(settings, caplog):
    from idp import create_app

    client = create_app({**settings, "LOGO": "logo.svg"}).test_client()
    caplog.set_level("WARNING")
    assert "brand-logo" not in client.get("/login").text
    assert "LOGO 'logo.svg' is not a file" in caplog.text
    assert client.get("/branding/logo").status_code == 404


def test_without_a_logo_the_route_serves_nothing(client):
    assert client.get("/branding/logo").status_code == 404


@pytest.mark.parametrize("color, accent", [("#7b3fa0", "#7b3fa0"), ("#27A", "#2277aa")])
def test_the_accent_colour_is_served_as_a_stylesheet(settings, color, accent):
    from idp import create_app

    client = create_app({**settings, "ACCENT_COLOR": color}).test_client()
    href = re.search(r'<link rel="stylesheet" href="(/branding/theme\.css[^"]*)"', client.get("/login").text).group(1)
    with client.get(href) as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
        assert f"--accent: {accent};" in response.text and "--on-accent: #ffffff;" in response.text
        assert "no-store" not in response.headers["Cache-Control"]


@pytest.mark.parametrize("color", ["blue", "#12345", "#ggg", "2b6cb0", "rgb(1, 2, 3)", "#2b6cb0; } body { x", ""])
def test_a_bad_accent_colour_stops_the_start(settings, color):
    from idp import StartupError, create_app

    with pytest.raises(StartupError, match=r"ACCENT_COLOR must be a colour written #rgb or #rrggbb"):
        create_app({**settings, "ACCENT_COLOR": color})


def test_an_app_logo_is_shown_and_only_its_page_allows_its_origin(settings, clients_file):
    from idp import create_app

    clients_file.write_text(clients_file.read_text() + photos())
    client = create_app(settings).test_client()
    page = client.get("/login", query_string={"next": "/authorize?client_id=photos&response_type=code"})
    assert '<img class="app-logo" src="https://cdn.photos.example:8443/logo.png"' in page.text
    directives = dict(d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";"))
    assert directives["img-src"] == "'self' https://cdn.photos.example:8443"
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "img-src" not in client.get("/login").headers["Content-Security-Policy"]


@pytest.mark.parametrize("uri", ["http://photos.example/logo.png", "javascript:alert(1)", "https://photos.example/a b",
                                 "https://photos.example;img-src *", "https://user@photos.example/", "//photos.example/x",
                                 'https://photos.example/"x', "https://photos.example\\@evil.example/"])
def test_app_logo_and_home_page_must_be_https_addresses(settings, clients_file, uri):
    from idp import StartupError, create_app

    original = clients_file.read_text()
    for key in ("logo_uri", "client_uri"):
        clients_file.write_text(original + photos(**{key: uri}))
        with pytest.raises(StartupError, match=f"{key} must be an https URL"):
            create_app(settings)


def test_an_error_about_a_known_app_leads_back_to_its_page(settings, clients_file):
    from idp import create_app

    clients_file.write_text(clients_file.read_text() + photos())
    client = create_app(settings).test_client()
    page = client.get("/authorize", query_string={"client_id": "photos", "response_type": "code",
                                                  "redirect_uri": "https://evil.example/cb"})
    assert page.status_code == 400 and '<a class="button" href="https://photos.example/">Back to Family Photos</a>' in page.text
    assert "https://evil.example" not in page.text


def test_an_unsupported_response_type_is_said_in_words(flow):
    page = flow.client.get("/authorize?client_id=web")
    assert page.status_code == 400 and "unsupported_response_type" not in page.text
    assert "This app asked for something Latchkey does not do (no response_type)." in page.text


@pytest.mark.parametrize("method, path, title", [("GET", "/nowhere", "Page not found"),
                                                 ("PUT", "/account", "This page cannot be used that way")])
def test_404_and_405_pages_say_it_plainly_and_offer_a_way_on(client, method, path, title):
    page = client.open(path, method=method)
    assert f"<h1>{title}</h1>" in page.text
    for werkzeug_text in ("Not Found", "requested URL", "Method Not Allowed", "not allowed for the requested URL"):
        assert werkzeug_text not in page.text
    assert '<a href="/login">Sign in to Latchkey</a>' in page.text


def test_an_error_page_for_someone_signed_in_leads_to_the_account(flow):
    assert '<a href="/account">Go to your account</a>' in flow.client.get("/nowhere").text


def test_flask_logins_default_message_never_appears(client):
    page = client.get("/account", follow_redirects=True)
    assert "Please log in" not in page.text and "Sign in to see your account." in page.text
