"""Authorization request parameters of OIDC Core §3.1.2.1 and §6."""

import time
from urllib.parse import urlencode

import jwt as pyjwt
import pytest
from helpers import ISSUER, auth_params, csrf_token, login, pkce_pair, redirect_params

from idp.db import connect


def authorize(client, **extra):
    return client.get("/authorize", query_string=auth_params(challenge=pkce_pair()[1], **extra))


def test_prompt_none_signed_in_returns_a_code_without_a_page(flow):
    assert "code" in redirect_params(authorize(flow.client, prompt="none"))


def test_prompt_none_with_another_value_is_invalid_request(flow):
    values = redirect_params(authorize(flow.client, prompt="none login"))
    assert values["error"] == "invalid_request" and values["iss"] == ISSUER


def test_prompt_login_asks_again_and_auth_time_moves_on(flow, app):
    first = pyjwt.decode(flow.tokens(scope="openid")["id_token"], options={"verify_signature": False})
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 100")
    response = authorize(flow.client, prompt="login")
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    page = flow.client.get(response.location)
    next_url = page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    # opening the authorization request again without signing in does not get around prompt=login
    assert flow.client.get(next_url).location.startswith("/login?next=")
    back = flow.client.post("/login", data={"username": "alice", "password": "correct horse battery",
                                            "csrf_token": csrf_token(page.text), "next": next_url})
    code = redirect_params(flow.client.get(back.location))["code"]
    assert code
    second = flow.tokens(scope="openid")
    claims = pyjwt.decode(second["id_token"], options={"verify_signature": False})
    assert claims["auth_time"] > first["auth_time"] - 100


def test_max_age_passed_asks_to_sign_in_again(flow, app):
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 120")
    response = authorize(flow.client, max_age="60")
    assert response.location.startswith("/login?next=")
    assert "code" in redirect_params(authorize(flow.client, max_age="600"))


def test_max_age_passed_with_prompt_none_is_login_required(flow, app):
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 120")
    assert redirect_params(authorize(flow.client, max_age="60", prompt="none"))["error"] == "login_required"


def test_max_age_must_be_a_number(flow):
    assert redirect_params(authorize(flow.client, max_age="soon"))["error"] == "invalid_request"


def test_id_token_hint_for_the_signed_in_user_works(flow):
    hint = flow.tokens(scope="openid")["id_token"]
    assert "code" in redirect_params(authorize(flow.client, id_token_hint=hint, prompt="none"))


def test_id_token_hint_for_another_user_is_an_error_never_their_tokens(flow, app):
    from helpers import Flow, add_user

    add_user(app, "bob")
    other = app.test_client()
    login(other, "bob")
    bobs_hint = Flow(other).tokens(scope="openid")["id_token"]
    values = redirect_params(authorize(flow.client, id_token_hint=bobs_hint))
    assert values["error"] == "login_required" and "code" not in values


def test_a_forged_id_token_hint_is_invalid_request(flow):
    forged = pyjwt.encode({"iss": ISSUER, "sub": "alice"}, "k" * 32, algorithm="HS256")
    assert redirect_params(authorize(flow.client, id_token_hint=forged))["error"] == "invalid_request"


def test_login_hint_prefills_the_username(client, alice):
    response = authorize(client, login_hint="alice")
    assert 'value="alice"' in client.get(response.location).text


@pytest.mark.parametrize("extra", [{"display": "popup"}, {"ui_locales": "de-DE fr"}, {"claims_locales": "de"},
                                   {"acr_values": "urn:x"}, {"foo": "bar"}, {"prompt": "consent"}])
def test_harmless_parameters_cause_no_error(flow, extra):
    assert "code" in redirect_params(authorize(flow.client, **extra))


