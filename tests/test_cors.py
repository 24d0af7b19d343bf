"""CORS for browser apps: API endpoints only, origins of registered redirect URIs only."""

import pytest

API = ["/token", "/userinfo", "/revoke", "/introspect", "/.well-known/openid-configuration", "/.well-known/jwks.json"]


@pytest.mark.parametrize("path", API)
def test_api_endpoints_answer_a_registered_origin(client, path):
    preflight = client.options(path, headers={"Origin": "https://web.example",
                                              "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://web.example"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_a_real_request_carries_the_header(client):
    response = client.get("/.well-known/jwks.json", headers={"Origin": "http://127.0.0.1:5173"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert "Origin" in response.headers["Vary"]


def test_a_native_apps_loopback_origin_matches_on_any_port(client):
    response = client.get("/.well-known/jwks.json", headers={"Origin": "http://127.0.0.1:4000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:4000"


@pytest.mark.parametrize("origin", ["http://evil@127.0.0.1:4000", "http://evil.example\\@127.0.0.1:4000",
                                    "http://127.0.0.1:4000@evil.example", "HTTP://127.0.0.1:4000",
                                    "http://127.0.0.1:04000", "http://127.0.0.1:4000/", "http://127.1:4000",
                                    "https://127.0.0.1:4000", "http://localhost.:4000", "http://127.0.0.1:99999"])
def test_odd_spellings_of_a_loopback_origin_get_no_cors_headers(client, origin):
    response = client.get("/.well-known/jwks.json", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_web_apps_loopback_origin_matches_only_its_port(settings, clients_file):
    from idp import create_app

    clients_file.write_text('''[[clients]]
client_id = "spa"
redirect_uris = ["http://127.0.0.1:5173/cb"]
token_endpoint_auth_method = "none"
''')
    client = create_app(settings).test_client()
    assert client.get("/.well-known/jwks.json", headers={"Origin": "http://127.0.0.1:5173"}).headers[
        "Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert "Access-Control-Allow-Origin" not in client.get(
        "/.well-known/jwks.json", headers={"Origin": "http://127.0.0.1:5174"}).headers


@pytest.mark.parametrize("origin", ["https://evil.example", "https://web.example.evil.example", "null",
                                    "http://web.example", "https://web.example:8443"])
def test_other_origins_get_no_cors_headers(client, origin):
    response = client.get("/.well-known/jwks.json", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", ["/authorize", "/login", "/logout", "/"])
def test_authorize_and_pages_never_carry_cors_headers(client, path):
    response = client.get(path, headers={"Origin": "https://web.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
