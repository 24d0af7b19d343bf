"""The authorization endpoint and the code grant (RFC 6749 §4.1, RFC 7636, RFC 9207)."""

import threading

import pytest
from helpers import ISSUER, auth_params, pkce_pair, redirect_params

from idp.db import connect


def test_success_redirects_with_code_state_and_iss(flow):
    _, challenge = pkce_pair()
    values = redirect_params(flow.client.get("/authorize", query_string=auth_params(challenge=challenge)))
    assert set(values) == {"code", "state", "iss"}
    assert values["state"] == "st-123" and values["iss"] == ISSUER


def test_post_authorization_request_works_like_get(flow):
    _, challenge = pkce_pair()
    response = flow.client.post("/authorize", data=auth_params(challenge=challenge))
    assert "code" in redirect_params(response)


def test_unknown_client_gets_an_html_page_not_a_redirect(flow):
    response = flow.client.get("/authorize", query_string=auth_params(client_id="nope"))
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Unknown app" in response.text and "list of apps, so you cannot sign in" in response.text
    assert response.location is None


def test_unregistered_redirect_uri_gets_an_html_page_not_a_redirect(flow):
    response = flow.client.get("/authorize", query_string=auth_params(redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400 and response.location is None
    assert "This app asked to send you somewhere unexpected" in response.text


def test_redirect_uri_matches_string_for_string(flow):
    _, challenge = pkce_pair()
    response = flow.client.get("/authorize", query_string=auth_params(redirect_uri="https://web.example/cb/", challenge=challenge))
    assert response.status_code == 400


def test_only_response_type_code_is_supported(flow):
    response = flow.client.get("/authorize", query_string=auth_params(response_type="token"))
    values = redirect_params(response)
    assert values["error"] == "unsupported_response_type"
    assert values["state"] == "st-123" and values["iss"] == ISSUER


def test_pkce_is_required_for_public_clients(flow):
    response = flow.client.get("/authorize", query_string=auth_params("spa", "http://127.0.0.1:5173/cb"))
    values = redirect_params(response)
    assert values["error"] == "invalid_request" and "PKCE" in values["error_description"]
    assert values["iss"] == ISSUER and values["state"] == "st-123"


def test_pkce_is_required_for_confidential_clients_by_default(flow):
    values = redirect_params(flow.client.get("/authorize", query_string=auth_params()))
    assert values["error"] == "invalid_request"


def test_require_pkce_false_lets_a_confidential_client_go_without(flow):
    params = auth_params("legacy", "https://legacy.example/cb", scope="openid")
    values = redirect_params(flow.client.get("/authorize", query_string=params))
    code = values["code"]
    response = flow.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": "https://legacy.example/cb"}, "legacy")
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("method", ["plain", None, "S512"])
def test_only_s256_is_accepted(flow, method):
    _, challenge = pkce_pair()
    params = auth_params(code_challenge=challenge)
    if method:
        params["code_challenge_method"] = method
    values = redirect_params(flow.client.get("/authorize", query_string=params))
    assert values["error"] == "invalid_request"


def test_scope_is_limited_to_the_clients_scope(flow):
    tokens = flow.tokens(scope="openid email groups profile offline_access", client_id="spa",
                         redirect_uri="http://127.0.0.1:5173/cb")
    assert set(tokens["scope"].split()) == {"openid", "profile", "offline_access"}


def test_unknown_scopes_are_ignored(flow):
    tokens = flow.tokens(scope="openid email phone")
    assert tokens["scope"] == "openid email"


def test_allowed_groups_refuse_others_with_access_denied(client, app):
    from helpers import add_user, login

    add_user(app, "bob")
    login(client, "bob")
    params = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1])
    page = client.get("/authorize", query_string=params)
    assert page.status_code == 403 and "You cannot use Staff Wiki" in page.text
    assert "only members of\n  staff may sign in" in page.text
    back = page.text.split('<a href="')[1].split('"')[0].replace("&amp;", "&")
    values = redirect_params(type("R", (), {"status_code": 302, "location": back, "text": ""}))
    assert values["error"] == "access_denied" and "bob" in values["error_description"]
    assert values["state"] == "st-123" and values["iss"] == ISSUER


def test_allowed_groups_with_prompt_none_redirect_at_once(client, app):
    from helpers import add_user, login

    add_user(app, "bob")
    login(client, "bob")
    params = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1], prompt="none")
    assert redirect_params(client.get("/authorize", query_string=params))["error"] == "access_denied"


def test_allowed_groups_let_members_in(flow):
    params = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1])
    assert "code" in redirect_params(flow.client.get("/authorize", query_string=params))


