"""The second sign-in step: an authenticator app (TOTP, RFC 6238) set up from the account page,
asked for after the password, recovery codes, turning it off, the admin's reset, and apps that
require it (require_mfa, REQUIRE_MFA)."""

import json
import re
import textwrap
import time

import jwt as pyjwt
import pyotp
import pytest
from helpers import CLIENTS, PASSWORD, Flow, auth_params, csrf_token, login, pkce_pair, redirect_params

from idp import create_app
from idp.db import connect


def enroll(client):
    """Set up an authenticator app as a person would: read the key off the page, type a code."""
    page = client.get("/account/authenticator")
    seed = re.search(r'<code id="seed">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    assert "<svg" in page.text  # the QR code, drawn on the server
    totp = pyotp.TOTP(seed)
    done = client.post("/account/authenticator", data={"code": totp.now(), "password": PASSWORD,
                                                       "csrf_token": csrf_token(page.text)})
    assert done.status_code == 200 and "Your recovery codes" in done.text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    return totp, codes


def code_step(client, code):
    page = client.get("/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": csrf_token(page.text)})


def next_code(totp):
    """A code of the next time step (the current one was used to set up)."""
    return totp.at(time.time() + 30)


@pytest.fixture
def enrolled(flow):
    return enroll(flow.client)


def test_after_the_password_the_second_step_asks_for_a_code(app, enrolled):
    totp, _ = enrolled
    client = app.test_client()
    response = login(client)
    assert response.status_code == 303 and response.location == "/login/code"
    assert client.get("/account").status_code == 302  # nobody is signed in yet
    assert code_step(client, next_code(totp)).location == "/account"
    assert client.get("/account").status_code == 200


def test_a_code_is_accepted_once(app, enrolled):
    totp, _ = enrolled
    code = next_code(totp)
    first, second = app.test_client(), app.test_client()
    login(first), login(second)
    assert code_step(first, code).status_code == 303
    replay = code_step(second, code)
    assert replay.status_code == 400 and "That code is not right" in replay.text


def test_a_recovery_code_works_once(app, enrolled):
    _, codes = enrolled
    for expected in (303, 400):
        client = app.test_client()
        login(client)
        assert code_step(client, codes[0].upper()).status_code == expected


def test_wrong_codes_are_throttled_like_passwords(app, enrolled):
    totp, _ = enrolled
    client = app.test_client()
    login(client)
    for _ in range(5):
        assert code_step(client, "000000").status_code == 400
    blocked = code_step(client, next_code(totp))
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.text


def test_the_second_step_cannot_be_skipped(app, enrolled):
    client = app.test_client()
    login(client)
    params = auth_params(challenge=pkce_pair()[1])
    assert client.get("/authorize", query_string=params).location.startswith("/login?next=")
    assert app.test_client().get("/login/code").location == "/login"  # no pending sign-in: start again


