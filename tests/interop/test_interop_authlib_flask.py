"""A Python web app using Authlib's Flask client (authlib.integrations.flask_client) with
client_secret_post and no PKCE, reading the person's claims from the ID token only, the way
Grafana and several others do."""

from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, session
from helpers import browser_sign_in


def club_wiki(world):
    """The relying party: a small Flask site whose sign-in is Latchkey."""
    app = Flask("club_wiki")
    app.secret_key = "club-wiki-test-secret"
    oauth = OAuth(app)
    oauth.register(
        "latchkey",
        client_id="flask-rp",
        client_secret="flask-rp-secret-0123456789",
        server_metadata_url=world.idp.url + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email groups", "token_endpoint_auth_method": "client_secret_post"},
    )

    @app.route("/login")
    def login():
        return oauth.latchkey.authorize_redirect(world.web.url + "/auth/callback")

    @app.route("/auth/callback")
    def callback():
        token = oauth.latchkey.authorize_access_token()  # checks state, signature, iss, aud, nonce
        session["claims"] = dict(token["userinfo"])      # parsed from the ID token, not /userinfo
        return session["claims"]

    return app


@pytest.fixture
def signed_in_claims(world, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test issuer is http on loopback
    rp = club_wiki(world).test_client()
    start = rp.get("/login")
    assert start.status_code == 302 and start.location.startswith(world.idp.url + "/authorize?")
    assert "code_challenge" not in start.location  # this app does not do PKCE (require_pkce = false)
    callback = browser_sign_in(requests.Session(), start.location)
    assert callback.startswith(world.web.url + "/auth/callback?")
    parts = urlsplit(callback)
    response = rp.get(parts.path + "?" + parts.query)
    assert response.status_code == 200, response.text
    return response.json


def test_authlib_flask_client_signs_in_with_client_secret_post(signed_in_claims):
    assert signed_in_claims["sub"] == "alice"


def test_authlib_flask_client_reads_profile_email_and_groups_from_the_id_token(signed_in_claims):
    assert signed_in_claims["preferred_username"] == "alice" and signed_in_claims["name"] == "Alice Liddell"
    assert signed_in_claims["email"] == "alice@example.org" and signed_in_claims["email_verified"] is True
    assert signed_in_claims["groups"] == ["staff"]
