"""Redirect URIs match string for string (RFC 9700 §4.1.3, RFC 6749 §3.1.2.3); only a native app's
loopback port may differ (RFC 8252 §7.3). Every hostile spelling below is one that Python's
`urlsplit` and a browser read differently, or that a lenient matcher would have let through."""

import textwrap

import pytest
from helpers import auth_params, pkce_pair, redirect_params

from idp.clients import ClientsFileError, parse
from idp.redirect_uris import matches, registration_problem
from idp.settings import DEFAULTS

# (client, a hostile redirect_uri): never accepted, never redirected to.
HOSTILE = [
    # The browser's host is attacker.example; urlsplit's is the loopback host.
    ("cli", "http://attacker.example\\@127.0.0.1:9999/cb"),
    ("cli", "http://attacker.example%5C@127.0.0.1:9999/cb"),
    ("cli", "http://attacker.example%5c@127.0.0.1:9999/cb"),
    ("cli", "http://attacker.example\\@localhost:8000/cb?x=1"),
    ("spa", "http://attacker.example\\@127.0.0.1:5173/cb"),
    ("web", "https://attacker.example\\@web.example/cb"),
    # Userinfo, and a host after it.
    ("cli", "http://evil@127.0.0.1:9999/cb"),
    ("cli", "http://127.0.0.1:9999@attacker.example/cb"),
    ("cli", "http://127.0.0.1:9999\\@attacker.example/cb"),
    ("cli", "http://127.0.0.1:@attacker.example/cb"),
    ("web", "https://web.example@attacker.example/cb"),
    ("web", "https://user:pw@web.example/cb"),
    # Tabs, newlines and spaces, which browsers strip or keep.
    ("cli", "http://127.0.0.1:99\t99/cb"),
    ("cli", "http://127.0.0.1:9999/cb\n"),
    ("cli", "http://127.0.0.1:9999/c\rb"),
    ("cli", " http://127.0.0.1:9999/cb"),
    ("cli", "http://127.0.0.1:9999/cb "),
    ("web", "https://web.example/cb\t"),
    # Case.
    ("cli", "HTTP://127.0.0.1:9999/cb"),
    ("cli", "Http://127.0.0.1:9999/cb"),
    ("cli", "http://LOCALHOST:8000/cb?x=1"),
    ("cli", "http://127.0.0.1:9999/CB"),
    ("web", "https://WEB.example/cb"),
    ("web", "HTTPS://web.example/cb"),
    # Ports.
    ("cli", "http://127.0.0.1:09999/cb"),
    ("cli", "http://127.0.0.1:0/cb"),
    ("cli", "http://127.0.0.1:99999/cb"),
    ("cli", "http://127.0.0.1:65536/cb"),
    ("cli", "http://127.0.0.1:/cb"),
    ("cli", "http://127.0.0.1:+80/cb"),
    ("cli", "http://127.0.0.1:9999:9999/cb"),
    ("spa", "http://127.0.0.1:5174/cb"),
    ("spa", "http://127.0.0.1/cb"),
    ("web", "https://web.example:443/cb"),
    ("web", "https://web.example:8443/cb"),
    # Other spellings of a loopback host, and hosts that only look like one.
    ("cli", "http://localhost:9999/cb"),
    ("cli", "http://localhost.:8000/cb?x=1"),
    ("cli", "http://127.1:9999/cb"),
    ("cli", "http://2130706433:9999/cb"),
    ("cli", "http://0x7f.0.0.1:9999/cb"),
    ("cli", "http://127.0.0.1.attacker.example:9999/cb"),
    ("cli", "http://[0:0:0:0:0:0:0:1]/cb"),
    ("cli", "http://[::0001]/cb"),
    ("cli", "http://[::ffff:127.0.0.1]/cb"),
    ("cli", "http://[::1%25lo]/cb"),
    ("cli", "http://::1/cb"),
    ("web", "https://web.example.attacker.example/cb"),
    ("web", "https://web.example./cb"),
    # Scheme.
    ("cli", "https://127.0.0.1:9999/cb"),
    ("cli", "//127.0.0.1:9999/cb"),
    ("cli", "http:/127.0.0.1:9999/cb"),
    ("cli", "http:\\\\127.0.0.1:9999/cb"),
    ("cli", "com.example.cli://cb"),
    ("cli", "COM.example.cli:/cb"),
    # Paths and queries.
    ("cli", "http://127.0.0.1:9999/cb/../evil"),
    ("cli", "http://127.0.0.1:9999/cb/"),
    ("cli", "http://127.0.0.1:9999/cb?"),
    ("cli", "http://127.0.0.1:9999/cb#"),
    ("cli", "http://127.0.0.1:9999/cb?next=https://attacker.example"),
    ("cli", "http://127.0.0.1:9999//attacker.example/cb"),
    ("cli", "http://127.0.0.1:9999/%63b"),
    ("cli", "http://127.0.0.1:9999/cb%2F..%2Fevil"),
    ("cli", "http://localhost:8000/cb?x=2"),
    ("cli", "http://localhost:8000/cb?x=1&x=2"),
    ("cli", "http://localhost:8000/cb"),
    ("web", "https://web.example/cb/"),
    ("web", "https://web.example/cb;x"),
    ("web", "https://web.example/./cb"),
    ("web", "https://web.example/%2E/cb"),
    ("web", ""),
]

