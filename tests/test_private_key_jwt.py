"""private_key_jwt (RFC 7523 §2.2, §3; OIDC Core §9): an app signs a short JWT with its own key instead of
sending a secret, at /token, /revoke and /introspect; keys inline in clients.toml or at a jwks_uri.
And what an attacker would try: alg none, HS256 with the public key as secret, another audience, a
far-away exp, a replayed jti (across workers too), another app's name."""

import base64
import functools
import hashlib
import hmac
import http.server
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from helpers import LiveServer, free_port
from joserfc import jwt
from joserfc.jwk import RSAKey
from machines import BOATS, EC_KEY, MACHINE_CLIENTS, RSA_KEY, claims, public_jwks

from idp import private_key_jwt
from idp.clients import ClientsFileError, parse
from idp.settings import DEFAULTS

ISSUER = "http://localhost"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class KeyServer:
    """An app's jwks_uri on loopback: serves `self.body` at /jwks.json, redirects at /moved."""

    def __init__(self, body):
        self.body, self.hits = body, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits += 1
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/jwks.json")
                    self.end_headers()
                    return
                data = json.dumps(server.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def key_server():
    server = KeyServer(public_jwks(RSA_KEY))
    yield server
    server.stop()


@pytest.fixture
def clients_file(tmp_path, key_server):
    path = tmp_path / "clients.toml"
    path.write_text(MACHINE_CLIENTS + f"""
[[clients]]
client_id = "fetcher"
token_endpoint_auth_method = "private_key_jwt"
jwks_uri = "{key_server.url}/jwks.json"
grant_types = ["client_credentials"]
scope = "boats:read"

[[clients]]
client_id = "moved"
token_endpoint_auth_method = "private_key_jwt"
jwks_uri = "{key_server.url}/moved"
grant_types = ["client_credentials"]
scope = "boats:read"
""")
    return path


def assertion(key=RSA_KEY, client_id="signer", aud=f"{ISSUER}/token", lifetime=60, alg=None, **extra):
    now = int(time.time())
    alg = alg or ("ES256" if key.key_type == "EC" else "RS256")
    payload = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + lifetime,
               "jti": secrets.token_urlsafe(16), **extra}
    return jwt.encode({"alg": alg, "kid": key.kid}, payload, key, algorithms=[alg])


def unsigned(header, payload, sign=None):
    """A JWT built by hand (for algorithms joserfc refuses to make)."""
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    head = f"{part(header)}.{part(payload)}"
    return f"{head}.{sign(head.encode()) if sign else ''}"


def token(client, client_assertion, **data):
    return client.post("/token", data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                       "client_assertion": client_assertion, **data})


@pytest.mark.parametrize("key, client_id", [(RSA_KEY, "signer"), (EC_KEY, "ec-signer")])
def test_an_app_authenticates_with_a_signed_assertion(client, key, client_id):
    response = token(client, assertion(key, client_id))
    assert response.status_code == 200, response.json
    assert claims(response.json["access_token"])["sub"] == client_id


def test_the_issuer_is_an_audience_too(client):
    assert token(client, assertion(aud=ISSUER)).status_code == 200


def test_a_replayed_assertion_is_refused(client):
    used = assertion()
    assert token(client, used).status_code == 200
    replay = token(client, used)
    assert replay.status_code == 401 and replay.json["error"] == "invalid_client"


def bad_assertions():
    now = int(time.time())
    payload = {"iss": "signer", "sub": "signer", "aud": f"{ISSUER}/token", "exp": now + 60, "jti": "j-" + str(now)}
    pem = RSA_KEY.as_pem(private=False)
    hs256 = lambda head: base64.urlsafe_b64encode(hmac.new(pem, head, hashlib.sha256).digest()).rstrip(b"=").decode()
    other_key = RSAKey.generate_key(2048, {"kid": "rsa-1"}, private=True)
    return {
        "alg none": unsigned({"alg": "none"}, payload),
        "HS256 with the public key as secret": unsigned({"alg": "HS256", "kid": "rsa-1"}, payload, hs256),
        "wrong audience": assertion(aud="https://elsewhere.example/token"),
        "the revocation endpoint as audience": assertion(aud=f"{ISSUER}/revoke"),
        "exp far in the future": assertion(lifetime=3600),
        "expired": assertion(lifetime=-120),
        "iss is not sub": assertion(iss="backup"),
        "no jti": unsigned({"alg": "RS256"}, {k: v for k, v in payload.items() if k != "jti"}),
        "another key": assertion(other_key),
        "unknown kid": jwt.encode({"alg": "RS256", "kid": "nope"}, payload, RSA_KEY),
        "another app's name": assertion(client_id="backup"),
        "aud also naming another server": assertion(aud=[f"{ISSUER}/token", "https://elsewhere.example/token"]),
        "not a JWT": "not-a-jwt",
        "an unknown app": assertion(client_id="nobody"),
    }


