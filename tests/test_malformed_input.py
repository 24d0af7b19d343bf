"""Malformed, oversized, duplicated and wrongly-encoded input never yields a 5xx or a traceback,
only the error the specs name (property-based, with hypothesis)."""

import base64
import os
import string

import pytest

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers, MultiDict

from idp import create_app

#: CI runs a fixed seed and a bounded count; a long session by hand: LATCHKEY_FUZZ_EXAMPLES=20000.
EXAMPLES = int(os.environ.get("LATCHKEY_FUZZ_EXAMPLES", "400"))
SEED = int(os.environ.get("LATCHKEY_FUZZ_SEED", "20261124"))

PARAMS = ["access_token", "logout_hint", "ui_locales", "client_assertion", "resource", "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "id_token_hint", "login_hint", "response_mode",
          "request", "request_uri", "grant_type", "code", "code_verifier", "refresh_token", "token",
          "token_type_hint", "client_secret", "post_logout_redirect_uri", "username", "password",
          "csrf_token", "next", "current", "new", "confirm", "device_code", "user_code", "client_assertion_type",
          "decision"]
ENDPOINTS = [("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/token"), ("GET", "/userinfo"),
             ("POST", "/userinfo"), ("POST", "/revoke"), ("POST", "/introspect"), ("GET", "/logout"),
             ("POST", "/logout"), ("GET", "/login"), ("POST", "/login"), ("GET", "/account"),
             ("POST", "/account/password"), ("GET", "/.well-known/openid-configuration"),
             ("GET", "/.well-known/jwks.json"), ("GET", "/token"), ("PUT", "/token"), ("POST", "/account/revoke"),
             ("POST", "/account/sign-out-everywhere"), ("OPTIONS", "/token"), ("OPTIONS", "/userinfo"), ("GET", "/"),
             ("HEAD", "/login"), ("DELETE", "/authorize"), ("GET", "/static/style.css"), ("GET", "/static/../app.py"),
             ("POST", "/device_authorization"), ("GET", "/device_authorization"), ("GET", "/activate"),
             ("POST", "/activate"), ("GET", "/activate/confirm"), ("POST", "/activate/confirm")]

values = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=string.printable, min_size=500, max_size=5000),
    st.sampled_from(["web", "spa", "code", "refresh_token", "authorization_code", "S256", "plain", "none",
                     "openid", "https://web.example/cb", "%00", "\x00", "é", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
                     "eyJhbGciOiJub25lIn0.e30.", "a" * 10000, "tv", "signer", "backup", "client_credentials",
                     "urn:ietf:params:oauth:grant-type:device_code", "boats:read", "https://boats.example/api",
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "BCDF-GHJK"]),
)
params = st.lists(st.tuples(st.sampled_from(PARAMS), values), max_size=8)
headers = st.dictionaries(
    st.sampled_from(["Authorization", "Content-Type", "Origin", "Cookie", "X-Forwarded-For", "X-Forwarded-Proto",
                     "Host", "Accept", "Content-Length"]),
    st.one_of(st.sampled_from(["", " ", "Basic", "Basic ", "Bearer ", "Basic !!!", "Basic d2ViOg==", "Basic Og==",
                               "Bearer", "Bearer x y", "Digest a", "DPoP x", "Basic //46eA==",
                               "application/json", "multipart/form-data; boundary=x", "text/plain; charset=utf-7",
                               "latchkey_session=garbage", "https://web.example"]),
              st.text(alphabet=string.ascii_letters + string.digits + " =:;/", max_size=80)),
    max_size=3,
)
bodies = st.one_of(st.none(), st.binary(max_size=300), st.just(b"\xff\xfe\x00garbage=%zz&&=="))