# (client, a redirect_uri that a native app may use): its loopback port is chosen at run time.
NATIVE_PORTS = [
    ("cli", "http://127.0.0.1:9999/cb"),
    ("cli", "http://127.0.0.1:1/cb"),
    ("cli", "http://127.0.0.1:65535/cb"),
    ("cli", "http://127.0.0.1/cb"),
    ("cli", "http://[::1]:50123/cb"),
    ("cli", "http://localhost:1234/cb?x=1"),
    ("cli", "com.example.cli:/cb"),
]


@pytest.mark.parametrize("client_id, uri", HOSTILE)
def test_a_hostile_redirect_uri_gets_the_error_page_never_a_redirect(flow, client_id, uri):
    params = auth_params(client_id, uri, scope="openid", challenge=pkce_pair()[1])
    response = flow.client.get("/authorize", query_string=params)
    assert response.status_code == 400 and "Location" not in response.headers, (uri, response.status_code)


@pytest.mark.parametrize("client_id, uri", HOSTILE)
def test_a_hostile_redirect_uri_is_no_open_redirect_for_errors_either(client, client_id, uri):
    """Nobody signed in, prompt=none: the login_required error must not go to that host."""
    params = auth_params(client_id, uri, scope="openid", challenge=pkce_pair()[1], prompt="none")
    response = client.get("/authorize", query_string=params)
    assert response.status_code == 400 and "Location" not in response.headers, (uri, response.status_code)


@pytest.mark.parametrize("client_id, uri", NATIVE_PORTS)
def test_a_native_apps_loopback_port_may_differ(flow, client_id, uri):
    params = auth_params(client_id, uri, scope="openid", challenge=pkce_pair()[1])
    response = flow.client.get("/authorize", query_string=params)
    assert response.location.startswith(uri + ("&" if "?" in uri else "?") + "code=")
    assert "code" in redirect_params(response)


def test_a_web_apps_loopback_redirect_matches_only_its_own_port(flow):
    registered = auth_params("spa", "http://127.0.0.1:5173/cb", scope="openid", challenge=pkce_pair()[1])
    assert "code" in redirect_params(flow.client.get("/authorize", query_string=registered))
    other_port = {**registered, "redirect_uri": "http://127.0.0.1:49152/cb"}
    assert flow.client.get("/authorize", query_string=other_port).status_code == 400


