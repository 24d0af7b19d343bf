"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

import html
import re
import time

import pytest
from helpers import ISSUER, Flow, add_user, auth_params, csrf_token, login, pkce_pair, redirect_params
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


def session_sid(app):
    """The `sid` of the one session the flow signed in (its ID tokens carry it)."""
    from idp.db import connect

    return connect(app.config["DATABASE"]).execute("SELECT sid FROM sessions").fetchone()[0]


def test_apps_may_post_the_logout_request(flow, app):
    response = flow.client.post("/logout", data={
        "id_token_hint": hint(app, sid=session_sid(app)), "post_logout_redirect_uri": "https://web.example/"})
    assert response.status_code == 302 and response.location == "https://web.example/"
    assert not signed_in(flow)


def test_an_expired_hint_is_accepted(flow, app):
    old = hint(app, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600, sid=session_sid(app))
    response = flow.client.get("/logout", query_string={"id_token_hint": old,
                                                        "post_logout_redirect_uri": "https://web.example/"})
    assert response.status_code == 302


def test_a_hint_of_no_session_or_an_access_token_asks_first(flow, app):
    # A device's ID token has no sid; an RFC 9068 access token is signed with the same key.
    for token in (hint(app), hint(app, sid=session_sid(app), client_id="web")):
        response = flow.client.get("/logout", query_string={"id_token_hint": token,
                                                            "post_logout_redirect_uri": "https://web.example/"})
        assert response.status_code == 200 and "Sign out of Latchkey?" in response.text and signed_in(flow)
    at_jwt = jwt.encode({"alg": "RS256", "kid": "1", "typ": "at+jwt"}, {
        "iss": ISSUER, "sub": "alice", "aud": "web", "iat": int(time.time()), "exp": int(time.time()) + 300,
        "sid": session_sid(app)}, app.extensions["latchkey_key"], algorithms=["RS256"])
    response = flow.client.get("/logout", query_string={"id_token_hint": at_jwt})
    assert response.status_code == 200 and signed_in(flow)


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


# Logout without an id_token_hint (Grafana before 10.2, Kleis): client_id and a registered URI
# bring the person back after they confirm (RP-Initiated Logout 1.0 §3); anything else does not.

def confirm(flow, page):
    """Press "Sign out" on the confirmation page, with the hidden fields it carries."""
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    return flow.client.post("/logout", data={**{k: html.unescape(v) for k, v in fields.items()},
                                             "csrf_token": csrf_token(page.text)})


def test_client_id_and_a_registered_uri_without_a_hint_go_back_after_confirming(flow):
    page = flow.client.get("/logout", query_string={
        "client_id": "web", "post_logout_redirect_uri": "https://web.example/", "state": "abc"})
    assert_asks_without_redirect(flow, page)
    assert "could not be verified" not in page.text and "you go back to Web App" in page.text
    confirmed = confirm(flow, page)
    assert confirmed.status_code == 302 and confirmed.location == "https://web.example/?state=abc"
    assert not signed_in(flow)


def test_client_id_and_a_registered_uri_when_nobody_is_signed_in_go_back_at_once(client):
    response = client.get("/logout", query_string={
        "client_id": "web", "post_logout_redirect_uri": "https://web.example/", "state": "abc"})
    assert response.status_code == 302 and response.location == "https://web.example/?state=abc"


@pytest.mark.parametrize("uri", [
    "https://web.example/elsewhere",  # not registered
    "http://127.0.0.1:9999/bye",  # another app's ("cli")
    "https://WEB.example/", "HTTPS://web.example/", "https://web.example:443/", "https://web.example",
    "https://web.example/?", "https://web.example/#", "https://web.example\\@evil.example/",
])
def test_without_a_hint_an_unregistered_uri_gets_the_signed_out_page_and_no_redirect(flow, uri):
    page = flow.client.get("/logout", query_string={"client_id": "web", "post_logout_redirect_uri": uri})
    assert_asks_without_redirect(flow, page)
    assert "could not be verified" in page.text
    confirmed = confirm(flow, page)
    assert confirmed.status_code == 200 and confirmed.location is None and "You are signed out" in confirmed.text
    assert uri not in confirmed.text and not signed_in(flow)


def test_without_a_hint_an_unknown_client_id_never_redirects(client, flow):
    page = flow.client.get("/logout", query_string={"client_id": "nobody", "post_logout_redirect_uri": "https://web.example/"})
    confirmed = confirm(flow, page)
    assert confirmed.status_code == 200 and confirmed.location is None
    nobody_here = client.get("/logout", query_string={"client_id": "nobody",
                                                      "post_logout_redirect_uri": "https://web.example/"})
    assert nobody_here.location is None


def test_a_hint_whose_audience_is_not_the_client_id_never_redirects_even_after_confirming(flow, app):
    page = flow.client.get("/logout", query_string={
        "id_token_hint": hint(app), "client_id": "cli", "post_logout_redirect_uri": "http://127.0.0.1:9999/bye"})
    confirmed = confirm(flow, page)
    assert confirmed.status_code == 200 and confirmed.location is None


# After logout, silence: no app of that session gets anything without a new sign-in.

def test_after_logout_prompt_none_answers_login_required_for_every_app_of_the_session(flow):
    flow.tokens(scope="openid")
    flow.tokens(scope="openid", client_id="spa", redirect_uri="http://127.0.0.1:5173/cb")
    page = flow.client.get("/logout")
    flow.client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    for client_id, redirect_uri in (("web", "https://web.example/cb"), ("spa", "http://127.0.0.1:5173/cb")):
        response = flow.client.get("/authorize", query_string=auth_params(
            client_id, redirect_uri, scope="openid", challenge=pkce_pair()[1], prompt="none"))
        assert redirect_params(response)["error"] == "login_required"


def test_a_code_not_yet_exchanged_dies_with_the_session(flow):
    code, verifier = flow.code(scope="openid")
    page = flow.client.get("/logout")
    flow.client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert flow.exchange(code, verifier).status_code == 400


def test_the_account_page_and_flask_user_show_agree_on_the_sessions(app, flow):
    other = app.test_client()
    login(other, "alice")
    Flow(other).tokens(scope="openid")
    account = flow.client.get("/account").text
    shown = app.test_cli_runner().invoke(args=["user", "show", "alice"]).output
    assert account.count('name="handle"') == 2 and "live sessions        2" in shown
    assert "Apps: Web App" in account and "apps: Web App" in shown
    page = other.get("/logout")
    other.post("/logout", data={"csrf_token": csrf_token(page.text)})
    account = flow.client.get("/account").text
    shown = app.test_cli_runner().invoke(args=["user", "show", "alice"]).output
    assert account.count('name="handle"') == 1 and "live sessions        1" in shown
    assert "Web App" not in account.split("Where you are signed in")[1] and "apps:" not in shown


def test_an_id_token_names_the_session_and_a_refreshed_one_keeps_it(flow):
    import jwt as pyjwt

    tokens = flow.tokens()
    sid = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]
    refreshed = flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json
    assert pyjwt.decode(refreshed["id_token"], options={"verify_signature": False})["sid"] == sid
    again = flow.tokens()
    assert pyjwt.decode(again["id_token"], options={"verify_signature": False})["sid"] == sid  # one session, one sid
    assert len(sid) == 32 and flow.client.get_cookie("latchkey_session").value.find(sid) == -1
