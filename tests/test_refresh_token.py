"""The refresh grant: offline_access only, rotation, reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

import threading

import jwt
from helpers import Flow

from idp.db import connect, secret_hash


def refresh(flow, token, client_id="web", **extra):
    return flow.token({"grant_type": "refresh_token", "refresh_token": token, **extra}, client_id)


def test_no_refresh_token_without_offline_access(flow):
    assert "refresh_token" not in flow.tokens(scope="openid profile")


def test_refresh_returns_a_new_pair_and_kills_the_old_refresh_token(flow, app):
    first = flow.tokens()
    response = refresh(flow, first["refresh_token"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    second = response.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    db = connect(app.config["DATABASE"])
    old = db.execute("SELECT rotated_at FROM tokens WHERE refresh_hash = ?",
                     (secret_hash(first["refresh_token"]),)).fetchone()
    assert old["rotated_at"] is not None
    assert refresh(flow, second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(flow, app):
    first = flow.tokens()
    second = refresh(flow, first["refresh_token"]).json
    third = refresh(flow, second["refresh_token"]).json  # the new one has been used
    reuse = refresh(flow, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    # the newest refresh token and access token of the same grant are dead too
    assert refresh(flow, third["refresh_token"]).json["error"] == "invalid_grant"
    userinfo = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + third["access_token"]})
    assert userinfo.status_code == 401
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL").fetchone()[0] == 0


def test_retry_within_grace_before_the_new_token_was_used_gets_a_working_pair(flow, app):
    first = flow.tokens()
    lost = refresh(flow, first["refresh_token"]).json  # the answer never reached the client
    retry = refresh(flow, first["refresh_token"])
    assert retry.status_code == 200
    assert refresh(flow, retry.json["refresh_token"]).status_code == 200
    # the pair whose answer was lost was retired, not left alive beside the new one
    assert refresh(flow, lost["refresh_token"]).json["error"] == "invalid_grant"


def test_retry_after_the_grace_revokes_the_grant(flow, app):
    first = flow.tokens()
    second = refresh(flow, first["refresh_token"]).json
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET rotated_at = rotated_at - 11")
    assert refresh(flow, first["refresh_token"]).json["error"] == "invalid_grant"
    assert refresh(flow, second["refresh_token"]).json["error"] == "invalid_grant"


def test_grace_zero_turns_the_retry_off(settings, alice):
    from helpers import login

    from idp import create_app

    app = create_app({**settings, "REFRESH_REUSE_GRACE": 0})
    client = app.test_client()
    login(client)
    flow = Flow(client)
    first = flow.tokens()
    refresh(flow, first["refresh_token"])
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET rotated_at = rotated_at - 1")
    assert refresh(flow, first["refresh_token"]).json["error"] == "invalid_grant"


def test_refresh_scope_can_only_narrow(flow):
    first = flow.tokens(scope="openid profile email offline_access")
    narrowed = refresh(flow, first["refresh_token"], scope="openid email")
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "openid email"
    # the new refresh token keeps the originally granted scope (RFC 6749 §6)
    again = refresh(flow, narrowed.json["refresh_token"])
    assert set(again.json["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    wider = refresh(flow, again.json["refresh_token"], scope="openid groups")
    assert wider.status_code == 400 and wider.json["error"] == "invalid_scope"


def test_refresh_token_is_bound_to_its_client(flow):
    first = flow.tokens()
    response = refresh(flow, first["refresh_token"], client_id="legacy")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_refreshed_id_token_keeps_sub_and_auth_time_and_drops_nonce(flow, app):
    first = flow.tokens(nonce="n-1")
    second = refresh(flow, first["refresh_token"]).json
    claims = [jwt.decode(t["id_token"], options={"verify_signature": False}) for t in (first, second)]
    assert claims[0]["nonce"] == "n-1" and "nonce" not in claims[1]
    assert claims[1]["sub"] == claims[0]["sub"] == "alice"
    assert claims[1]["auth_time"] == claims[0]["auth_time"]


def test_expired_refresh_token_is_refused(flow, app):
    first = flow.tokens()
    connect(app.config["DATABASE"]).execute("UPDATE tokens SET refresh_expires_at = 1")
    assert refresh(flow, first["refresh_token"]).json["error"] == "invalid_grant"


def test_client_without_refresh_grant_gets_no_refresh_token(flow):
    tokens = flow.tokens(scope="openid offline_access", client_id="staff", redirect_uri="https://staff.example/cb")
    assert "refresh_token" not in tokens


def test_public_client_refreshes_with_its_client_id(flow):
    tokens = flow.tokens(scope="openid offline_access", client_id="spa", redirect_uri="http://127.0.0.1:5173/cb")
    response = refresh(flow, tokens["refresh_token"], client_id="spa")
    assert response.status_code == 200 and "refresh_token" in response.json


def test_parallel_refreshes_of_one_token_never_both_succeed(flow, app):
    first = flow.tokens()
    results = []

    def go():
        with app.test_client() as c:
            results.append(refresh(Flow(c), first["refresh_token"]).json)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    issued = [r["refresh_token"] for r in results if "refresh_token" in r]
    still_working = [t for t in issued if refresh(flow, t).status_code == 200]
    assert len(results) == 6 and len(still_working) <= 1


def test_a_thief_retrying_first_within_the_grace_loses_the_grant_when_the_owner_comes_back(flow):
    first = flow.tokens()
    owners = flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json
    thiefs = flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json
    owner_again = flow.token({"grant_type": "refresh_token", "refresh_token": owners["refresh_token"]})
    assert owner_again.status_code == 400
    stolen = flow.token({"grant_type": "refresh_token", "refresh_token": thiefs["refresh_token"]})
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
