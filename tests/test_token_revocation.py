"""Revocation (RFC 7009)."""

import base64

import pytest
from helpers import WEB_SECRET


def basic(client_id="web", secret=WEB_SECRET):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def userinfo_status(flow, access_token):
    return flow.client.get("/userinfo", headers={"Authorization": "Bearer " + access_token}).status_code


def refresh_status(flow, refresh_token):
    return flow.token({"grant_type": "refresh_token", "refresh_token": refresh_token}).status_code


def test_revoking_an_access_token_kills_it_and_keeps_the_refresh_token(flow):
    tokens = flow.tokens()
    response = flow.client.post("/revoke", data={"token": tokens["access_token"]}, headers=basic())
    assert response.status_code == 200
    assert userinfo_status(flow, tokens["access_token"]) == 401
    assert refresh_status(flow, tokens["refresh_token"]) == 200


def test_revoking_a_refresh_token_kills_the_access_tokens_of_its_grant(flow):
    tokens = flow.tokens()
    response = flow.client.post("/revoke", data={"token": tokens["refresh_token"],
                                                 "token_type_hint": "refresh_token"}, headers=basic())
    assert response.status_code == 200
    assert refresh_status(flow, tokens["refresh_token"]) == 400
    assert userinfo_status(flow, tokens["access_token"]) == 401


@pytest.mark.parametrize("kind, hint", [("access_token", "refresh_token"), ("refresh_token", "access_token")])
def test_a_wrong_hint_still_finds_the_token(flow, kind, hint):
    tokens = flow.tokens()
    flow.client.post("/revoke", data={"token": tokens[kind], "token_type_hint": hint}, headers=basic())
    assert userinfo_status(flow, tokens["access_token"]) == 401


def test_an_unknown_token_answers_200(client):
    response = client.post("/revoke", data={"token": "never-issued"}, headers=basic())
    assert response.status_code == 200


def test_a_client_cannot_revoke_another_clients_token(flow):
    tokens = flow.tokens()
    response = flow.client.post("/revoke", data={"token": tokens["access_token"]},
                                headers=basic("legacy", "legacy-secret-0123456789"))
    assert response.status_code == 400
    assert userinfo_status(flow, tokens["access_token"]) == 200


def test_a_public_client_revokes_with_its_client_id(flow):
    tokens = flow.tokens(scope="openid offline_access", client_id="spa", redirect_uri="http://127.0.0.1:5173/cb")
    response = flow.client.post("/revoke", data={"token": tokens["refresh_token"], "client_id": "spa"})
    assert response.status_code == 200
    assert flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, "spa").status_code == 400


def test_revocation_needs_client_authentication(flow):
    tokens = flow.tokens()
    response = flow.client.post("/revoke", data={"token": tokens["access_token"]})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_missing_token_is_invalid_request(client):
    response = client.post("/revoke", data={}, headers=basic())
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