def test_not_signed_in_goes_to_the_login_page_and_back(client, alice):
    from helpers import csrf_token

    params = auth_params(challenge=pkce_pair()[1])
    response = client.get("/authorize", query_string=params)
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    page = client.get(response.location)
    assert "Web App" in page.text
    next_url = page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    response = client.post("/login", data={"username": "alice", "password": "correct horse battery",
                                           "csrf_token": csrf_token(page.text), "next": next_url})
    assert response.status_code == 303 and response.location.startswith("/authorize?")
    assert "code" in redirect_params(client.get(response.location))


def test_prompt_none_without_session_is_login_required(client, alice):
    params = auth_params(challenge=pkce_pair()[1], prompt="none")
    values = redirect_params(client.get("/authorize", query_string=params))
    assert values["error"] == "login_required" and values["iss"] == ISSUER


def test_a_native_apps_loopback_redirect_matches_on_any_port(flow):
    params = auth_params("cli", "http://127.0.0.1:49152/cb", scope="openid", challenge=pkce_pair()[1])
    assert "code" in redirect_params(flow.client.get("/authorize", query_string=params))


def test_private_use_scheme_redirect(flow):
    params = auth_params("spa", "com.example.app:/cb", scope="openid", challenge=pkce_pair()[1])
    response = flow.client.get("/authorize", query_string=params)
    assert response.location.startswith("com.example.app:/cb?code=")


def test_code_exchange_returns_tokens_with_no_store(flow):
    code, verifier = flow.code(scope="openid offline_access")
    response = flow.exchange(code, verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert set(response.json) >= {"access_token", "refresh_token", "id_token", "expires_in", "token_type"}
    assert response.json["token_type"] == "Bearer" and response.json["expires_in"] == 900


def test_code_is_single_use_and_reuse_revokes_its_tokens(flow, app):
    code, verifier = flow.code()
    first = flow.exchange(code, verifier)
    assert first.status_code == 200
    second = flow.exchange(code, verifier)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens issued from the code are revoked.
    userinfo = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + first.json["access_token"]})
    assert userinfo.status_code == 401


def test_code_expires_after_auth_code_ttl(flow, app):
    code, verifier = flow.code()
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE authorization_codes SET expires_at = 0")
    response = flow.exchange(code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_code_is_bound_to_its_client(flow):
    code, verifier = flow.code()
    response = flow.exchange(code, verifier, client_id="legacy")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_code_is_bound_to_its_redirect_uri(flow):
    code, verifier = flow.code()
    response = flow.exchange(code, verifier, redirect_uri="https://web.example/other")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_code_is_bound_to_its_pkce_challenge(flow):
    code, _ = flow.code()
    other_verifier, _ = pkce_pair()
    response = flow.exchange(code, other_verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_code_verifier_is_required_when_a_challenge_was_sent(flow):
    code, _ = flow.code()
    response = flow.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": "https://web.example/cb"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_parallel_redemptions_of_one_code_exactly_one_wins(flow, app):
    code, verifier = flow.code()
    results = []

    def redeem():
        with app.test_client() as c:
            from helpers import Flow

            results.append(Flow(c).exchange(code, verifier).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [400] * 7
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT used_at IS NOT NULL FROM authorization_codes").fetchone()[0] == 1


def test_the_redirect_uri_is_kept_exactly_as_registered(flow, app, clients_file):
    """RFC 6749 §3.1.2: an empty-host private-use URI and a registered query both survive."""
    from helpers import CLIENTS

    clients_file.write_text(CLIENTS + '\n[[clients]]\nclient_id = "odd"\ntoken_endpoint_auth_method = "none"\n'
                            'redirect_uris = ["app.immich:///oauth-callback", "https://odd.example/cb?tenant=7"]\n')
    app.extensions["latchkey_clients"]._next_check = 0
    for uri in ("app.immich:///oauth-callback", "https://odd.example/cb?tenant=7"):
        params = auth_params("odd", uri, scope="openid", challenge=pkce_pair()[1])
        location = flow.client.get("/authorize", query_string=params).location
        assert location.startswith(uri + ("&" if "?" in uri else "?") + "code="), location
        assert location.endswith("&state=st-123&iss=http%3A%2F%2Flocalhost")
        error = flow.client.get("/authorize", query_string={**params, "prompt": "none login"}).location
        assert error.startswith(uri + ("&" if "?" in uri else "?") + "error=invalid_request")


@pytest.mark.parametrize("uri", ["http://[::1/cb", "http://127.0.0.1:99999/cb", "http://127.0.0.1:x/cb"])
def test_broken_redirect_uris_get_the_error_page(flow, uri):
    response = flow.client.get("/authorize", query_string=auth_params("spa", uri, scope="openid",
                                                                      challenge=pkce_pair()[1]))
    assert response.status_code == 400 and response.location is None