def make_app(tmp_path_factory):
    from helpers import FAST_ARGON2, ISSUER
    from machines import MACHINE_CLIENTS  # the standard apps, and the machine and device ones

    base = tmp_path_factory.mktemp("fuzz")
    (base / "clients.toml").write_text(MACHINE_CLIENTS)
    return create_app({"ISSUER": ISSUER, "INSTANCE_PATH": str(base / "instance"),
                       "CLIENTS_FILE": str(base / "clients.toml"), **FAST_ARGON2})


def test_no_input_yields_a_server_error(tmp_path_factory):
    app = make_app(tmp_path_factory)
    client = app.test_client()
    client.application.testing = False  # let the app's own error handlers answer

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(endpoint=st.sampled_from(ENDPOINTS), query=params, form=params, headers=headers, body=bodies)
    def check(endpoint, query, form, headers, body):
        method, path = endpoint
        kwargs = {"query_string": query, "headers": headers}
        if method != "GET":
            if body is not None:
                kwargs["data"] = body
            else:
                kwargs["data"] = MultiDict(form)
        with client.open(path, method=method, **kwargs) as response:
            assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
            assert "Traceback" not in response.text
            if response.mimetype == "application/json" and response.status_code >= 400:
                assert "error" in response.json

    check()


def test_signed_in_authorization_requests_never_yield_a_server_error(tmp_path_factory):
    from helpers import add_legacy_user, auth_params, login, pkce_pair

    app = make_app(tmp_path_factory)
    app.testing = False
    # A non-ASCII legacy name (new ones are ASCII) must not break error texts.
    add_legacy_user(app, "jürgen", "correct horse battery")
    client = app.test_client()
    login(client, "jürgen")
    base = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1])

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(extra=params, drop=st.lists(st.sampled_from(sorted(base)), max_size=3))
    def check(extra, drop):
        query = [(k, v) for k, v in base.items() if k not in drop] + extra
        response = client.get("/authorize", query_string=query)
        assert response.status_code < 500, (query, response.status_code, response.text[:300])

    check()


def test_a_non_ascii_username_gets_a_proper_access_denied(tmp_path_factory):
    from helpers import add_legacy_user, auth_params, login, pkce_pair, redirect_params

    app = make_app(tmp_path_factory)
    add_legacy_user(app, "jürgen", "correct horse battery")  # from before the ASCII username profile
    client = app.test_client()
    login(client, "jürgen")
    params = auth_params("staff", "https://staff.example/cb", scope="openid", challenge=pkce_pair()[1], prompt="none")
    values = redirect_params(client.get("/authorize", query_string=params))
    assert values["error"] == "access_denied" and values["error_description"].startswith("j?rgen is not")


