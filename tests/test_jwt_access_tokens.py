"""API scopes and JWT access tokens (RFC 9068, RFC 8707): [[apis]] in clients.toml; a token request with
an API's scopes gets a JWT for that API, signed with Latchkey's key and kid, which the API checks
offline against the JWKS; other tokens stay opaque; userinfo takes only opaque tokens."""

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest
import requests
from helpers import PASSWORD, LiveServer, auth_params, browser_sign_in, pkce_pair
from machines import BOATS, CLUB_WEB, MACHINE_CLIENTS, MUSIC, claims, readme_block

from idp.clients import ClientsFileError, parse
from idp.settings import DEFAULTS


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(MACHINE_CLIENTS)
    return path


def club_tokens(flow, scope, **extra):
    """The club web app's code flow (Flow knows only the standard apps' secrets)."""
    token_extra = {k[6:]: v for k, v in extra.items() if k.startswith("token_")}
    code, verifier = flow.code(client_id="club-web", redirect_uri="https://club.example/cb", scope=scope,
                               **{k: v for k, v in extra.items() if not k.startswith("token_")})
    return flow.client.post("/token", auth=CLUB_WEB, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "https://club.example/cb",
        "code_verifier": verifier, **token_extra})


def test_api_scopes_in_a_code_flow_give_a_jwt_for_that_api(flow):
    response = club_tokens(flow, "openid profile offline_access boats:read")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["scope"] == "openid profile offline_access boats:read"
    header = pyjwt.get_unverified_header(body["access_token"])
    assert header == {"typ": "at+jwt", "alg": "RS256", "kid": "1"}
    access = claims(body["access_token"])
    assert access["iss"] == "http://localhost" and access["aud"] == BOATS
    assert access["sub"] == "alice" and access["client_id"] == "club-web"
    assert access["scope"] == "boats:read"  # RFC 9068 §2.2.3: only what means something to the API
    assert access["amr"] == ["pwd"] and access["acr"] == "pwd"
    assert access["auth_time"] == claims(body["id_token"])["auth_time"]
    assert access["exp"] - access["iat"] == 300 and access["jti"]
    assert claims(body["id_token"])["aud"] == "club-web"  # the ID token is unchanged


def test_without_api_scopes_the_access_token_stays_opaque(flow):
    body = club_tokens(flow, "openid profile").json
    assert body["access_token"].count(".") == 0
    assert flow.client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def test_userinfo_refuses_a_jwt_access_token(flow):
    # Its audience is the API, not Latchkey (RFC 9068 §4); userinfo takes Latchkey's opaque tokens only.
    body = club_tokens(flow, "openid profile boats:read").json
    response = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]


def test_a_refreshed_access_token_is_a_jwt_for_the_same_api(flow):
    first = club_tokens(flow, "openid offline_access boats:read").json
    refreshed = flow.client.post("/token", auth=CLUB_WEB, data={"grant_type": "refresh_token",
                                                                 "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json
    access = claims(refreshed.json["access_token"])
    assert access["aud"] == BOATS and access["scope"] == "boats:read"
    assert access["auth_time"] == claims(first["access_token"])["auth_time"]


def test_resource_chooses_the_api_when_the_grant_holds_several(flow):
    both = club_tokens(flow, "openid offline_access boats:read music:play")
    assert both.status_code == 400 and both.json["error"] == "invalid_scope"  # RFC 9068 §3
    music = club_tokens(flow, "openid offline_access boats:read music:play", token_resource=MUSIC).json
    assert claims(music["access_token"])["aud"] == MUSIC
    assert music["scope"] == "openid offline_access music:play"
    # The refresh token keeps the whole grant: the next access token may be for the other API.
    boats = flow.client.post("/token", auth=CLUB_WEB, data={"grant_type": "refresh_token", "resource": BOATS,
                                                             "refresh_token": music["refresh_token"]}).json
    assert claims(boats["access_token"])["aud"] == BOATS and claims(boats["access_token"])["scope"] == "boats:read"


def test_resource_in_the_authorization_request_binds_the_code(flow):
    body = club_tokens(flow, "openid boats:read music:play", resource=MUSIC).json
    assert claims(body["access_token"])["aud"] == MUSIC
    other = club_tokens(flow, "openid boats:read music:play", resource=MUSIC, token_resource=BOATS)
    assert other.status_code == 400 and other.json["error"] == "invalid_target"  # RFC 8707 §2.2


@pytest.mark.parametrize("resource", ["https://unknown.example/api", "https://boats.example/api/"])
def test_an_unknown_resource_at_authorize_goes_back_as_invalid_target(flow, resource):
    response = flow.client.get("/authorize", query_string=auth_params(
        "club-web", "https://club.example/cb", "openid boats:read", pkce_pair()[1], resource=resource))
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.location).query)["error"] == ["invalid_target"]


def test_a_resource_for_an_app_without_apis_is_invalid_target(flow):
    response = flow.client.get("/authorize", query_string=auth_params(
        "web", "https://web.example/cb", "openid", pkce_pair()[1], resource=BOATS))
    assert parse_qs(urlsplit(response.location).query)["error"] == ["invalid_target"]


def test_revoking_a_jwt_access_token_shows_in_introspection(flow):
    access = club_tokens(flow, "openid boats:read").json["access_token"]
    before = flow.client.post("/introspect", data={"token": access}, auth=CLUB_WEB).json
    assert before["active"] is True and before["aud"] == BOATS and before["sub"] == "alice"
    assert flow.client.post("/revoke", data={"token": access}, auth=CLUB_WEB).status_code == 200
    assert flow.client.post("/introspect", data={"token": access}, auth=CLUB_WEB).json == {"active": False}