def test_the_id_token_says_password_and_code(app, enrolled):
    totp, _ = enrolled
    client = app.test_client()
    login(client)
    code_step(client, next_code(totp))
    claims = pyjwt.decode(Flow(client).tokens(scope="openid")["id_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_the_seed_is_stored_encrypted(app, enrolled):
    totp, _ = enrolled
    dump = "\n".join(connect(app.config["DATABASE"]).iterdump())
    assert totp.secret not in dump


def test_a_reset_link_does_not_skip_the_second_step(app, enrolled):
    totp, _ = enrolled
    path = app.test_cli_runner().invoke(args=["user", "reset", "alice"]).output.strip().splitlines()[-1]
    client = app.test_client()
    page = client.get(path.removeprefix("http://localhost"))
    response = client.post(path.removeprefix("http://localhost"), data={
        "new": "a brand new passphrase", "confirm": "a brand new passphrase", "csrf_token": csrf_token(page.text)})
    assert response.location == "/login/code" and client.get("/account").status_code == 302
    assert code_step(client, next_code(totp)).location == "/account"


def test_turning_it_off_needs_password_and_code_and_ends_other_sessions(app, flow, enrolled):
    totp, codes = enrolled
    other = app.test_client()
    login(other)
    code_step(other, next_code(totp))
    page = flow.client.get("/account/authenticator")
    refused = flow.client.post("/account/authenticator/off", data={"password": "wrong", "code": totp.now(),
                                                                    "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 400 and "not your password" in refused.text
    done = flow.client.post("/account/authenticator/off", data={"password": PASSWORD, "code": codes[3],
                                                                 "csrf_token": csrf_token(page.text)})
    assert done.status_code == 303
    assert other.get("/account").status_code == 302 and flow.client.get("/account").status_code == 200
    assert login(app.test_client()).location == "/account"  # the password alone again


def test_the_admin_can_clear_it_for_a_lost_phone(app, enrolled, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    result = app.test_cli_runner().invoke(args=["user", "mfa", "reset", "alice"])
    assert result.exit_code == 0 and "cleared the second sign-in step" in result.output
    assert login(app.test_client()).location == "/account"
    assert any(json.loads(r.getMessage())["event"] == "mfa_reset_by_admin" for r in caplog.records if r.name == "idp.audit")
    shown = app.test_cli_runner().invoke(args=["user", "show", "alice"]).output.splitlines()
    assert [line.split() for line in shown if line.startswith("second step")] == [["second", "step", "none"]]


def _vault(settings, clients_file, **extra):
    """A Latchkey whose "vault" app sets require_mfa, with alice as a user."""
    from helpers import add_user

    clients_file.write_text(CLIENTS + textwrap.dedent("""
        [[clients]]
        client_id = "vault"
        client_secret = "vault-secret-0123456789"
        redirect_uris = ["https://vault.example/cb"]
        require_mfa = true
        """))
    app = create_app({**settings, **extra})
    add_user(app, "alice")
    return app


def test_an_app_that_requires_it_steps_up_a_password_session(settings, clients_file):
    app = _vault(settings, clients_file)
    client = app.test_client()
    login(client)
    totp, _ = enroll(client)  # setting up proves the phone: this session is strong now
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/logout").text)})
    login(client)
    code_step(client, next_code(totp))
    params = auth_params("vault", "https://vault.example/cb", scope="openid", challenge=pkce_pair()[1])
    assert "code" in redirect_params(client.get("/authorize", query_string=params))
    # A password-only session (the factor was cleared meanwhile) is asked for the second step.
    app.test_cli_runner().invoke(args=["user", "mfa", "reset", "alice"])
    weak = app.test_client()
    login(weak)
    to_setup = weak.get("/authorize", query_string=params)
    assert to_setup.location.startswith("/account/authenticator?next=")
    none = weak.get("/authorize", query_string={**params, "prompt": "none"})
    assert redirect_params(none)["error"] == "interaction_required"
    # Other apps are not held up.
    assert "code" in redirect_params(weak.get("/authorize", query_string=auth_params(challenge=pkce_pair()[1])))


def test_stepping_up_with_a_code_then_the_app_gets_its_code(settings, clients_file):
    app = _vault(settings, clients_file)
    setup = app.test_client()
    login(setup)
    totp, codes = enroll(setup)
    client = app.test_client()
    login(client)  # goes to /login/code; instead, finish with the code and then visit the vault
    code_step(client, next_code(totp))
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET amr = 'pwd'")  # a session from before
    params = auth_params("vault", "https://vault.example/cb", scope="openid", challenge=pkce_pair()[1])
    step_up = client.get("/authorize", query_string=params)
    assert step_up.location.startswith("/login/code?next=")
    page = client.get(step_up.location)
    back = client.post("/login/code", data={"code": codes[0], "next": page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&"),
                                            "csrf_token": csrf_token(page.text)})
    assert back.status_code == 303 and back.location.startswith("/authorize?")
    code = redirect_params(client.get(back.location))["code"]
    assert code


def test_require_mfa_everywhere(settings, clients_file):
    app = create_app({**settings, "REQUIRE_MFA": True})
    from helpers import add_user

    add_user(app, "alice")
    client = app.test_client()
    login(client)
    params = auth_params(challenge=pkce_pair()[1])
    assert client.get("/authorize", query_string=params).location.startswith("/account/authenticator?next=")


def test_require_mfa_must_be_true_or_false(settings):
    from idp import StartupError

    with pytest.raises(StartupError, match="REQUIRE_MFA must be true or false"):
        create_app({**settings, "REQUIRE_MFA": "sometimes"})


def test_acr_values_asking_for_mfa_are_honoured(app, flow, enrolled):
    """OIDC Core §3.1.2.1: acr_values=mfa steps up a password-only session; the ID token's acr says
    which was reached; discovery lists the values."""
    totp, _ = enrolled
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET amr = 'pwd'")
    plain = pyjwt.decode(flow.tokens(scope="openid")["id_token"], options={"verify_signature": False})
    assert plain["acr"] == "pwd"
    params = auth_params(challenge=pkce_pair()[1], acr_values="mfa")
    assert flow.client.get("/authorize", query_string=params).location.startswith("/login/code?next=")
    none = flow.client.get("/authorize", query_string={**params, "prompt": "none"})
    assert redirect_params(none)["error"] == "interaction_required"
    assert flow.client.get("/.well-known/openid-configuration").json["acr_values_supported"] == ["pwd", "mfa"]


def test_setting_it_up_needs_the_password_and_ends_other_sessions(app, flow):
    """A browser left signed in is not enough to add a factor; whoever adds one is alone after."""
    other = app.test_client()
    login(other)
    page = flow.client.get("/account/authenticator")
    seed = re.search(r'<code id="seed">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    refused = flow.client.post("/account/authenticator", data={"code": pyotp.TOTP(seed).now(), "password": "wrong",
                                                                "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 400 and "not your password" in refused.text
    enroll(flow.client)
    assert other.get("/account").status_code == 302


def test_the_seed_being_set_up_is_not_readable_in_the_cookie(flow):
    import base64
    import zlib

    page = flow.client.get("/account/authenticator")
    seed = re.search(r'<code id="seed">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    payload = flow.client.get_cookie("latchkey_session").value.split(".")
    raw = payload[1] if payload[0] == "" else payload[0]
    data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    text = zlib.decompress(data).decode() if payload[0] == "" else data.decode()
    assert seed not in text and "latchkey_new_totp_seed" in text


def test_wrong_codes_elsewhere_do_not_lock_the_owner_out_of_the_code_step(app, flow, enrolled):
    totp, _ = enrolled
    attacker = app.test_client()
    for _ in range(8):
        login(attacker)
        code_step(attacker, "000000")
    login(flow.client)  # her own browser, known from her sign-ins
    assert code_step(flow.client, next_code(totp)).status_code == 303


def test_turning_it_off_leaves_this_session_without_mfa(settings, clients_file):
    app = _vault(settings, clients_file)
    client = app.test_client()
    login(client)
    _, codes = enroll(client)
    page = client.get("/account/authenticator")
    client.post("/account/authenticator/off", data={"password": PASSWORD, "code": codes[0], "csrf_token": csrf_token(page.text)})
    params = auth_params("vault", "https://vault.example/cb", scope="openid", challenge=pkce_pair()[1])
    assert client.get("/authorize", query_string=params).location.startswith("/account/authenticator?next=")


def test_a_refreshed_id_token_keeps_acr(flow):
    tokens = flow.tokens(scope="openid offline_access")
    refreshed = flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json
    assert pyjwt.decode(refreshed["id_token"], options={"verify_signature": False})["acr"] == "pwd"


def test_a_missing_data_key_with_enrolled_apps_stops_the_start(app, settings, enrolled):
    import os

    from idp import StartupError

    os.remove(os.path.join(settings["INSTANCE_PATH"], "data_key"))
    with pytest.raises(StartupError, match="data_key is missing, but 1 authenticator app"):
        create_app(settings)


def test_a_person_with_a_passkey_steps_up_by_signing_in_with_it(settings, clients_file):
    """require_mfa and a password-only session: the person who has a passkey (and no authenticator
    app) is sent to sign in with it, and the app then gets its code."""
    from urllib.parse import parse_qs, urlsplit

    from passkey_device import Authenticator, add_passkey, passkey_sign_in

    app = _vault(settings, clients_file)
    client = app.test_client()
    login(client)
    phone = Authenticator()
    assert add_passkey(client, phone).status_code == 303
    connect(app.config["DATABASE"]).execute("UPDATE sessions SET amr = 'pwd'")
    params = auth_params("vault", "https://vault.example/cb", scope="openid", challenge=pkce_pair()[1])
    to_login = client.get("/authorize", query_string=params)
    assert to_login.location.startswith("/login?")
    next_url = parse_qs(urlsplit(to_login.location).query)["next"][0]
    signed_in = passkey_sign_in(client, phone, next_url=next_url)
    assert signed_in.status_code == 303 and signed_in.location == next_url
    assert "code" in redirect_params(client.get(next_url))
