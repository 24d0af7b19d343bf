"""Passkeys (WebAuthn), the server's rules: added from the account page, a passkey alone signs in
(amr hwk/swk, user, mfa), and origins, RP ids, challenges, counters and unknown credentials are
checked. The authenticator is passkey_device.Authenticator: a real key, a real signature."""

import base64
import json
import os
import re
import time
from urllib.parse import unquote

import cbor2
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import PASSWORD, Flow, auth_params, csrf_token, pkce_pair, redirect_params
from passkey_device import Authenticator, add_passkey, audit_events, b64url, db_rows, device, options, passkey_sign_in  # noqa: F401


# --- Adding, listing, renaming ---

def test_a_passkey_is_added_from_the_account_page_and_listed(flow, device, caplog):
    page = flow.client.get("/account").text
    assert "My phone" in page and "never used yet" in page and "This device only" in page
    assert '<script src="/static/passkeys.js" defer></script>' in page


def test_registration_options_ask_for_a_discoverable_credential_with_user_verification_preferred(flow):
    opts, _ = options(flow.client, "/account/passkeys/options")
    assert opts["rp"]["id"] == "localhost" and opts["user"]["name"] == "alice"
    assert opts["authenticatorSelection"]["residentKey"] == "required"
    assert opts["authenticatorSelection"]["userVerification"] == "preferred"
    assert "alice" not in base64.urlsafe_b64decode(opts["user"]["id"] + "==").decode("latin-1")


def test_a_passkey_registered_already_is_excluded_and_refused_again(flow, device):
    opts, token = options(flow.client, "/account/passkeys/options")
    assert [c["id"] for c in opts["excludeCredentials"]] == [b64url(device.credential_id)]
    again = flow.client.post("/account/passkeys", data={"csrf_token": token, "credential": device.create(opts)})
    assert again.status_code == 303 and "registered already" in flow.client.get("/account").text


def test_options_need_the_pages_csrf_token(flow):
    assert flow.client.post("/account/passkeys/options").status_code == 400
    assert flow.client.post("/login/passkey/options", headers={"X-CSRFToken": "forged"}).status_code == 400


def test_a_session_signed_in_a_while_ago_adds_a_passkey_only_with_the_password(app, flow, monkeypatch, caplog):
    """As for an authenticator app: a browser left signed in is not enough to add a way in. The
    password is checked before the options, so a refusal leaves no passkey on the device."""
    caplog.set_level("INFO", logger="idp.audit")
    import idp.views.passkeys

    monkeypatch.setattr(idp.views.passkeys, "FRESH_FOR_ADDING", -60)
    page = flow.client.get("/account").text
    assert 'id="passkey-password"' in page
    headers = {"X-CSRFToken": csrf_token(page)}
    asked = flow.client.post("/account/passkeys/options", headers=headers)
    assert asked.status_code == 400 and asked.json["error"] == "Type your password to add a passkey."
    wrong = flow.client.post("/account/passkeys/options", headers=headers, data={"password": "not it"})
    assert wrong.status_code == 400 and wrong.json["error"] == "That is not your password."
    assert audit_events(caplog, "password_check_failed")
    right = flow.client.post("/account/passkeys/options", headers=headers, data={"password": PASSWORD})
    assert right.status_code == 200 and right.json["rp"]["id"] == "localhost"


