"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

import time

from helpers import ISSUER, Flow, add_user, csrf_token, login
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey


def signed_in(flow):
    return flow.client.get("/account").status_code == 200


def hint(app, key=None, alg="RS256", **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "alice", "aud": "web", "iat": now, "exp": now + 300, **claims}
    key = key or app.extensions["latchkey_key"]
    return jwt.encode({"alg": alg, "kid": "1"}, payload, key, algorithms=[alg])


def test_valid_hint_and_registered_uri_redirect_back_with_state(flow, app):
    id_token = flow.tokens(scope="openid")["id_token"]
    response = flow.client.get("/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://web.example/", "state": "s1"})
    assert response.status_code == 302 and response.location == "https://web.example/?state=s1"
    assert not signed_in(flow)


def test_apps_may_post_the_logout_request(flow, app):
    response = flow.client.post("/logout", data={
        "id_token_hint": hint(app), "post_logout_redirect_uri": "https://web.example/"})
    assert response.status_code == 302 and response.location == "https://web.example/"
    assert not signed_in(flow)


def test_an_expired_hint_is_accepted(flow, app):
    old = hint(app, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    response = flow.client.get("/logout", query_string={"id_token_hint": old,
                                                        "post_logout_redirect_uri": "https://web.example/"})
    assert response.status_code == 302


def assert_asks_without_redirect(flow, response):
    assert response.status_code == 200 and response.location is None
    assert "Sign out of Latchkey?" in response.text
    assert signed_in(flow)  # nothing happens before the person confirms


def test_a_forged_hint_is_refused(flow, app):
    other = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    response = flow.client.get("/logout", query_string={
        "id_token_hint": hint(app, key=other), "post_logout_redirect_uri": "https://web.example/"})
    assert_asks_without_redirect(flow, response)
    assert "could not be verified" in response.text or "signature" in response.text.lower()


def test_an_alg_none_hint_is_refused(flow, app):
    import base64
    import json

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = part({"alg": "none"}) + "." + part({"iss": ISSUER, "sub": "alice", "aud": "web"}) + "."
    response = flow.client.get("/logout", query_string={"id_token_hint": unsigned,
                                                        "post_logout_redirect_uri": "https://web.example/"})
    assert_asks_without_redirect(flow, response)


def test_client_id_must_match_the_hints_audience(flow, app):
    response = flow.client.get("/logout", query_string={
        "id_token_hint": hint(app), "client_id": "legacy", "post_logout_redirect_uri": "https://web.example/"})
    assert_asks_without_redirect(flow, response)


def test_an_unregistered_uri_asks_then_shows_the_signed_out_page(flow, app):
    response = flow.client.get("/logout", query_string={
        "id_token_hint": hint(app), "post_logout_redirect_uri": "https://web.example/elsewhere"})
    assert_asks_without_redirect(flow, response)
    confirmed = flow.client.post("/logout", data={"csrf_token": csrf_token(response.text)})
    assert confirmed.status_code == 200 and "You are signed out" in confirmed.text
    assert not signed_in(flow)


def test_without_a_hint_the_person_confirms(flow):
    response = flow.client.get("/logout", query_string={"post_logout_redirect_uri": "https://web.example/"})
    assert_asks_without_redirect(flow, response)
    confirmed = flow.client.post("/logout", data={"csrf_token": csrf_token(response.text)})
    assert confirmed.location is None and "You are signed out" in confirmed.text


def test_a_post_without_hint_or_csrf_token_does_not_sign_out(flow):
    response = flow.client.post("/logout", data={})
    assert_asks_without_redirect(flow, response)


def test_a_logout_hint_about_someone_else_asks_first(flow, app):
    add_user(app, "bob")
    other = app.test_client()
    login(other, "bob")
    bobs_hint = Flow(other).tokens(scope="openid")["id_token"]
    response = flow.client.get("/logout", query_string={"id_token_hint": bobs_hint})
    assert "Sign out of Latchkey?" in response.text
    assert flow.client.get("/account").status_code == 200  # alice is still signed in