@pytest.mark.parametrize("name", list(bad_assertions()))
def test_a_bad_assertion_is_invalid_client(client, name):
    response = token(client, bad_assertions()[name])
    assert response.status_code == 401 and response.json["error"] == "invalid_client", response.json


def test_a_client_id_beside_the_assertion_must_be_the_same_app(client):
    assert token(client, assertion(), client_id="ec-signer").status_code == 401
    assert token(client, assertion(), client_id="signer").status_code == 200


def test_an_assertion_and_a_secret_in_one_request_are_refused(client):
    response = client.post("/token", auth=("backup", "backup-secret-0123456789"), data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion()})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_a_private_key_jwt_app_cannot_use_a_secret_and_a_secret_app_cannot_sign(client):
    assert client.post("/token", data={"grant_type": "client_credentials"}, auth=("signer", "x")).status_code == 401
    assert token(client, assertion(client_id="backup")).status_code == 401


def test_private_key_jwt_works_at_revoke_and_introspect(client):
    access = token(client, assertion()).json["access_token"]
    auth = {"client_assertion_type": ASSERTION_TYPE}
    looked = client.post("/introspect", data={"token": access, "client_assertion": assertion(), **auth}).json
    assert looked["active"] is True and looked["aud"] == BOATS
    assert client.post("/revoke", data={"token": access, "client_assertion": assertion(), **auth}).status_code == 200
    assert client.post("/introspect", data={"token": access, "client_assertion": assertion(), **auth}).json == {
        "active": False}


def test_keys_are_fetched_from_the_jwks_uri_and_cached(client, key_server):
    private_key_jwt._cache.clear()
    before = key_server.hits
    for _ in range(3):
        assert token(client, assertion(client_id="fetcher")).status_code == 200
    assert key_server.hits - before == 1


def test_a_rotated_key_is_fetched_again(client, key_server, monkeypatch):
    private_key_jwt._cache.clear()
    assert token(client, assertion(client_id="fetcher")).status_code == 200
    new_key = RSAKey.generate_key(2048, {"kid": "rsa-2"}, private=True)
    monkeypatch.setattr(key_server, "body", public_jwks(RSA_KEY, new_key))
    monkeypatch.setattr(private_key_jwt, "REFETCH_AFTER", 0)
    assert token(client, assertion(new_key, client_id="fetcher")).status_code == 200


