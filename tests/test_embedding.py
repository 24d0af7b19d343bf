"""Latchkey mounted in an existing Flask website (examples/club_site) under /id, with the club's
templates overriding Latchkey's: a real relying party signs in through it under granian."""

import os
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from helpers import PASSWORD, ROOT, LiveServer, browser_sign_in

CLUB = os.path.join(ROOT, "examples", "club_site")
CLIENTS = """\
[[clients]]
client_id = "members-area"
client_name = "Members' area"
client_secret = "members-area-secret"
redirect_uris = ["http://127.0.0.1:8080/callback"]
scope = "openid profile email offline_access"
"""


@pytest.fixture
def club(tmp_path):
    server = LiveServer(tmp_path, clients_text=CLIENTS, chdir=CLUB, prefix="/id", workers=2)
    result = server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                          input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    yield server
    server.stop()


def test_the_club_site_keeps_its_own_pages(club):
    site = club.url.removesuffix("/id")
    home = requests.get(site + "/")
    assert home.status_code == 200 and "Welcome to the club" in home.text
    assert "Content-Security-Policy" not in home.headers  # Latchkey's headers stay on its own pages
    assert "/id/login" in home.text


def test_discovery_lives_under_the_prefix(club):
    meta = requests.get(club.url + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == club.url and meta["authorization_endpoint"] == club.url + "/authorize"
    assert meta["jwks_uri"] == club.url + "/.well-known/jwks.json"


def test_a_relying_party_signs_in_through_the_mounted_latchkey(club, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    meta = requests.get(club.url + "/.well-known/openid-configuration").json()
    oauth = OAuth2Session("members-area", "members-area-secret", scope="openid profile offline_access",
                          redirect_uri="http://127.0.0.1:8080/callback", code_challenge_method="S256")
    verifier, nonce = generate_token(48), secrets.token_urlsafe(8)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    browser = requests.Session()
    login_page = browser.get(url)
    assert "Riverside Rowing Club" in login_page.text  # the club's template overrides Latchkey's
    assert "to continue to <strong>Members&#39; area</strong>" in login_page.text
    callback = browser_sign_in(browser, url)
    assert parse_qs(urlsplit(callback).query)["iss"] == [club.url]
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier,
                              state=state)
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token["id_token"]).key
    claims = jwt.decode(token["id_token"], key, algorithms=["RS256"], audience="members-area", issuer=club.url)
    assert claims["sub"] == "alice" and claims["nonce"] == nonce
    assert oauth.get(meta["userinfo_endpoint"]).json()["preferred_username"] == "alice"
    # the club's own page sees the Latchkey session
    site = club.url.removesuffix("/id")
    assert "Signed in as alice" in browser.get(site + "/").text