def test_control_characters_are_invalid_request(client):
    response = client.post("/token", data={"grant_type": "authorization_code\x00", "code": "x"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    page = client.get("/authorize", query_string={"client_id": "web", "response_type": "\x1f"})
    assert page.status_code == 400 and "characters it may not contain" in page.text


# --- Every character in every parameter, every odd Authorization header, repeated headers -------

#: Printable ASCII (each alone and inside an otherwise valid value), control characters, DEL, and
#: a few non-ASCII ones; "" stands for the empty value.
CHARACTERS = [chr(c) for c in range(0x20, 0x7F)] + [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "é", "\u202e", "\ufeff", ""]


def _valid_requests(verifier_challenge):
    """(method, path, {param: valid value}) for every endpoint, valid enough to reach deep code."""
    from helpers import WEB_SECRET

    verifier, challenge = verifier_challenge
    authorize = {"response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/cb",
                 "scope": "openid profile", "state": "s", "nonce": "n", "code_challenge": challenge,
                 "code_challenge_method": "S256", "prompt": "consent", "max_age": "600", "login_hint": "alice",
                 "response_mode": "query", "ui_locales": "en", "acr_values": "1"}
    return [
        ("GET", "/authorize", authorize),
        ("POST", "/authorize", authorize),
        ("POST", "/token", {"grant_type": "authorization_code", "code": "c" * 43, "redirect_uri": "https://web.example/cb",
                            "code_verifier": verifier, "client_id": "web", "client_secret": WEB_SECRET}),
        ("POST", "/token", {"grant_type": "refresh_token", "refresh_token": "r" * 43, "scope": "openid",
                            "client_id": "web", "client_secret": WEB_SECRET}),
        ("POST", "/revoke", {"token": "t" * 43, "token_type_hint": "access_token", "client_id": "web",
                             "client_secret": WEB_SECRET}),
        ("POST", "/introspect", {"token": "t" * 43, "token_type_hint": "refresh_token", "client_id": "web",
                                 "client_secret": WEB_SECRET}),
        ("POST", "/userinfo", {"access_token": "a" * 43}),
        ("GET", "/logout", {"id_token_hint": "x.y.z", "post_logout_redirect_uri": "https://web.example/",
                            "client_id": "web", "state": "s", "logout_hint": "alice", "ui_locales": "en"}),
        ("POST", "/login", {"username": "alice", "password": "pw", "next": "/account", "csrf_token": "x"}),
        ("GET", "/login", {"next": "/authorize?client_id=web", "login_hint": "alice"}),
        ("POST", "/device_authorization", {"client_id": "tv", "scope": "openid boats:read",
                                           "resource": "https://boats.example/api"}),
        ("POST", "/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "d" * 43,
                            "client_id": "tv"}),
        ("POST", "/token", {"grant_type": "client_credentials", "scope": "boats:read", "client_id": "signer",
                            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                            "client_assertion": _assertion(), "resource": "https://boats.example/api"}),
        ("POST", "/activate", {"user_code": "BCDF-GHJK", "csrf_token": "x"}),
    ]


def _assertion():
    """A valid private_key_jwt assertion of the `signer` app (machines.py); each use is a new one."""
    import secrets
    import time

    from joserfc import jwt
    from machines import RSA_KEY

    now = int(time.time())
    return jwt.encode({"alg": "RS256", "kid": RSA_KEY.kid}, {"iss": "signer", "sub": "signer", "exp": now + 60,
                      "aud": "http://localhost/token", "jti": secrets.token_urlsafe(8)}, RSA_KEY)


def test_every_character_in_every_parameter_of_every_endpoint(tmp_path_factory):
    """Each parameter of each endpoint, with each character alone, inside its valid value, and as
    the empty value, from a signed-in browser: never a 5xx, and JSON errors name an error code."""
    from helpers import add_user, login, pkce_pair

    app = make_app(tmp_path_factory)
    app.testing = False
    add_user(app, "alice", "correct horse battery")
    client = app.test_client()
    login(client, "alice", "correct horse battery")
    count = 0
    for method, path, valid in _valid_requests(pkce_pair()):
        for param in valid:
            for c in CHARACTERS:
                for value in {c, valid[param][:3] + c + valid[param][3:]}:
                    values = {**valid, param: value}
                    kwargs = {"query_string": values} if method == "GET" else {"data": values}
                    response = client.open(path, method=method, **kwargs)
                    count += 1
                    assert response.status_code < 500, (method, path, param, value, response.status_code)
                    if response.mimetype == "application/json" and response.status_code >= 400:
                        assert response.json["error"], (method, path, param, value)
    assert count > 5000


SCHEMES = ["Basic", "basic", "BASIC", "Bearer", "bearer", "Digest", "Negotiate", "DPoP", "Token", "", "Basic\t"]
CREDENTIALS = ["", " ", "  ", "=", "==", "!!!", "a b", "d2Vi", "d2ViOg==", "Og==", "OngK", "d2ViOnNlY3JldDo6",
               "/w==", "//46eA==", "d2ViOndlYi1zZWNyZXQtMDEyMzQ1Njc4OQ==", "x" * 5000, "\u00e9", "a,b", 'realm="x"']


def test_every_odd_authorization_header_at_every_endpoint(client):
    """Empty and odd credentials of every scheme: a 400 or 401 that names its error, never a 5xx."""
    client.application.testing = False
    for method, path in [("POST", "/token"), ("POST", "/revoke"), ("POST", "/introspect"),
                         ("GET", "/userinfo"), ("POST", "/userinfo"), ("GET", "/authorize"), ("GET", "/logout")]:
        for scheme in SCHEMES:
            for credentials in CREDENTIALS:
                header = f"{scheme} {credentials}" if scheme else credentials
                response = client.open(path, method=method, headers={"Authorization": header},
                                       data={"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}
                                       if method == "POST" else None)
                assert response.status_code < 500, (path, header, response.status_code)
                if response.mimetype == "application/json" and response.status_code >= 400:
                    assert response.json["error"], (path, header)


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_an_empty_basic_header_is_invalid_client(client, path):
    """It was a 500: Authlib's Basic parser fails on `Basic ` with nothing after it."""
    for header in ["Basic ", "Basic", "Basic  ", "Basic Og==", "Basic d2Vi"]:
        response = client.post(path, data={"token": "x"}, headers={"Authorization": header})
        assert response.status_code == 401 and response.json["error"] == "invalid_client", header


@pytest.mark.parametrize("param, value", [("redirect_uri", 'https://web.example/cb"'), ("redirect_uri", "https://web.example/cb\\"),
                                          ("response_type", 'code"'), ("response_type", "co\\de"), ("scope", 'openid"'),
                                          ("state", 'a"b\\c'), ("prompt", 'login"'), ("max_age", '"')])
def test_quotes_and_backslashes_get_an_error_never_a_500(flow, param, value):
    """Authlib refuses to build an error description with '"' or '\\'; the one place errors are made
    replaces them (idp/oauth.py), so every such request gets its proper error."""
    from helpers import auth_params, pkce_pair

    flow.client.application.testing = False
    response = flow.client.get("/authorize", query_string={**auth_params(challenge=pkce_pair()[1]), param: value})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302 and "error=" in response.location:
        description = response.location.split("error_description=")[1].split("&")[0]
        assert "%22" not in description and "%5C" not in description


@pytest.mark.parametrize("header", ["Authorization", "Content-Type", "Cookie", "Origin", "X-Forwarded-For", "Host"])
def test_repeated_headers_never_yield_a_server_error(flow, header):
    from helpers import WEB_SECRET

    flow.client.application.testing = False
    values = {"Authorization": ["Basic " + base64.b64encode(f"web:{WEB_SECRET}".encode()).decode(), "Bearer x"],
              "Content-Type": ["application/x-www-form-urlencoded", "application/json"],
              "Cookie": ["latchkey_session=a", "latchkey_session=b"], "Origin": ["https://web.example", "https://evil.example"],
              "X-Forwarded-For": ["10.0.0.1", "10.0.0.2"], "Host": ["localhost", "evil.example"]}[header]
    headers = Headers([(header, v) for v in values])
    for method, path in [("POST", "/token"), ("POST", "/revoke"), ("POST", "/introspect"), ("GET", "/userinfo"),
                         ("GET", "/authorize"), ("GET", "/login"), ("GET", "/account"), ("GET", "/.well-known/jwks.json")]:
        response = flow.client.open(path, method=method, headers=headers,
                                    data={"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}
                                    if method == "POST" else None)
        assert response.status_code < 500, (path, header, response.status_code)


@pytest.mark.parametrize("crit", ["1", "null", "true", "1.5", "[1]", "[[]]", "[{}]", '"x"'])
def test_an_id_token_hint_with_an_odd_crit_header_is_no_500(client, crit):
    """joserfc raises TypeError on such headers, and Authlib's logout catches only JoseError."""
    def b64(text):
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    client.application.testing = False
    hint = b64('{"alg":"RS256","crit":' + crit + "}") + "." + b64("{}") + ".AAAA"
    for method in (client.get, client.post):
        response = method("/logout", query_string={"id_token_hint": hint, "post_logout_redirect_uri": "https://web.example/"})
        assert response.status_code == 200 and "Location" not in response.headers
