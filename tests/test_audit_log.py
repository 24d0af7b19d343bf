"""The audit log: structured events for the security-relevant moments, and no secret in any log."""

import base64
import json

from helpers import PASSWORD, WEB_SECRET, login


def test_audit_log_records_each_event_without_secrets(client, alice, caplog):
    from helpers import Flow

    caplog.set_level("DEBUG")
    login(client, "alice", "a wrong password")
    login(client)
    flow = Flow(client)
    code, verifier = flow.code(scope="openid offline_access")
    first = flow.exchange(code, verifier).json
    second = flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json
    third = flow.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}).json
    flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})  # reuse
    fresh = flow.tokens()
    auth = {"Authorization": "Basic " + base64.b64encode(f"web:{WEB_SECRET}".encode()).decode()}
    client.post("/revoke", data={"token": fresh["access_token"]}, headers=auth)

    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    names = [e["event"] for e in events]
    for expected in ("sign_in_failed", "sign_in", "token_issued", "token_rotated", "grant_revoked", "token_revoked"):
        assert expected in names, names
    reuse = [e for e in events if e["event"] == "grant_revoked"][0]
    assert reuse["reason"] == "rotated refresh token reused" and reuse["tokens"] >= 1
    issued = [e for e in events if e["event"] == "token_issued"][0]
    assert issued["client"] == "web" and issued["user"] == "alice"

    everything = caplog.text
    secrets = [PASSWORD, "a wrong password", WEB_SECRET, code, verifier]
    for tokens in (first, second, third, fresh):
        secrets += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    for secret in secrets:
        assert secret not in everything


def test_the_audit_module_refuses_secret_fields():
    import pytest

    from idp import audit

    with pytest.raises(ValueError):
        audit.event("oops", password="x")


def test_embedded_latchkey_keeps_authlib_debug_logs_off(settings):
    import logging

    from flask import Flask

    from idp import Latchkey

    logging.getLogger("authlib").setLevel(logging.DEBUG)
    Latchkey(Flask("host"), settings=settings)
    assert logging.getLogger("authlib").level == logging.INFO


def test_each_reason_an_admin_can_act_on_is_its_own_event(app, client, alice, caplog):
    """Issue: distinct audit reasons; the person still sees one message for all sign-in failures."""
    import time as clock

    from helpers import auth_params, login, pkce_pair
    from test_invitations import join

    from idp.db import connect

    caplog.set_level("INFO", logger="idp.audit")
    runner = app.test_cli_runner()
    runner.invoke(args=["user", "add", "bob", "--email", "bob@example.org", "--password-stdin"], input="bob's long password\n")
    runner.invoke(args=["user", "disable", "bob"])
    runner.invoke(args=["user", "invite", "dora", "--email", "dora@example.org"])
    pages = [login(app.test_client(), *who).text for who in
             (("alice", "wrong password"), ("nobody", "wrong password"), ("bob", "bob's long password"), ("dora", "anything at all"))]
    assert all("Wrong username or password." in page for page in pages)
    for _ in range(5):
        login(app.test_client(), "alice", "wrong again")
    login(app.test_client(), "alice", "wrong again")  # throttled
    erin_link = runner.invoke(args=["user", "invite", "erin", "--email", "erin@example.org"]).output.strip().splitlines()[-1]
    join(app.test_client(), erin_link.removeprefix("http://localhost"))
    app.test_client().get(erin_link.removeprefix("http://localhost"))  # used
    expired = runner.invoke(args=["user", "reset", "alice"]).output.strip().splitlines()[-1].removeprefix("http://localhost")
    connect(app.config["DATABASE"]).execute("UPDATE links SET expires_at = ? WHERE kind = 'reset'", (int(clock.time()) - 1,))
    client.get(expired)
    signed_in = app.test_client()
    runner.invoke(args=["user", "add", "carol", "--email", "carol@example.org", "--password-stdin"], input="carol's long password\n")
    login(signed_in, "carol", "carol's long password")
    signed_in.get("/authorize", query_string=auth_params("staff", "https://staff.example/cb", scope="openid",
                                                         challenge=pkce_pair()[1]))
    client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "web",
                                "client_secret": "wrong"})
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    reasons = {e.get("reason") for e in events if e["event"] == "sign_in_failed"}
    assert reasons == {"wrong_password", "unknown_user", "disabled_user", "invited_user"}
    names = {e["event"] for e in events}
    assert {"sign_in_throttled", "link_used", "link_expired", "access_denied_by_groups", "client_auth_failed"} <= names
    failed_client = next(e for e in events if e["event"] == "client_auth_failed")
    assert failed_client["tried"] == "client_secret_post" and failed_client["registered"] == "client_secret_basic"
