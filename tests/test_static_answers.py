"""Discovery and the JWKS replayed without Flask (idp/static_answers.py): the replay is the app's own
answer, byte for byte and header for header, and nothing that could differ is replayed."""

import pytest
import requests
from helpers import LiveServer

PATHS = ["/.well-known/openid-configuration", "/.well-known/jwks.json"]
SPA_ORIGIN = "http://127.0.0.1:5173"  # a registered SPA redirect URI's origin (tests/helpers.py CLIENTS)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """One server for the module: every test asks each path again, so the replay is what it sees."""
    server = LiveServer(tmp_path_factory.mktemp("static"), workers=2)
    yield server
    server.stop()


def without_date(headers):
    return {k: v for k, v in headers.items() if k.lower() not in ("date", "server")}


@pytest.mark.parametrize("path", PATHS)
def test_the_replay_is_the_apps_own_answer(live_server, path):
    first, second, third = (requests.get(live_server.url + path) for _ in range(3))
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.content == second.content == third.content
    assert without_date(first.headers) == without_date(second.headers) == without_date(third.headers)
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert name in second.headers
    assert second.headers["Content-Type"] == "application/json"
    assert "Set-Cookie" not in second.headers


@pytest.mark.parametrize("path", PATHS)
def test_head_has_the_gets_headers_and_no_body(live_server, path):
    get = requests.get(live_server.url + path)
    for _ in range(2):  # the first HEAD of a worker may be the one that asks the app
        head = requests.head(live_server.url + path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str(len(get.content))
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


@pytest.mark.parametrize("path", PATHS)
def test_a_cross_origin_request_still_gets_its_cors_answer(live_server, path):
    requests.get(live_server.url + path)  # cached now
    allowed = requests.get(live_server.url + path, headers={"Origin": SPA_ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "Origin" in allowed.headers["Vary"]
    other = requests.get(live_server.url + path, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]
    plain = requests.get(live_server.url + path)
    assert "Access-Control-Allow-Origin" not in plain.headers and "Vary" not in plain.headers


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_and_odd_requests_go_through_the_app(live_server, path):
    requests.get(live_server.url + path)
    assert requests.post(live_server.url + path).status_code == 405
    assert requests.delete(live_server.url + path).status_code == 405
    preflight = requests.options(live_server.url + path, headers={"Origin": SPA_ORIGIN,
                                                                  "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    with_query = requests.get(live_server.url + path + "?x=%00%ff")
    assert with_query.status_code == 200 and with_query.content == requests.get(live_server.url + path).content
    assert requests.get(live_server.url + path + "/").status_code == 404


def test_nothing_is_kept_from_an_answer_that_is_not_a_plain_200(app):
    from idp.static_answers import StaticAnswers

    calls = []

    def flaky(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        if len(calls) == 1:
            start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "text/plain")])
            return [b"busy"]
        start_response("200 OK", [("Content-Type", "application/json"), ("Set-Cookie", "a=b")] if len(calls) == 2
                       else [("Content-Type", "application/json")])
        return [b"{}"]

    answers = StaticAnswers(flaky)
    environ = {"PATH_INFO": PATHS[0], "REQUEST_METHOD": "GET"}
    statuses = []
    for _ in range(5):
        list(answers(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses == ["503 SERVICE UNAVAILABLE", "200 OK", "200 OK", "200 OK", "200 OK"]
    assert calls == ["GET", "GET", "GET"]  # a 503 and an answer with a cookie were asked again; then kept
