"""Per-client settings in clients.toml take effect."""

import time

from helpers import auth_params, redirect_params

from idp.db import connect, secret_hash

LEGACY = {"client_id": "legacy", "redirect_uri": "https://legacy.example/cb"}


def test_access_token_ttl(flow, app):
    tokens = flow.tokens(scope="openid offline_access", **LEGACY)
    assert tokens["expires_in"] == 60
    row = connect(app.config["DATABASE"]).execute(
        "SELECT access_expires_at - issued_at FROM tokens WHERE access_hash = ?",
        (secret_hash(tokens["access_token"]),)).fetchone()
    assert row[0] == 60


def test_refresh_token_ttl(flow, app):
    tokens = flow.tokens(scope="openid offline_access", **LEGACY)
    row = connect(app.config["DATABASE"]).execute(
        "SELECT refresh_expires_at - issued_at FROM tokens WHERE refresh_hash = ?",
        (secret_hash(tokens["refresh_token"]),)).fetchone()
    assert row[0] == 3600


def test_refresh_token_ttl_counts_from_the_last_use(flow, app):
    tokens = flow.tokens(scope="openid offline_access", **LEGACY)
    db = connect(app.config["DATABASE"])
    db.execute("UPDATE tokens SET issued_at = issued_at - 3000, refresh_expires_at = refresh_expires_at - 3000")
    refreshed = flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, "legacy").json
    row = db.execute("SELECT refresh_expires_at FROM tokens WHERE refresh_hash = ?",
                     (secret_hash(refreshed["refresh_token"]),)).fetchone()
    assert row[0] >= time.time() + 3500


def test_require_pkce_false_still_verifies_pkce_when_the_app_sends_it(flow):
    from helpers import pkce_pair

    code, _ = flow.code(scope="openid", **LEGACY)
    response = flow.exchange(code, pkce_pair()[0], **LEGACY)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_grant_types_without_refresh_token_refuses_the_refresh_grant(flow):
    tokens = flow.tokens(scope="openid offline_access", client_id="web")
    response = flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, "staff")
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_allowed_groups_is_checked_on_every_authorization(flow, app):
    from helpers import pkce_pair

    connect(app.config["DATABASE"]).execute("DELETE FROM user_groups WHERE group_name = 'staff'")
    params = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1], prompt="none")
    assert redirect_params(flow.client.get("/authorize", query_string=params))["error"] == "access_denied"
