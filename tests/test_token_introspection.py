"""Introspection (RFC 7662)."""

import base64
import time

from helpers import WEB_SECRET

from idp.db import connect


def basic(client_id="web", secret=WEB_SECRET):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def introspect(flow, token, headers=None, **extra):
    return flow.client.post("/introspect", data={"token": token, **extra},
                            headers=basic() if headers is None else headers)


def test_active_access_token_reports_its_details(flow):
    tokens = flow.tokens(scope="openid email offline_access")
    data = introspect(flow, tokens["access_token"]).json
    assert data["active"] is True and data["scope"] == "openid email offline_access"
    assert data["client_id"] == "web" and data["username"] == "alice" and data["sub"] == "alice"
    assert data["token_type"] == "Bearer" and data["exp"] - data["iat"] == 900


def test_refresh_token_uses_its_own_expiry(flow):
    tokens = flow.tokens()
    data = introspect(flow, tokens["refresh_token"], token_type_hint="refresh_token").json
    assert data["active"] is True and data["token_type"] == "refresh_token"
    assert data["exp"] - data["iat"] == 30 * 24 * 3600
    connect(flow.client.application.config["DATABASE"]).execute("UPDATE tokens SET access_expires_at = 1")
    assert introspect(flow, tokens["refresh_token"]).json["active"] is True
    assert introspect(flow, tokens["access_token"]).json == {"active": False}


def test_inactive_tokens_say_exactly_active_false(flow, app):
    tokens = flow.tokens()
    assert introspect(flow, "unknown").json == {"active": False}
    flow.client.post("/revoke", data={"token": tokens["refresh_token"]}, headers=basic())
    assert introspect(flow, tokens["access_token"]).json == {"active": False}
    assert introspect(flow, tokens["refresh_token"]).json == {"active": False}
    fresh = flow.tokens()
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET refresh_expires_at = ?", (int(time.time()) - 1,))
    assert introspect(flow, fresh["refresh_token"]).json == {"active": False}


def test_a_rotated_refresh_token_is_inactive(flow):
    tokens = flow.tokens()
    flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert introspect(flow, tokens["refresh_token"]).json == {"active": False}


def test_a_client_sees_only_its_own_tokens(flow):
    tokens = flow.tokens()
    other = basic("legacy", "legacy-secret-0123456789")
    assert introspect(flow, tokens["access_token"], headers=other).json == {"active": False}


def test_the_caller_must_authenticate(flow):
    tokens = flow.tokens()
    response = introspect(flow, tokens["access_token"], headers={})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    public = flow.client.post("/introspect", data={"token": tokens["access_token"], "client_id": "spa"})
    assert public.status_code == 401


def test_introspection_answers_are_not_cached(flow):
    response = introspect(flow, "x")
    assert response.headers["Cache-Control"] == "no-store"


def test_introspection_shows_auth_time_and_amr(flow):
    import base64

    from helpers import WEB_SECRET

    tokens = flow.tokens(scope="openid")
    basic = {"Authorization": "Basic " + base64.b64encode(f"web:{WEB_SECRET}".encode()).decode()}
    data = flow.client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic).json
    assert data["active"] and data["amr"] == ["pwd"] and isinstance(data["auth_time"], int)
