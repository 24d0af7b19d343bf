"""Client authentication at the token endpoint (RFC 6749 §2.3.1), each client only by its method."""

import base64
import json
from urllib.parse import quote

from helpers import FAST_CLIENT_SECRET, HASHED_CLIENT_SECRET, WEB_SECRET


def basic(client_id, secret):
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def code_for(flow, client_id, redirect_uri):
    code, verifier = flow.code(client_id=client_id, redirect_uri=redirect_uri, scope="openid")
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}


def test_client_secret_basic(flow):
    data = code_for(flow, "web", "https://web.example/cb")
    assert flow.client.post("/token", data=data, headers=basic("web", WEB_SECRET)).status_code == 200


def test_client_secret_post_with_a_hashed_secret(flow):
    data = code_for(flow, "hashed", "https://hashed.example/cb")
    data.update(client_id="hashed", client_secret=HASHED_CLIENT_SECRET)
    assert flow.client.post("/token", data=data).status_code == 200


def test_public_client_authenticates_with_none(flow):
    data = code_for(flow, "spa", "http://127.0.0.1:5173/cb")
    assert flow.client.post("/token", data={**data, "client_id": "spa"}).status_code == 200


def test_wrong_secret_is_401_invalid_client_with_basic_challenge(flow):
    data = code_for(flow, "web", "https://web.example/cb")
    response = flow.client.post("/token", data=data, headers=basic("web", "wrong"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Cache-Control"] == "no-store"


def test_client_may_not_use_another_method_than_its_registered_one(flow):
    data = code_for(flow, "web", "https://web.example/cb")
    response = flow.client.post("/token", data={**data, "client_id": "web", "client_secret": WEB_SECRET})
    assert response.json["error"] == "invalid_client"
    data = code_for(flow, "hashed", "https://hashed.example/cb")
    response = flow.client.post("/token", data=data, headers=basic("hashed", HASHED_CLIENT_SECRET))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_confidential_client_cannot_pretend_to_be_public(flow):
    data = code_for(flow, "web", "https://web.example/cb")
    response = flow.client.post("/token", data={**data, "client_id": "web"})
    assert response.json["error"] == "invalid_client"


def test_basic_credentials_are_form_urlencoded(app, client):
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding."""
    client_obj = app.extensions["latchkey_clients"].get("web")
    client_obj.client_secret = "s3cr:t/with%odd chars"
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                           headers=basic("web", "s3cr:t/with%odd chars"))
    assert response.json["error"] == "invalid_grant"  # authenticated; the code is what is wrong


def test_a_verified_hashed_secret_is_not_hashed_again(app, client, monkeypatch):
    import idp.clients

    calls = []
    real = idp.clients.verify_secret
    monkeypatch.setattr(idp.clients, "verify_secret", lambda *a: calls.append(1) or real(*a))
    data = {"grant_type": "authorization_code", "code": "x", "client_id": "hashed",
            "client_secret": HASHED_CLIENT_SECRET}
    for _ in range(3):
        assert client.post("/token", data=data).json["error"] == "invalid_grant"
    assert len(calls) == 1
    wrong = {**data, "client_secret": "wrong"}
    assert client.post("/token", data=wrong).json["error"] == "invalid_client"


def test_unsupported_grant_type(client):
    response = client.post("/token", data={"grant_type": "password"}, headers=basic("web", WEB_SECRET))
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"


def test_get_on_token_endpoint_is_405_json(client):
    response = client.get("/token")
    assert response.status_code == 405 and response.json["error"] == "invalid_request"


def test_credentials_sent_two_ways_at_once_are_invalid_request(flow):
    data = code_for(flow, "web", "https://web.example/cb")
    response = flow.client.post("/token", data={**data, "client_id": "web", "client_secret": WEB_SECRET},
                                headers=basic("web", WEB_SECRET))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_a_secret_in_the_query_string_is_refused(flow):
    data = code_for(flow, "hashed", "https://hashed.example/cb")
    response = flow.client.post("/token?client_secret=" + HASHED_CLIENT_SECRET, data={**data, "client_id": "hashed"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "never in the URL" in response.json["error_description"]


def test_basic_credentials_that_are_not_utf8_are_invalid_client(client):
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                           headers={"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_fast_hashed_secret_authenticates_and_a_wrong_one_does_not(flow):
    from helpers import FAST_CLIENT_SECRET

    data = code_for(flow, "fast", "https://fast.example/cb")
    assert flow.client.post("/token", data=data, headers=basic("fast", FAST_CLIENT_SECRET + "x")).status_code == 401
    assert flow.client.post("/token", data=data, headers=basic("fast", FAST_CLIENT_SECRET)).status_code == 200


def test_wrong_secrets_for_an_argon2_client_are_throttled_and_cost_no_argon2_while_waiting(client, monkeypatch):
    import idp.clients

    calls = []
    real = idp.clients.verify_secret
    monkeypatch.setattr(idp.clients, "verify_secret", lambda *a: calls.append(1) or real(*a))
    wrong = {"grant_type": "authorization_code", "code": "x", "client_id": "hashed", "client_secret": "wrong"}
    for _ in range(30):
        response = client.post("/token", data=wrong)
        assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert len(calls) == 5  # CLIENT_LIMIT failures, then each try must wait and is not hashed


def test_the_client_throttle_never_refuses_a_secret_already_verified(client):
    """A worker that already knows the app's secret answers it at once, whatever others tried."""
    good = {"grant_type": "authorization_code", "code": "x", "client_id": "hashed", "client_secret": HASHED_CLIENT_SECRET}
    assert client.post("/token", data=good).json["error"] == "invalid_grant"  # authenticated, bad code
    for _ in range(10):
        client.post("/token", data={**good, "client_secret": "wrong"})
    assert client.post("/token", data=good).json["error"] == "invalid_grant"


def test_the_client_throttle_never_refuses_a_fast_hashed_secret(flow):
    from helpers import FAST_CLIENT_SECRET

    for _ in range(10):
        flow.client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                         headers=basic("fast", "wrong"))
    data = code_for(flow, "fast", "https://fast.example/cb")
    assert flow.client.post("/token", data=data, headers=basic("fast", FAST_CLIENT_SECRET)).status_code == 200


def test_failed_client_authentication_is_in_the_audit_log(client, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=basic("fast", "nope"))
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    assert {"event": "client_auth_failed", "client": "fast", "tried": "client_secret_basic", "endpoint": "token",
            "registered": "client_secret_basic"} in events
    client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "fast",
                                "client_secret": FAST_CLIENT_SECRET})  # the right secret, the wrong method
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    assert {"event": "client_auth_failed", "client": "fast", "tried": "client_secret_post", "endpoint": "token",
            "registered": "client_secret_basic"} in events


