"""Discovery (OpenID Connect Discovery 1.0) and the JWKS."""

from authlib.oidc.discovery import OpenIDProviderMetadata
from helpers import ISSUER


def test_discovery_advertises_exactly_what_is_supported(client):
    data = client.get("/.well-known/openid-configuration").json
    OpenIDProviderMetadata(data).validate()
    assert data["issuer"] == ISSUER
    assert data["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert data["token_endpoint"] == f"{ISSUER}/token"
    assert data["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert data["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert data["end_session_endpoint"] == f"{ISSUER}/logout"
    assert data["response_types_supported"] == ["code"]
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none",
                                                             "private_key_jwt"]
    assert data["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert data["device_authorization_endpoint"] == f"{ISSUER}/device_authorization"
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
    assert data["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials",
                                             "urn:ietf:params:oauth:grant-type:device_code"]
    assert data["authorization_response_iss_parameter_supported"] is True
    assert data["request_parameter_supported"] is False
    assert data["request_uri_parameter_supported"] is False
    assert set(data["scopes_supported"]) == {"openid", "profile", "email", "groups", "offline_access"}
    assert {"sub", "email", "groups", "preferred_username"} <= set(data["claims_supported"])


def test_endpoints_follow_the_issuer_setting(settings):
    from idp import create_app

    app = create_app({**settings, "ISSUER": "https://id.example.org/"})
    data = app.test_client().get("/.well-known/openid-configuration", base_url="https://id.example.org").json
    assert data["issuer"] == "https://id.example.org"
    assert data["token_endpoint"] == "https://id.example.org/token"


def test_jwks_has_the_public_rs256_key_with_kid_1(client):
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kid"] == "1" and key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key and "p" not in key  # public half only