@pytest.mark.parametrize("param, error", [("request", "request_not_supported"),
                                          ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_not_supported(flow, param, error):
    values = redirect_params(authorize(flow.client, **{param: "eyJhbGciOiJub25lIn0.e30."}))
    assert values["error"] == error and values["state"] == "st-123"


def test_a_repeated_parameter_is_invalid_request(flow):
    params = list(auth_params(challenge=pkce_pair()[1]).items()) + [("nonce", "a"), ("nonce", "b")]
    values = redirect_params(flow.client.get("/authorize", query_string=params))
    assert values["error"] == "invalid_request" and "nonce" in values["error_description"]


def test_a_repeated_client_id_gets_a_page(flow):
    params = list(auth_params(challenge=pkce_pair()[1]).items()) + [("client_id", "legacy")]
    response = flow.client.get("/authorize", query_string=params)
    assert response.status_code == 400 and response.location is None


@pytest.mark.parametrize("mode", ["fragment", "form_post", "jwt"])
def test_an_unsupported_response_mode_is_an_error_page(flow, mode):
    response = authorize(flow.client, response_mode=mode)
    assert response.status_code == 400 and response.location is None
    assert f"response_mode={mode} is not supported" in response.text


def test_response_mode_query_is_fine(flow):
    assert "code" in redirect_params(authorize(flow.client, response_mode="query"))


def test_max_age_zero_is_satisfied_by_the_sign_in_it_asked_for(flow, app):
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 5")
    response = authorize(flow.client, max_age="0")
    assert response.location.startswith("/login?next=")
    page = flow.client.get(response.location)
    next_url = page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET auth_time = auth_time - 5")  # time passes
    back = flow.client.post("/login", data={"username": "alice", "password": "correct horse battery",
                                            "csrf_token": csrf_token(page.text), "next": next_url})
    assert "code" in redirect_params(flow.client.get(back.location))  # no second login page


def _sign_in_at(client, next_url):
    """Sign in at the login page with `next_url` as its return address."""
    page = client.get("/login", query_string={"next": next_url})
    return client.post("/login", data={"username": "alice", "password": "correct horse battery",
                                       "csrf_token": csrf_token(page.text), "next": next_url})


def _five_seconds_pass(monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "1"}])
def test_a_sign_in_at_the_account_page_does_not_satisfy_prompt_login_or_max_age(client, alice, extra, monkeypatch):
    """OIDC Core §3.1.2.1: the sign-in must be made for the request that asked for it."""
    assert _sign_in_at(client, "/account").status_code == 303
    _five_seconds_pass(monkeypatch)
    response = authorize(client, **extra)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "1"}])
def test_a_sign_in_for_one_request_does_not_satisfy_another(client, alice, extra, monkeypatch):
    first = "/authorize?" + urlencode(auth_params(challenge=pkce_pair()[1], state="first", **extra))
    assert _sign_in_at(client, first).status_code == 303
    _five_seconds_pass(monkeypatch)
    response = authorize(client, state="second", **extra)  # not the request the sign-in was for
    assert response.location.startswith("/login?next=")


def test_the_fresh_sign_in_mark_expires_within_minutes(client, alice, monkeypatch):
    import idp.sessions

    query = auth_params(challenge=pkce_pair()[1], prompt="login")
    assert _sign_in_at(client, "/authorize?" + urlencode(query)).status_code == 303
    later = time.time() + idp.sessions.FRESH_SIGN_IN_TTL + 1
    monkeypatch.setattr(idp.sessions.time, "time", lambda: later)
    assert client.get("/authorize", query_string=query).location.startswith("/login?next=")


def test_the_fresh_sign_in_mark_is_used_once(client, alice):
    query = auth_params(challenge=pkce_pair()[1], prompt="login")
    back = _sign_in_at(client, "/authorize?" + urlencode(query))
    assert "code" in redirect_params(client.get(back.location))
    assert client.get(back.location).location.startswith("/login?next=")  # the same request again


def test_an_old_copy_of_the_cookie_cannot_bring_the_fresh_sign_in_mark_back(client, alice):
    """The mark lives on the session's row: once used, a saved cookie does not revive it."""
    query = auth_params(challenge=pkce_pair()[1], prompt="login")
    back = _sign_in_at(client, "/authorize?" + urlencode(query))
    saved = client.get_cookie("latchkey_session").value
    assert "code" in redirect_params(client.get(back.location))
    client.set_cookie("latchkey_session", saved)
    assert client.get(back.location).location.startswith("/login?next=")
