"""Many granian workers on one SQLite database: parallel redemptions and refreshes never both
succeed, and `database is locked` never reaches a client."""

import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from helpers import WEB_SECRET, browser_sign_in, pkce_pair

SPA = {"client_id": "spa", "redirect_uri": "http://127.0.0.1:5173/cb"}


def in_parallel(count, action):
    """Run `action(i)` in `count` threads released at once; return their results."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        barrier.wait()
        results[i] = action(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def sign_in_tokens(server, session, scope="openid offline_access"):
    verifier, challenge = pkce_pair()
    callback = browser_sign_in(session, server.url + "/authorize?" + urlencode({
        "response_type": "code", "scope": scope, "code_challenge": challenge,
        "code_challenge_method": "S256", **SPA}))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    return requests.post(server.url + "/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, **SPA}).json()


def refresh(server, token):
    return requests.post(server.url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": token, "client_id": "spa"})


def test_parallel_refreshes_of_one_token_never_leave_two_working_pairs(live_server):
    tokens = sign_in_tokens(live_server, requests.Session())
    responses = in_parallel(8, lambda i: refresh(live_server, tokens["refresh_token"]))
    assert all(r.status_code in (200, 400) for r in responses)
    issued = [r.json()["refresh_token"] for r in responses if r.status_code == 200]
    still_working = [t for t in issued if refresh(live_server, t).status_code == 200]
    assert len(still_working) <= 1


def test_a_burst_of_sign_ins_and_refreshes_never_sees_a_locked_database(live_server):
    session = requests.Session()
    families = [sign_in_tokens(live_server, session) for _ in range(8)]

    def work(i):
        statuses = []
        token = families[i]["refresh_token"]
        for _ in range(5):
            response = refresh(live_server, token)
            statuses.append(response.status_code)
            token = response.json().get("refresh_token", token)
        statuses.append(requests.get(live_server.url + "/userinfo", headers={
            "Authorization": "Bearer " + response.json()["access_token"]}).status_code)
        return statuses

    results = in_parallel(8, work)
    assert all(status == 200 for statuses in results for status in statuses), results
    assert "database is locked" not in live_server.output()


def test_confidential_client_refresh_across_workers(live_server):
    verifier, challenge = pkce_pair()
    callback = browser_sign_in(requests.Session(), live_server.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": "web", "redirect_uri": "https://web.example/cb",
        "scope": "openid offline_access", "code_challenge": challenge, "code_challenge_method": "S256"}))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = requests.post(live_server.url + "/token", auth=("web", WEB_SECRET), data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": "https://web.example/cb"}).json()
    for _ in range(4):  # every request may land on another worker
        response = requests.post(live_server.url + "/token", auth=("web", WEB_SECRET), data={
            "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
        assert response.status_code == 200
        token = response.json()