def test_the_issues_attack_cannot_take_a_code_to_another_host(flow):
    """The reported attack: a code for the SPA's loopback redirect sent to attacker.example."""
    params = auth_params("spa", "http://attacker.example\\@127.0.0.1:5173/cb", scope="openid",
                         challenge=pkce_pair()[1])
    response = flow.client.get("/authorize", query_string=params)
    assert response.status_code == 400 and "code=" not in response.text
    assert "somewhere unexpected" in response.text


def _logout(client, uri, hint):
    return client.get("/logout", query_string={"id_token_hint": hint, "post_logout_redirect_uri": uri})


def test_post_logout_redirect_uri_follows_the_same_rules(client, alice):
    from helpers import Flow, login

    login(client)
    hint = Flow(client).tokens(scope="openid offline_access", client_id="cli",
                               redirect_uri="http://127.0.0.1:9999/cb")["id_token"]
    for uri in ["http://attacker.example\\@127.0.0.1:9999/bye", "http://evil@127.0.0.1:9999/bye",
                "HTTP://127.0.0.1:9999/bye", "http://127.0.0.1:09999/bye", "http://localhost:9999/bye"]:
        response = _logout(client, uri, hint)
        assert response.status_code == 200 and "Location" not in response.headers, uri
    response = _logout(client, "http://127.0.0.1:4321/bye", hint)  # a native app's loopback port
    assert response.status_code == 302 and response.location == "http://127.0.0.1:4321/bye"


@pytest.mark.parametrize("registered, requested, native, expected", [
    ("http://127.0.0.1:9999/cb", "http://127.0.0.1:1/cb", True, True),
    ("http://127.0.0.1:9999/cb", "http://127.0.0.1:1/cb", False, False),
    ("http://127.0.0.1/cb", "http://127.0.0.1:8080/cb", True, True),
    ("http://[::1]/cb", "http://[::1]:8080/cb", True, True),
    ("https://a.example/cb", "https://a.example:1/cb", True, False),
    ("com.example.app:/cb", "com.example.app:/cb", False, True),
    ("http://127.0.0.1:9999/cb", None, True, False),
    ("http://127.0.0.1:9999/cb", b"http://127.0.0.1:9999/cb", True, False),
])
def test_the_matching_rule(registered, requested, native, expected):
    assert matches(registered, requested, native) is expected


@pytest.mark.parametrize("uri", [
    "http://attacker.example\\@localhost/cb", "http://evil@localhost/cb", "http://LOCALHOST/cb",
    "HTTP://127.0.0.1/cb", "http://127.0.0.1:099/cb", "http://127.0.0.1:70000/cb", "http://127.0.0.1:/cb",
    "http://[::1%25lo]/cb", "http://localhost./cb", "https://user@web.example/cb", "https:///cb",
    "https://web.example/c b", 'https://web.example/"cb"', "https://web.example/c<b", "https://wéb.example/cb",
    "https://web.example/cb\t", "HTTPS://web.example/cb", "Com.Example.App:/cb",
])
def test_clients_toml_refuses_redirect_uris_that_parsers_read_differently(uri):
    assert registration_problem(uri) is not None


@pytest.mark.parametrize("uri", ["https://web.example/cb", "https://web.example:8443/a/b?x=1", "http://127.0.0.1:8080/cb",
                                 "http://[::1]/cb", "http://localhost/cb", "com.example.app:/cb", "app.immich:///oauth-callback"])
def test_clients_toml_accepts_ordinary_redirect_uris(uri):
    assert registration_problem(uri) is None


def test_application_type_must_be_web_or_native(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(textwrap.dedent("""\
        [[clients]]
        client_id = "a"
        redirect_uris = ["http://127.0.0.1/cb"]
        token_endpoint_auth_method = "none"
        application_type = "desktop"
        """))
    with pytest.raises(ClientsFileError) as e:
        parse(str(path), DEFAULTS)
    assert any(":5: application_type must be one of web, native" in p for p in e.value.problems)
