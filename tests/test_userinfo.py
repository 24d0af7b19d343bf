"""UserInfo (OIDC Core §5.3) and bearer token errors (RFC 6750 §3)."""

import pytest

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
