"""The client_credentials grant (RFC 6749 §4.4): an app calls an API as itself. API scopes only, a JWT
for the API, no refresh token, no ID token, no person; audited, revocable and introspectable."""

import json
import logging
import os
import subprocess
from pathlib import Path

import jwt as pyjwt
import pytest
from authlib.integrations.requests_client import OAuth2Session
from helpers import ROOT, LiveServer
from machines import BACKUP, BOATS, HUB, MACHINE_CLIENTS, MUSIC, claims, readme_block

from idp.clients import ClientsFileError, parse
from idp.settings import DEFAULTS


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(MACHINE_CLIENTS)
    return path


def token(client, auth=BACKUP, **data):
    return client.post("/token", data={"grant_type": "client_credentials", **data}, auth=auth)


def test_an_app_gets_a_jwt_access_token_for_its_api_and_nothing_else(client):
    response = token(client, scope="boats:read")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer" and body["scope"] == "boats:read"
    assert body["expires_in"] == 300  # the API's access_token_ttl
    assert "refresh_token" not in body and "id_token" not in body  # RFC 6749 §4.4.3: no refresh token
    assert response.headers["Cache-Control"] == "no-store"
    jwks = pyjwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json)
    header = pyjwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["kid"] == "1" and header["alg"] == "RS256"
    verified = pyjwt.decode(body["access_token"], jwks["1"].key, algorithms=["RS256"], audience=BOATS,
                            issuer="http://localhost")
    # RFC 9068 §2.2: no person, so `sub` is the app; no auth_time or amr.
    assert verified["sub"] == verified["client_id"] == "backup"
    assert verified["scope"] == "boats:read"
    assert verified["exp"] - verified["iat"] == 300 and verified["jti"]
    assert "auth_time" not in verified and "amr" not in verified


@pytest.mark.parametrize("scope", [None, "", " ", "   "])
def test_without_scope_an_app_gets_every_scope_of_its_api(client, scope):
    body = token(client, **({} if scope is None else {"scope": scope})).json
    assert body["scope"] == "boats:read boats:write"
    assert claims(body["access_token"])["aud"] == BOATS


@pytest.mark.parametrize("scope", ["openid", "offline_access", "boats:read offline_access", "profile",
                                   "music:play", "boats:sail"])