def test_a_passkey_is_renamed(app, flow, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    (passkey_id,) = db_rows(app, "SELECT id FROM authenticators WHERE kind = 'passkey'")[0]
    token = csrf_token(flow.client.get("/account").text)
    flow.client.post(f"/account/passkeys/{passkey_id}/rename", data={"csrf_token": token, "name": "Work laptop"})
    assert "Work laptop" in flow.client.get("/account").text
    assert audit_events(caplog, "passkey_renamed")[0]["user"] == "alice"


def test_a_registration_from_another_origin_is_refused(flow, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    response = add_passkey(flow.client, Authenticator(), origin="http://evil.example")
    assert response.status_code == 303 and "could not be checked" in flow.client.get("/account").text
    assert audit_events(caplog, "passkey_add_failed")[0]["reason"] == "wrong_origin"


# --- Signing in with a passkey ---

def test_a_passkey_alone_signs_in_with_amr_hwk_user_mfa(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    response = passkey_sign_in(client, device)
    assert response.status_code == 303 and response.location == "/account"
    assert client.get("/account").status_code == 200
    assert audit_events(caplog, "sign_in")[-1]["amr"] == ["hwk", "user", "mfa"]
    assert "last used" in client.get("/account").text


def test_a_passkey_sign_in_goes_on_to_the_authorization_request_and_the_id_token_says_how(app, device):
    client = app.test_client()
    verifier, challenge = pkce_pair()
    params = auth_params(scope="openid", challenge=challenge, nonce="n-1")
    start = client.get("/authorize", query_string=params)
    next_url = re.search(r"next=(.+)$", start.location).group(1)
    next_url = unquote(next_url)
    response = passkey_sign_in(client, device, next_url=next_url)
    assert response.status_code == 303 and response.location == next_url
    code = redirect_params(client.get(response.location))["code"]
    tokens = Flow(client).exchange(code, verifier).json
    claims = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["amr"] == ["hwk", "user", "mfa"] and claims["sub"] == "alice"


def test_a_synced_passkey_signs_in_as_swk(app, flow):
    device = Authenticator(synced=True)
    add_passkey(flow.client, device)
    assert "Synced" in flow.client.get("/account").text
    client = app.test_client()
    assert passkey_sign_in(client, device).status_code == 303
    assert db_rows(app, "SELECT amr FROM sessions ORDER BY rowid DESC LIMIT 1")[0][0] == "swk user mfa"
    assert tuple(db_rows(app, "SELECT backup_eligible, backup_state FROM authenticators WHERE kind = 'passkey'")[0]) == (1, 1)


def test_without_user_verification_a_passkey_is_one_factor(app, flow):
    device = Authenticator(verifies=False)
    add_passkey(flow.client, device)
    client = app.test_client()
    assert passkey_sign_in(client, device).status_code == 303
    assert db_rows(app, "SELECT amr FROM sessions ORDER BY rowid DESC LIMIT 1")[0][0] == "hwk user"


def test_a_passkey_session_is_strong_enough_for_acr_values_mfa(app, device):
    client = app.test_client()
    passkey_sign_in(client, device)
    code, verifier = Flow(client).code(scope="openid", acr_values="mfa")
    assert Flow(client).exchange(code, verifier).status_code == 200


def refused(client, response, caplog, reason):
    assert response.status_code == 303 and response.location.startswith("/login")
    assert client.get("/account").status_code == 302  # nobody is signed in
    events = audit_events(caplog, "passkey_sign_in_failed")
    assert events and events[-1]["reason"] == reason, events
    return client.get(response.location).text


@pytest.mark.parametrize("credential", ["", "not json", "[]", '{"id": 5}', '{"id": "x", "response": []}',
                                        '{"id": "x", "rawId": "!!", "type": "public-key", "response": {}}',
                                        "x" * 30000])
def test_a_malformed_credential_is_refused_without_a_server_error(app, client, credential):
    page = client.get("/login")
    response = client.post("/login/passkey", data={"csrf_token": csrf_token(page.text), "credential": credential})
    assert response.status_code == 303 and response.location == "/login"


def test_a_malformed_answer_to_a_real_challenge_is_refused_without_a_server_error(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    opts, token = options(client, "/login/passkey/options", page="/login")
    answer = json.loads(device.get(opts))
    answer["response"]["authenticatorData"] = "AAAA"
    response = client.post("/login/passkey", data={"csrf_token": token, "credential": json.dumps(answer)})
    refused(client, response, caplog, "invalid_response")


def test_a_sign_in_from_another_origin_is_refused(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    page = refused(client, passkey_sign_in(client, device, origin="http://localhost.evil.example"), caplog,
                   "wrong_origin")
    assert "could not be checked" in page


def test_a_sign_in_for_another_rp_id_is_refused(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    refused(client, passkey_sign_in(client, device, rp_id="evil.example"), caplog, "wrong_rp_id")


def test_a_challenge_is_used_once_even_with_an_old_copy_of_the_cookie(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    opts, token = options(client, "/login/passkey/options", page="/login")
    copy = client.get_cookie("latchkey_session").value  # the challenge is in it
    assertion = device.get(opts)  # a counter of 0: only the challenge can stop a replay
    assert client.post("/login/passkey", data={"csrf_token": token, "credential": assertion}).status_code == 303
    thief = app.test_client()
    thief.set_cookie("latchkey_session", copy)
    replay = thief.post("/login/passkey", data={"csrf_token": token, "credential": assertion})
    refused(thief, replay, caplog, "unknown_challenge")


def test_a_challenge_that_was_never_issued_is_refused(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    made_up = {"rpId": "localhost", "challenge": b64url(os.urandom(32))}
    response = client.post("/login/passkey", data={"csrf_token": token, "credential": device.get(made_up)})
    refused(client, response, caplog, "unknown_challenge")


def test_an_expired_challenge_is_refused(app, device, caplog, monkeypatch):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    opts, token = options(client, "/login/passkey/options", page="/login")
    import idp.signin.passkeys

    later = time.time() + idp.signin.passkeys.CHALLENGE_TTL + 1
    monkeypatch.setattr(idp.signin.passkeys.time, "time", lambda: later)
    response = client.post("/login/passkey", data={"csrf_token": token, "credential": device.get(opts)})
    refused(client, response, caplog, "unknown_challenge")


def test_a_registration_challenge_does_not_sign_in(app, flow, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    opts, token = options(flow.client, "/account/passkeys/options")
    response = flow.client.post("/login/passkey", data={"csrf_token": token, "credential": device.get(
        {"rpId": "localhost", "challenge": opts["challenge"]})})
    assert audit_events(caplog, "passkey_sign_in_failed")[-1]["reason"] == "unknown_challenge"
    assert response.status_code == 303


def test_a_counter_that_does_not_increase_is_refused_and_audited(app, flow, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    device = Authenticator(counter=5)
    add_passkey(flow.client, device)
    assert passkey_sign_in(app.test_client(), device).status_code == 303  # 6 > 5
    clone = app.test_client()
    device.counter = 5  # a copy of the key that has signed less
    refused(clone, passkey_sign_in(clone, device), caplog, "counter_regressed")
    regressed = audit_events(caplog, "passkey_counter_regressed")
    assert regressed[0]["user"] == "alice" and regressed[0]["stored"] == 6 and regressed[0]["received"] == 6
    assert db_rows(app, "SELECT sign_count FROM authenticators WHERE kind = 'passkey'")[0][0] == 6


def test_counters_that_stay_zero_are_fine(app, device):
    """§6.1.1: an authenticator without a counter (synced passkeys) always says 0."""
    for _ in range(2):
        assert passkey_sign_in(app.test_client(), device).location == "/account"


def test_an_unknown_credential_is_refused(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    stranger = Authenticator()
    stranger.user_handle = device.user_handle
    page = refused(client, passkey_sign_in(client, stranger), caplog, "unknown_credential")
    assert "not registered here" in page


def test_a_signature_by_another_key_is_refused(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client = app.test_client()
    device.key = ec.generate_private_key(ec.SECP256R1())
    refused(client, passkey_sign_in(client, device), caplog, "bad_signature")


def test_a_disabled_persons_passkey_does_not_sign_in(app, device, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    assert app.test_cli_runner().invoke(args=["user", "disable", "alice"]).exit_code == 0
    client = app.test_client()
    refused(client, passkey_sign_in(client, device), caplog, "disabled_user")


def test_an_admins_mfa_reset_keeps_passkeys(app, device):
    assert app.test_cli_runner().invoke(args=["user", "mfa", "reset", "alice"]).exit_code == 0
    assert passkey_sign_in(app.test_client(), device).status_code == 303
    assert db_rows(app, "SELECT COUNT(*) FROM authenticators WHERE kind = 'passkey'")[0][0] == 1


def test_passkeys_are_stored_with_their_public_key_only(app, device):
    row = db_rows(app, "SELECT credential_id, public_key, sign_count, transports, backup_eligible, name,"
                       " user_handle FROM authenticators WHERE kind = 'passkey'")[0]
    assert row["credential_id"] == b64url(device.credential_id) and row["transports"] == "internal"
    assert row["sign_count"] == 0 and row["backup_eligible"] == 0 and row["name"] == "My phone"
    assert b64url(row["user_handle"]) == device.user_handle
    assert cbor2.loads(row["public_key"])[3] == -7  # ES256
