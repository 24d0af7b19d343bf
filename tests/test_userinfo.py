"""UserInfo (OIDC Core §5.3) and bearer token errors (RFC 6750 §3)."""

import pytest
from werkzeug.datastructures import MultiDict

from idp.db import connect


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_userinfo_get_and_post_return_the_scopes_claims(flow):
    tokens = flow.tokens(scope="openid email")
    for method in (flow.client.get, flow.client.post):
        response = method("/userinfo", headers=bearer(tokens["access_token"]))
        assert response.status_code == 200
        assert response.json == {"sub": "alice", "email": "alice@example.org", "email_verified": True}


def test_userinfo_always_has_sub(flow):
    tokens = flow.tokens(scope="openid")
    assert flow.client.get("/userinfo", headers=bearer(tokens["access_token"])).json == {"sub": "alice"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic abc"}])
def test_missing_or_bad_token_is_401_with_www_authenticate(client, headers):
    response = client.get("/userinfo", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(flow, app):
    tokens = flow.tokens(scope="openid")
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET access_expires_at = 1")
    response = flow.client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_token_is_401(flow, app):
    tokens = flow.tokens(scope="openid")
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET revoked_at = 1")
    assert flow.client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_token_without_openid_scope_cannot_read_userinfo(flow):
    tokens = flow.tokens(scope="profile")
    assert flow.client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 403


def test_userinfo_accepts_the_token_in_a_form_body(flow):
    """RFC 6750 §2.2, as the OpenID conformance suite's Basic plan sends it."""
    tokens = flow.tokens(scope="openid email")
    response = flow.client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200 and response.json["sub"] == "alice"


def test_userinfo_refuses_a_token_in_the_query_string(flow):
    """RFC 6750 §2.3 is optional and §5.3 warns: tokens in URLs end up in logs."""
    tokens = flow.tokens(scope="openid")
    for method in (flow.client.get, flow.client.post):
        response = method("/userinfo", query_string={"access_token": tokens["access_token"]})
        assert response.status_code == 400 and response.json["error"] == "invalid_request"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="Latchkey", error="invalid_request"')


@pytest.mark.parametrize("how", ["header and body", "body twice", "header and query"])
def test_userinfo_refuses_a_token_sent_two_ways_at_once(flow, how):
    """RFC 6750 §2: a client MUST NOT use more than one method to transmit the token."""
    token = flow.tokens(scope="openid")["access_token"]
    if how == "header and body":
        response = flow.client.post("/userinfo", headers=bearer(token), data={"access_token": token})
    elif how == "body twice":
        response = flow.client.post("/userinfo", data=MultiDict([("access_token", token), ("access_token", token)]))
    else:
        response = flow.client.get("/userinfo", headers=bearer(token), query_string={"access_token": token})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "error=\"invalid_request\"" in response.headers["WWW-Authenticate"]  # RFC 6750 §3


def test_a_token_in_a_json_or_get_body_is_not_read(flow):
    token = flow.tokens(scope="openid")["access_token"]
    response = flow.client.post("/userinfo", json={"access_token": token})
    assert response.status_code == 401
    assert flow.client.post("/userinfo", data={"access_token": "not a token"}).status_code == 401