def test_scopes_that_are_not_the_apps_api_scopes_are_refused(client, scope):
    # No person signs in: openid and offline_access mean nothing; another API's scope is not the app's.
    response = token(client, scope=scope)
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_an_app_without_the_grant_is_unauthorized(client):
    response = token(client, auth=("web", "web-secret-0123456789"), scope="openid")
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_public_app_cannot_use_client_credentials(client):
    response = client.post("/token", data={"grant_type": "client_credentials", "client_id": "tv"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_wrong_secret_is_invalid_client(client):
    response = token(client, auth=("backup", "wrong"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_resource_chooses_the_api_of_an_app_with_several(client):
    # RFC 9068 §3: scopes of two APIs in one request are refused; resource (RFC 8707) picks one.
    both = token(client, auth=HUB, scope="boats:read music:play")
    assert both.status_code == 400 and both.json["error"] == "invalid_scope"
    unsure = token(client, auth=HUB)
    assert unsure.status_code == 400 and unsure.json["error"] == "invalid_scope"
    music = token(client, auth=HUB, resource=MUSIC)
    assert music.status_code == 200 and music.json["scope"] == "music:play"
    assert claims(music.json["access_token"])["aud"] == MUSIC
    narrowed = token(client, auth=HUB, scope="boats:read music:play", resource=BOATS)
    assert narrowed.json["scope"] == "boats:read" and claims(narrowed.json["access_token"])["scope"] == "boats:read"


@pytest.mark.parametrize("resource", ["https://unknown.example/api", MUSIC, "not a uri"])
def test_a_resource_the_app_may_not_use_is_invalid_target(client, resource):
    # RFC 8707 §2: unknown, or an API the app's scope does not list.
    response = token(client, resource=resource)
    assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_two_resources_in_one_request_are_invalid_target(client):
    response = client.post("/token", data={"grant_type": "client_credentials", "resource": [BOATS, MUSIC]},
                           auth=HUB)
    assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_the_token_is_introspectable_and_revocable(client):
    access = token(client).json["access_token"]
    active = client.post("/introspect", data={"token": access}, auth=BACKUP).json
    assert active["active"] is True and active["sub"] == "backup" and active["aud"] == BOATS
    assert active["scope"] == "boats:read boats:write" and "username" not in active
    # Another app learns nothing about it (RFC 7662 §4).
    assert client.post("/introspect", data={"token": access}, auth=HUB).json == {"active": False}
    assert client.post("/revoke", data={"token": access}, auth=BACKUP).status_code == 200
    assert client.post("/introspect", data={"token": access}, auth=BACKUP).json == {"active": False}


def test_the_token_is_not_a_userinfo_token(client):
    access = token(client).json["access_token"]
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_issuing_is_audited_without_the_token(client, caplog):
    with caplog.at_level(logging.INFO, logger="idp.audit"):
        access = token(client).json["access_token"]
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    issued = [e for e in events if e["event"] == "token_issued"]
    assert issued == [{"event": "token_issued", "client": "backup", "grant_type": "client_credentials",
                       "audience": BOATS, "scope": "boats:read boats:write", "refresh": False}]
    assert access not in caplog.text and BACKUP[1] not in caplog.text


@pytest.mark.parametrize("table, problem", [
    ('token_endpoint_auth_method = "none"\nscope = "boats:read"', "client_credentials is for a confidential app"),
    ('client_secret = "s-0123456789"\nscope = "openid"', "client_credentials is for a confidential app"),
    ('client_secret = "s-0123456789"\nscope = "boats:sail"', "unknown scope 'boats:sail'"),
])
def test_clients_file_refuses_a_client_credentials_app_without_what_it_needs(tmp_path, table, problem):
    text = MACHINE_CLIENTS + f'\n[[clients]]\nclient_id = "bad"\ngrant_types = ["client_credentials"]\n{table}\n'
    path = tmp_path / "clients.toml"
    path.write_text(text)
    with pytest.raises(ClientsFileError) as raised:
        parse(str(path), DEFAULTS)
    bad_line = text.splitlines().index('client_id = "bad"')
    assert any(p.startswith(f"{path}:") and problem in p for p in raised.value.problems), raised.value.problems
    assert all(int(p.split(":")[1]) > bad_line for p in raised.value.problems)


def test_authlib_client_gets_a_token_from_the_real_server(tmp_path):
    server = LiveServer(tmp_path, clients_text=MACHINE_CLIENTS, workers=2)
    try:
        session = OAuth2Session(*BACKUP, scope="boats:read")
        body = session.fetch_token(server.url + "/token", grant_type="client_credentials")
        jwks = pyjwt.PyJWKClient(server.url + "/.well-known/jwks.json")
        verified = pyjwt.decode(body["access_token"], jwks.get_signing_key_from_jwt(body["access_token"]).key,
                                algorithms=["RS256"], audience=BOATS, issuer=server.url)
        assert verified["sub"] == "backup" and verified["scope"] == "boats:read"
        assert "refresh_token" not in body
    finally:
        server.stop()


def test_the_readme_example_runs_as_written(tmp_path):
    script = readme_block("### A script or service: `client_credentials`")
    assert "IDP=http://localhost:5000\n" in script
    server = LiveServer(tmp_path, clients_text=Path(ROOT, "clients.toml").read_text(), host="localhost")
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("http://localhost:5000", server.url)],
                                cwd=tmp_path, env={**os.environ}, capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "'typ': 'at+jwt'" in lines[0] and "'kid': '1'" in lines[0]
    assert "'aud': 'http://localhost:8000/api'" in lines[1] and "'sub': 'example-backup'" in lines[1]
    assert json.loads(lines[2])["active"] is True and json.loads(lines[4]) == {"active": False}
    assert not (tmp_path / "m2m.json").exists()