def test_wrong_secrets_from_one_address_never_keep_the_real_app_out(client):
    """The app's id is public: failures count per app and address, so an attacker elsewhere
    cannot make the right secret fail (the worker has not seen it yet)."""
    wrong = {"grant_type": "authorization_code", "code": "x", "client_id": "hashed", "client_secret": "wrong"}
    for _ in range(20):
        client.post("/token", data=wrong, environ_base={"REMOTE_ADDR": "203.0.113.66"})
    good = {**wrong, "client_secret": HASHED_CLIENT_SECRET}
    response = client.post("/token", data=good, environ_base={"REMOTE_ADDR": "198.51.100.10"})
    assert response.json["error"] == "invalid_grant"  # authenticated; only the code is bogus


def test_parallel_right_secrets_on_cold_workers_all_authenticate(tmp_path):
    """Eight token requests with the right argon2-checked secret at once, on four fresh granian
    workers: none is refused by the throttle (failures are counted after the check)."""
    import threading

    import requests
    from helpers import LiveServer

    server = LiveServer(tmp_path, workers=4)
    try:
        barrier, errors = threading.Barrier(8), []

        def ask():
            barrier.wait()
            response = requests.post(server.url + "/token", timeout=30, data={
                "grant_type": "authorization_code", "code": "x", "client_id": "hashed",
                "client_secret": HASHED_CLIENT_SECRET})
            errors.append(response.json()["error"])

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == ["invalid_grant"] * 8
    finally:
        server.stop()
