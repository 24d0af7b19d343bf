"""clients.toml: validation with file:line messages, the client CLI, and reloading while running."""

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from idp.cli import client_cli
from idp.clients import ClientRegistry, ClientsFileError, parse
from idp.passwords import verify_secret
from idp.settings import DEFAULTS

GOOD = """\
[[clients]]
client_id = "a"
redirect_uris = ["https://a.example/cb"]
token_endpoint_auth_method = "none"
"""


def problems(tmp_path, text):
    path = tmp_path / "clients.toml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ClientsFileError) as e:
        parse(str(path), DEFAULTS)
    return [p.replace(str(path), "F") for p in e.value.problems]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[clients]\nclient_id = 'a'\n", "F:1: TOML syntax error"),
        ("[[clients]]\nredirect_uris = ['https://a/cb']\ntoken_endpoint_auth_method = 'none'\n", "F:1: missing client_id"),
        ("[[clients]]\nclient_id = 'a'\ntoken_endpoint_auth_method = 'none'\n", "F:1: missing redirect_uris"),
        (GOOD + "\n" + GOOD, "F:7: duplicate client_id 'a'"),
        (GOOD.replace("https://a.example/cb", "http://a.example/cb"), "F:3: 'http://a.example/cb': http is only allowed on a loopback host"),
        (GOOD.replace("https://a.example/cb", "https://*.example/cb"), "F:3: 'https://*.example/cb': wildcards are not allowed"),
        (GOOD.replace("https://a.example/cb", "https://a.example/cb#x"), "F:3: 'https://a.example/cb#x': a fragment is not allowed"),
        (GOOD.replace("https://a.example/cb", "javascript:alert(1)"), "F:3: 'javascript:alert(1)': must be https"),
        (GOOD.replace('"none"', '"client_secret_jwt"'), "F:4: unknown token_endpoint_auth_method 'client_secret_jwt'"),
        (GOOD + 'client_secret = "x"\n', "F:4: a public client (token_endpoint_auth_method = \"none\") must not have a secret"),
        (GOOD.replace('"none"', '"client_secret_basic"'), "F:4: a confidential client (client_secret_basic) needs client_secret_hash"),
        (GOOD + 'redirect_uri = "https://a.example/cb"\n', "F:5: unknown key 'redirect_uri' (did you mean 'redirect_uris'?)"),
        (GOOD + 'scope = "openid phone"\n', "F:5: unknown scope 'phone'"),
        (GOOD + 'require_pkce = false\n', "F:5: a public client cannot turn PKCE off"),
        (GOOD + 'access_token_ttl = "soon"\n', "F:5: access_token_ttl must be a int, not 'soon'"),
        (GOOD + 'grant_types = ["password"]\n', "F:5: unknown grant type 'password'"),
        ('name = "x"\n' + GOOD, "F:1: unknown top-level key 'name'"),
    ],
)
def test_validation_names_file_line_and_problem(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_valid_file_parses_with_defaults(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(GOOD)
    client = parse(str(path), DEFAULTS)["a"]
    assert client.client_name == "a" and client.require_pkce and client.is_public
    assert client.access_token_ttl == 900 and client.grant_types == ["authorization_code", "refresh_token"]


def test_example_clients_file_in_the_repo_is_valid():
    root = os.path.dirname(os.path.dirname(__file__))
    clients = parse(os.path.join(root, "clients.toml"), DEFAULTS)
    assert {"example-web", "example-spa"} <= set(clients)


def test_flask_client_check_prints_problems_and_exits_1(tmp_path, monkeypatch):
    path = tmp_path / "clients.toml"
    path.write_text(GOOD.replace("https://a.example/cb", "http://a.example/cb"))
    monkeypatch.setenv("IDP_CLIENTS_FILE", str(path))
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(client_cli, ["check"])
    assert result.exit_code == 1
    assert f"{path}:3: 'http://a.example/cb': http is only allowed on a loopback host" in result.output


def test_flask_client_check_passes_a_good_file(tmp_path, monkeypatch):
    path = tmp_path / "clients.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("IDP_CLIENTS_FILE", str(path))
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(client_cli, ["check"])
    assert result.exit_code == 0 and "1 clients, all valid" in result.output


def test_flask_client_check_works_through_the_real_flask_command(tmp_path):
    """`flask client check` runs even when the app itself cannot start."""
    path = tmp_path / "clients.toml"
    path.write_text("[[clients]]\nclient_id = 'a'\n")
    env = {**os.environ, "IDP_CLIENTS_FILE": str(path), "IDP_INSTANCE_PATH": str(tmp_path / "i")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-m", "flask", "client", "check"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{path}:1: missing redirect_uris" in result.stderr


def test_flask_client_secret_prints_a_secret_and_its_hash_line():
    result = CliRunner().invoke(client_cli, ["secret"])
    assert result.exit_code == 0
    secret = result.output.split("stored anywhere): ")[1].split()[0]
    line = [x for x in result.output.splitlines() if x.startswith("client_secret_hash = ")][0]
    assert len(secret) >= 43 and verify_secret(line.split('"')[1], secret)
    # The stored form says its hash: a 256-bit random secret needs no slow hash (README, Security).
    assert re.fullmatch(r'client_secret_hash = "\$sha256\$[0-9a-f]{64}"', line)
    assert not verify_secret(line.split('"')[1], secret + "x")


@pytest.mark.parametrize("stored", ["$sha256$abc", "$sha256$" + "A" * 64, "sha256$" + "a" * 64, "plain"])
def test_a_malformed_client_secret_hash_is_refused(tmp_path, stored):
    found = problems(tmp_path, GOOD.replace('"none"', '"client_secret_basic"') + f'client_secret_hash = "{stored}"\n')
    assert any("client_secret_hash must be the line `flask client secret` prints" in p for p in found), found


def test_a_valid_edit_is_picked_up_without_restart(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(GOOD)
    registry = ClientRegistry(str(path), DEFAULTS)
    assert registry.get("b") is None
    path.write_text(GOOD + "\n" + GOOD.replace('"a"', '"b"'))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    registry._next_check = 0
    assert registry.get("b") is not None


def test_an_invalid_edit_keeps_the_last_good_whitelist_and_logs(tmp_path, caplog):
    path = tmp_path / "clients.toml"
    path.write_text(GOOD)
    registry = ClientRegistry(str(path), DEFAULTS)
    path.write_text("[[clients]\nbroken")
    registry._next_check = 0
    assert registry.get("a") is not None
    assert "keeping the last good whitelist" in caplog.text and "TOML syntax error" in caplog.text


def test_the_running_server_sees_a_new_client(app, client, clients_file):
    from helpers import CLIENTS

    clients_file.write_text(CLIENTS + "\n" + GOOD.replace('"a"', '"newapp"'))
    app.extensions["latchkey_clients"]._next_check = 0
    response = client.get("/authorize", query_string={"response_type": "code", "client_id": "newapp",
                                                      "redirect_uri": "https://a.example/cb"})
    # known now: the PKCE error goes to the app instead of the unknown-client page
    assert response.status_code == 302 and response.location.startswith("https://a.example/cb?error=")
