"""Malformed, oversized, duplicated and wrongly-encoded input never yields a 5xx or a traceback,
only the error the specs name (property-based, with hypothesis)."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from idp import create_app

PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "id_token_hint", "login_hint", "response_mode",
          "request", "request_uri", "grant_type", "code", "code_verifier", "refresh_token", "token",
          "token_type_hint", "client_secret", "post_logout_redirect_uri", "username", "password",
          "csrf_token", "next", "current", "new", "confirm"]
ENDPOINTS = [("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/token"), ("GET", "/userinfo"),
             ("POST", "/userinfo"), ("POST", "/revoke"), ("POST", "/introspect"), ("GET", "/logout"),
             ("POST", "/logout"), ("GET", "/login"), ("POST", "/login"), ("GET", "/account"),
             ("POST", "/account/password"), ("GET", "/.well-known/openid-configuration"),
             ("GET", "/.well-known/jwks.json"), ("GET", "/token"), ("PUT", "/token")]

values = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=string.printable, min_size=500, max_size=5000),
    st.sampled_from(["web", "spa", "code", "refresh_token", "authorization_code", "S256", "plain", "none",
                     "openid", "https://web.example/cb", "%00", "\x00", "é", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
                     "eyJhbGciOiJub25lIn0.e30.", "a" * 10000]),
)
params = st.lists(st.tuples(st.sampled_from(PARAMS), values), max_size=8)
headers = st.dictionaries(
    st.sampled_from(["Authorization", "Content-Type", "Origin", "Cookie", "X-Forwarded-For"]),
    st.one_of(st.sampled_from(["Basic", "Basic !!!", "Basic d2ViOg==", "Bearer", "Bearer x y", "Digest a",
                               "application/json", "multipart/form-data; boundary=x", "text/plain; charset=utf-7",
                               "latchkey_session=garbage", "https://web.example"]),
              st.text(alphabet=string.ascii_letters + string.digits + " =:;/", max_size=80)),
    max_size=3,
)
bodies = st.one_of(st.none(), st.binary(max_size=300), st.just(b"\xff\xfe\x00garbage=%zz&&=="))


def make_app(tmp_path_factory):
    from helpers import CLIENTS, FAST_ARGON2, ISSUER

    base = tmp_path_factory.mktemp("fuzz")
    (base / "clients.toml").write_text(CLIENTS)
    return create_app({"ISSUER": ISSUER, "INSTANCE_PATH": str(base / "instance"),
                       "CLIENTS_FILE": str(base / "clients.toml"), **FAST_ARGON2})


def test_no_input_yields_a_server_error(tmp_path_factory):
    app = make_app(tmp_path_factory)
    client = app.test_client()
    client.application.testing = False  # let the app's own error handlers answer

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(endpoint=st.sampled_from(ENDPOINTS), query=params, form=params, headers=headers, body=bodies)
    def check(endpoint, query, form, headers, body):
        method, path = endpoint
        kwargs = {"query_string": query, "headers": headers}
        if method != "GET":
            if body is not None:
                kwargs["data"] = body
            else:
                kwargs["data"] = MultiDict(form)
        response = client.open(path, method=method, **kwargs)
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

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
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
