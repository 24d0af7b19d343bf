"""A real relying party (Authlib's OAuth client) against the real server under granian, as the
README runs it in production, and under gunicorn, the documented alternative."""

import secrets
import threading
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
import pytest
from helpers import WEB_SECRET, browser_sign_in, pkce_pair

REDIRECT = "https://web.example/cb"


SERVERS = pytest.mark.parametrize("live_server", ["granian", "gunicorn"], indirect=True)


@SERVERS
def test_sign_in_refresh_and_userinfo_with_authlib_and_pyjwt(live_server, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the issuer is http on loopback
    meta = requests.get(live_server.url + "/.well-known/openid-configuration").json()
    oauth = OAuth2Session("web", WEB_SECRET, scope="openid profile email groups offline_access",
                          redirect_uri=REDIRECT, code_challenge_method="S256",
                          token_endpoint_auth_method="client_secret_basic")
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)

    callback = browser_sign_in(requests.Session(), url)
    params = parse_qs(urlsplit(callback).query)
    assert params["iss"] == [live_server.url] and params["state"] == [state]  # RFC 9207
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=callback,
                              code_verifier=verifier, state=state)

    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    assert signing_key.key_id == "1"
    claims = jwt.decode(token["id_token"], signing_key.key, algorithms=["RS256"], audience="web",
                        issuer=live_server.url)
    assert claims["sub"] == "alice" and claims["nonce"] == nonce and claims["groups"] == ["staff"]

    userinfo = oauth.get(meta["userinfo_endpoint"]).json()
    assert userinfo["sub"] == "alice" and userinfo["email"] == "alice@example.org"

    refreshed = oauth.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    new_claims = jwt.decode(refreshed["id_token"], signing_key.key, algorithms=["RS256"], audience="web",
                            issuer=live_server.url)
    assert new_claims["auth_time"] == claims["auth_time"] and new_claims["sub"] == "alice"
    assert oauth.get(meta["userinfo_endpoint"]).json()["name"] == "Alice Liddell"


@SERVERS
def test_parallel_redemptions_across_workers_exactly_one_wins(live_server):
    verifier, challenge = pkce_pair()
    session = requests.Session()
    callback = browser_sign_in(session, live_server.url + "/authorize?" + requests.compat.urlencode({
        "response_type": "code", "client_id": "spa", "redirect_uri": "http://127.0.0.1:5173/cb",
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"}))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    statuses = []
    barrier = threading.Barrier(8)

    def redeem():
        barrier.wait()
        statuses.append(requests.post(live_server.url + "/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": "spa",
            "redirect_uri": "http://127.0.0.1:5173/cb", "code_verifier": verifier}).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [400] * 7
    assert "database is locked" not in live_server.output()
