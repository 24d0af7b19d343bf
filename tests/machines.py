"""What the machine and device tests share: two APIs, the apps that use them (a backup script, a hub
with two APIs, key-signing apps, TV apps, a web app), their keys, and small helpers."""

import json
import textwrap

import jwt as pyjwt
from helpers import CLIENTS, csrf_token, login
from joserfc.jwk import ECKey, RSAKey

BOATS = "https://boats.example/api"
MUSIC = "https://music.example/api"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BACKUP = ("backup", "backup-secret-0123456789")
HUB = ("hub", "hub-secret-0123456789")
CLUB_WEB = ("club-web", "club-web-secret-0123456789")
# The apps' private keys (private_key_jwt); clients.toml holds the public halves.
RSA_KEY = RSAKey.generate_key(2048, {"kid": "rsa-1", "alg": "RS256", "use": "sig"}, private=True)
EC_KEY = ECKey.generate_key("P-256", {"kid": "ec-1", "alg": "ES256", "use": "sig"}, private=True)


def public_jwks(*keys):
    return {"keys": [key.as_dict(private=False) for key in keys]}


def toml_jwks(*keys):
    """An inline TOML table for `jwks = …`."""
    items = [", ".join(f"{k} = {json.dumps(v)}" for k, v in key.as_dict(private=False).items()) for key in keys]
    return "{ keys = [" + ", ".join("{ " + item + " }" for item in items) + "] }"


MACHINE_CLIENTS = CLIENTS + textwrap.dedent(f"""
    [[apis]]
    audience = "{BOATS}"
    name = "Boat bookings"
    scopes = ["boats:read", "boats:write"]
    access_token_ttl = 300

    [[apis]]
    audience = "{MUSIC}"
    scopes = ["music:play"]

    [[clients]]
    client_id = "backup"
    client_secret = "{BACKUP[1]}"
    grant_types = ["client_credentials"]
    scope = "boats:read boats:write"

    [[clients]]
    client_id = "hub"
    client_secret = "{HUB[1]}"
    grant_types = ["client_credentials"]
    scope = "boats:read music:play"

    [[clients]]
    client_id = "signer"
    token_endpoint_auth_method = "private_key_jwt"
    jwks = {toml_jwks(RSA_KEY)}
    grant_types = ["client_credentials"]
    scope = "boats:read"

    [[clients]]
    client_id = "ec-signer"
    token_endpoint_auth_method = "private_key_jwt"
    jwks = {toml_jwks(EC_KEY)}
    grant_types = ["client_credentials"]
    scope = "boats:read"

    [[clients]]
    client_id = "tv"
    client_name = "Club TV"
    token_endpoint_auth_method = "none"
    grant_types = ["{DEVICE_GRANT}", "refresh_token"]
    scope = "openid profile offline_access boats:read"

    [[clients]]
    client_id = "other-tv"
    token_endpoint_auth_method = "none"
    grant_types = ["{DEVICE_GRANT}"]
    scope = "openid"

    [[clients]]
    client_id = "vault-tv"
    client_name = "Vault TV"
    token_endpoint_auth_method = "none"
    grant_types = ["{DEVICE_GRANT}"]
    scope = "openid"
    require_mfa = true

    [[clients]]
    client_id = "staff-tv"
    client_name = "Staff TV"
    token_endpoint_auth_method = "none"
    grant_types = ["{DEVICE_GRANT}"]
    scope = "openid"
    allowed_groups = ["board"]

    [[clients]]
    client_id = "club-web"
    client_name = "Club web app"
    client_secret = "{CLUB_WEB[1]}"
    redirect_uris = ["https://club.example/cb"]
    scope = "openid profile offline_access boats:read music:play"
    """)


def claims(token):
    """A JWT's claims, unverified (the tests that verify use the JWKS)."""
    return pyjwt.decode(token, options={"verify_signature": False})


def start_device(client, client_id="tv", scope="openid profile offline_access boats:read", **extra):
    response = client.post("/device_authorization", data={"client_id": client_id, "scope": scope, **extra})
    assert response.status_code == 200, response.json
    return response.json


def poll(client, device_code, client_id="tv"):
    return client.post("/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id})


def enter_code(browser, user_code):
    """A signed-in browser types the user code at /activate; return the response."""
    page = browser.get("/activate")
    return browser.post("/activate", data={"user_code": user_code, "csrf_token": csrf_token(page.text)})


def approve(browser, user_code, decision="allow"):
    """Type the code and answer the confirmation; return the final response."""
    response = enter_code(browser, user_code)
    assert response.status_code == 303 and response.location.endswith("/activate/confirm"), response.text
    page = browser.get("/activate/confirm")
    return browser.post("/activate/confirm", data={"decision": decision, "csrf_token": csrf_token(page.text)})


def signed_in_browser(app, username="alice"):
    browser = app.test_client()
    assert login(browser, username).status_code == 303
    return browser


def readme_block(section, language="sh"):
    """The first ```language block of a README section ("### …" heading text), as written."""
    import re
    from pathlib import Path

    from helpers import ROOT

    text = Path(ROOT, "README.md").read_text(encoding="utf-8").split(section, 1)[1]
    return re.search(rf"```{language}\n(.*?)```", text, re.S).group(1)


def approve_over_http(url, user_code, username="alice", password=None):
    """A person at /activate with nothing but HTTP (requests): sign in, type the code, allow."""
    import requests
    from helpers import PASSWORD

    session = requests.Session()
    page = session.get(f"{url}/login", params={"next": "/activate"}, timeout=10)
    signed_in = session.post(f"{url}/login", timeout=10, allow_redirects=False, data={
        "username": username, "password": password or PASSWORD, "next": "/activate", "csrf_token": csrf_token(page.text)})
    assert signed_in.status_code == 303, signed_in.text
    page = session.get(f"{url}/activate", timeout=10)
    entered = session.post(f"{url}/activate", data={"user_code": user_code, "csrf_token": csrf_token(page.text)},
                           timeout=10)
    assert entered.url.endswith("/activate/confirm"), entered.text
    done = session.post(f"{url}/activate/confirm", data={"decision": "allow", "csrf_token": csrf_token(entered.text)},
                        timeout=10)
    assert "Your device is signed in" in done.text, done.text