BAD_APIS = [
    ('[[apis]]\naudience = "https://x.example"\nscopes = ["openid"]', 2, "one of Latchkey's own scopes"),
    ('[[apis]]\naudience = "https://x.example"\nscopes = ["boats:read"]', 2, "belongs to the API"),
    ('[[apis]]\naudience = "https://x.example#frag"\nscopes = ["x"]', 1, "absolute URI without a fragment"),
    ('[[apis]]\naudience = "x.example"\nscopes = ["x"]', 1, "absolute URI without a fragment"),
    ('[[apis]]\naudience = "https://x.example"', 0, "an API needs scopes"),
    ('[[apis]]\naudience = "https://x.example"\nscopes = ["a b"]', 2, "is not a scope"),
    ('[[apis]]\naudience = "https://x.example"\nscopes = ["x"]\nscope = "x"', 3, "unknown key 'scope' in [[apis]]"),
    ('[[apis]]\naudience = "https://x.example"\nscopes = ["x"]\naccess_token_ttl = 0', 3, "greater than 0"),
    (f'[[apis]]\naudience = "{BOATS}"\nscopes = ["y"]', 1, "duplicate audience"),
    ('apis = 3', 0, "write each API as an [[apis]] table"),
]


@pytest.mark.parametrize("table, offset, problem", BAD_APIS)
def test_clients_file_names_each_mistake_in_an_api_table(tmp_path, table, offset, problem):
    path = tmp_path / "clients.toml"
    if table.startswith("apis ="):
        text = table + "\n" + MACHINE_CLIENTS.replace("[[apis]]", "[[old]]")
    else:
        text = MACHINE_CLIENTS + "\n" + table + "\n"
    path.write_text(text)
    with pytest.raises(ClientsFileError) as raised:
        parse(str(path), DEFAULTS)
    matching = [p for p in raised.value.problems if problem in p]
    assert matching, raised.value.problems
    if not table.startswith("apis ="):
        header = max(n for n, line in enumerate(text.splitlines(), start=1) if line == "[[apis]]")
        assert matching[0].startswith(f"{path}:{header + offset}:"), (matching, header)


def test_an_api_scope_an_app_lists_must_be_declared(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(MACHINE_CLIENTS.replace('scope = "boats:read music:play"', 'scope = "boats:read trains:ride"'))
    with pytest.raises(ClientsFileError) as raised:
        parse(str(path), DEFAULTS)
    assert any("unknown scope 'trains:ride'" in p for p in raised.value.problems)


def api_verify(token, issuer, audience=BOATS):
    """What an API does with a JWT access token: the README's few lines of Python, run as written
    (with this server's issuer and the audience asked for)."""
    code = readme_block("### APIs: `[[apis]]` and JWT access tokens", "python")
    code = code.replace('"https://id.example.org"', repr(issuer)).replace('"https://boats.example.org/api"', repr(audience))
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["check"](token)


def test_an_api_verifies_jwt_access_tokens_offline_and_refuses_bad_ones(tmp_path):
    server = LiveServer(tmp_path, clients_text=MACHINE_CLIENTS.replace("access_token_ttl = 300", "access_token_ttl = 2"),
                        workers=2, host="localhost")
    try:
        add = server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                           input=PASSWORD + "\n")
        assert add.returncode == 0, add.stderr
        session = requests.Session()
        verifier, challenge = pkce_pair()
        params = auth_params("club-web", "https://club.example/cb", "openid boats:read", challenge)
        callback = browser_sign_in(session, f"{server.url}/authorize?{urlencode(params)}")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        access = requests.post(server.url + "/token", auth=CLUB_WEB, timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": "https://club.example/cb",
            "code_verifier": verifier}).json()["access_token"]
        verified = api_verify(access, server.url)
        assert verified["sub"] == "alice" and verified["scope"] == "boats:read"
        with pytest.raises(pyjwt.InvalidAudienceError):
            api_verify(access, server.url, audience=MUSIC)
        head, body, signature = access.split(".")
        forged = pyjwt.utils.base64url_encode(pyjwt.utils.base64url_decode(body).replace(b'"alice"', b'"admin"')).decode()
        with pytest.raises(pyjwt.InvalidSignatureError):
            api_verify(f"{head}.{forged}.{signature}", server.url)
        id_token_like = pyjwt.encode({"sub": "alice"}, "x" * 32, algorithm="HS256")
        with pytest.raises(pyjwt.InvalidTokenError):
            api_verify(id_token_like, server.url)
        time.sleep(3)
        with pytest.raises(pyjwt.ExpiredSignatureError):
            api_verify(access, server.url)
    finally:
        server.stop()


def test_flask_client_check_names_the_line_of_a_bad_api(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from idp.cli import client_cli

    path = tmp_path / "clients.toml"
    path.write_text('[[apis]]\naudience = "https://x.example"\nscopes = ["openid"]\n\n'
                    '[[clients]]\nclient_id = "a"\nclient_secret = "s"\ngrant_types = ["client_credentials"]\n'
                    'scope = "x:read"\n')
    monkeypatch.setenv("IDP_CLIENTS_FILE", str(path))
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(client_cli, ["check"])
    assert result.exit_code == 1
    assert f"{path}:3: 'openid' is one of Latchkey's own scopes" in result.output
    assert f"{path}:9: unknown scope 'x:read'" in result.output
