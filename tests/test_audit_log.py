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