def test_a_jwks_uri_that_redirects_is_not_followed(client, key_server):
    private_key_jwt._cache.clear()
    before = key_server.hits
    response = token(client, assertion(client_id="moved"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert key_server.hits - before == 1  # the redirect, not its target


def test_a_key_server_answering_a_byte_at_a_time_is_cut_and_not_asked_again_at_once(tmp_path, settings):
    # Anyone can send an assertion naming an app: its key server must not hold the workers.
    from test_signout_attacks import Trickler

    from idp import create_app

    slow = Trickler()
    path = tmp_path / "slow.toml"
    path.write_text(f"""[[clients]]
client_id = "slow"
token_endpoint_auth_method = "private_key_jwt"
jwks_uri = "{slow.url}"
redirect_uris = ["https://slow.example/cb"]
""")
    try:
        client = create_app({**settings, "CLIENTS_FILE": str(path)}).test_client()
        started = time.monotonic()
        first = token(client, assertion(client_id="slow"))
        took = time.monotonic() - started
        assert first.status_code == 401 and took < private_key_jwt.FETCH_DEADLINE + 2
        started = time.monotonic()
        again = token(client, assertion(client_id="slow"))
        assert again.status_code == 401 and time.monotonic() - started < 1 and slow.connections == 1
    finally:
        slow.stop()


def test_an_unreachable_jwks_uri_is_invalid_client_not_an_error(tmp_path, settings):
    from idp import create_app

    path = tmp_path / "unreachable.toml"
    path.write_text(f"""[[clients]]
client_id = "gone"
token_endpoint_auth_method = "private_key_jwt"
jwks_uri = "http://127.0.0.1:{free_port()}/jwks.json"
redirect_uris = ["https://gone.example/cb"]
""")
    app = create_app({**settings, "CLIENTS_FILE": str(path)})
    response = app.test_client().post("/revoke", data={
        "token": "x", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(client_id="gone")})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("table, problem", [
    ('token_endpoint_auth_method = "private_key_jwt"', "needs the app's public keys"),
    ('token_endpoint_auth_method = "private_key_jwt"\nclient_secret = "s"\njwks_uri = "https://a.example/jwks"',
     "has no secret"),
    ('token_endpoint_auth_method = "private_key_jwt"\njwks_uri = "http://a.example/jwks"', "jwks_uri must be https"),
    ('token_endpoint_auth_method = "private_key_jwt"\njwks = { keys = [] }', "at least one key"),
    ('token_endpoint_auth_method = "private_key_jwt"\njwks = { keys = [{ kty = "oct", k = "c2VjcmV0" }] }',
     "private or symmetric key"),
    ('client_secret = "s"\njwks_uri = "https://a.example/jwks"', "only for token_endpoint_auth_method"),
])
def test_clients_file_checks_the_keys_of_a_private_key_jwt_app(tmp_path, table, problem):
    text = f'[[clients]]\nclient_id = "a"\nredirect_uris = ["https://a.example/cb"]\n{table}\n'
    path = tmp_path / "clients.toml"
    path.write_text(text)
    with pytest.raises(ClientsFileError) as raised:
        parse(str(path), DEFAULTS)
    assert any(p.startswith(f"{path}:") and problem in p for p in raised.value.problems), raised.value.problems


def test_clients_file_refuses_a_private_key_in_jwks(tmp_path):
    data = RSA_KEY.as_dict(private=True)
    text = ('[[clients]]\nclient_id = "a"\nredirect_uris = ["https://a.example/cb"]\n'
            'token_endpoint_auth_method = "private_key_jwt"\n'
            'jwks = { keys = [{ ' + ", ".join(f"{k} = {json.dumps(v)}" for k, v in data.items()) + " }] }\n")
    path = tmp_path / "clients.toml"
    path.write_text(text)
    with pytest.raises(ClientsFileError) as raised:
        parse(str(path), DEFAULTS)
    assert any(f"{path}:5:" in p and "private or symmetric" in p for p in raised.value.problems), raised.value.problems


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's client method, signing for two minutes (Authlib's default is an hour; Latchkey
    accepts at most five minutes) with the key's kid in the header."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
                                    alg=self.alg, header={"kid": auth.client_secret.kid}, expires_in=120)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("pkjwt"), clients_text=MACHINE_CLIENTS, workers=2)
    yield server
    server.stop()


def test_authlib_client_authenticates_with_private_key_jwt_at_token_revoke_and_introspect(live):
    token_url = f"{live.url}/token"
    session = OAuth2Session("signer", RSA_KEY, token_endpoint_auth_method=ShortLivedPrivateKeyJWT(token_url),
                            revocation_endpoint_auth_method=ShortLivedPrivateKeyJWT(token_url), scope="boats:read")
    body = session.fetch_token(token_url, grant_type="client_credentials")
    assert claims(body["access_token"])["client_id"] == "signer"
    introspected = session.introspect_token(f"{live.url}/introspect", body["access_token"]).json()
    assert introspected["active"] is True and introspected["sub"] == "signer"
    assert session.revoke_token(f"{live.url}/revoke", body["access_token"]).status_code == 200
    assert session.introspect_token(f"{live.url}/introspect", body["access_token"]).json() == {"active": False}


def test_a_jti_works_once_across_workers(live):
    # Two workers, eight copies of one assertion at once: the jti store in SQLite lets one through.
    used = assertion(aud=f"{live.url}/token")
    post = functools.partial(requests.post, f"{live.url}/token", timeout=20)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(data={"grant_type": "client_credentials",
                                                      "client_assertion_type": ASSERTION_TYPE,
                                                      "client_assertion": used}).status_code, range(8)))
    assert sorted(statuses) == [200] + [401] * 7
