"""OpenID Connect Back-Channel Logout 1.0: when a session ends, every app that signed in through it is
sent a Logout Token by POST. The apps here are a real receiver (a threaded HTTP server) that checks
each token against Latchkey's JWKS as §2.6 says, and ends its own sessions; Latchkey runs as in
production (LiveServer, several workers)."""

import http.server
import json
import re
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from helpers import PASSWORD, LiveServer, browser_sign_in, csrf_token, free_port, pkce_pair

EVENT = "http://schemas.openid.net/event/backchannel-logout"
APPS = {"a": "App A", "b": "App B"}


def clients_for(rp):
    """app-a and app-b listen for back-channel logout; app-c does not; app-r's address redirects."""
    text = ""
    for key, name in APPS.items():
        text += f"""
[[clients]]
client_id = "app-{key}"
client_name = "{name}"
client_secret = "app-{key}-secret-0123456789"
redirect_uris = ["{rp}/{key}/cb"]
post_logout_redirect_uris = ["{rp}/{key}/bye"]
backchannel_logout_uri = "{rp}/{key}/backchannel"
backchannel_logout_session_required = true
scope = "openid profile offline_access"
"""
    return text + f"""
[[clients]]
client_id = "app-c"
client_secret = "app-c-secret-0123456789"
redirect_uris = ["{rp}/c/cb"]
scope = "openid"

[[clients]]
client_id = "app-r"
client_secret = "app-r-secret-0123456789"
redirect_uris = ["{rp}/r/cb"]
backchannel_logout_uri = "{rp}/r/backchannel"
scope = "openid"
"""


class Receiver:
    """The apps' side: each app keeps its own sessions (sid → sub, made from verified ID tokens) and
    ends them when a valid Logout Token arrives at /<app>/backchannel (§2.5–§2.8). /r/backchannel
    answers with a redirect to /stolen, which must never be reached."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.keys = None
        self.sessions = {}  # app key -> {sid: sub}
        self.notices = []  # (app key, claims, header) of every valid Logout Token
        self.refused = []  # (app key, why) of every invalid one
        self.hits = []  # every path POSTed to
        self.raw = []  # every valid Logout Token as it came
        self.server = None

    def trust(self, issuer):
        """Fetch the provider's JWKS once, as an RP caches it."""
        self.issuer = issuer
        meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=5).json()
        self.keys = jwt.PyJWKSet.from_dict(requests.get(meta["jwks_uri"], timeout=5).json())

    def _key(self, token):
        kid = jwt.get_unverified_header(token).get("kid")
        return next(k for k in self.keys.keys if k.key_id == kid).key

    def accept_id_token(self, app, token, nonce):
        """OIDC Core §3.1.3.7 as an RP checks it; the session of this app is then `sid`."""
        claims = jwt.decode(token, self._key(token), algorithms=["RS256"], audience=f"app-{app}", issuer=self.issuer,
                            options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]})
        if claims["nonce"] != nonce or jwt.get_unverified_header(token).get("typ") == "logout+jwt":
            raise jwt.InvalidTokenError("not an ID token for this request")
        self.sessions.setdefault(app, {})[claims["sid"]] = claims["sub"]
        return claims

    def validate_logout_token(self, app, token):
        """Back-Channel Logout §2.6, step by step; raises on anything wrong."""
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "logout+jwt":  # §2.4 explicit typing
            raise jwt.InvalidTokenError(f"typ {header.get('typ')!r}")
        claims = jwt.decode(token, self._key(token), algorithms=["RS256"], audience=f"app-{app}", issuer=self.issuer,
                            options={"require": ["iss", "aud", "iat", "exp", "jti"]})
        if not isinstance(claims.get("events"), dict) or not isinstance(claims["events"].get(EVENT), dict):
            raise jwt.InvalidTokenError("no back-channel logout event")
        if "sid" not in claims and "sub" not in claims:
            raise jwt.InvalidTokenError("neither sid nor sub")
        if "nonce" in claims:
            raise jwt.InvalidTokenError("a nonce")
        if abs(claims["iat"] - time.time()) > 60:
            raise jwt.InvalidTokenError("iat too far off")
        return header, claims

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.hits.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                match = re.fullmatch(r"/([a-z])/backchannel", self.path)
                if self.path == "/r/backchannel":
                    return self.answer(307, {"Location": f"{receiver.url}/stolen"})
                if match is None or self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                    return self.answer(404)
                app, token = match.group(1), (parse_qs(body).get("logout_token") or [""])[0]
                try:
                    header, claims = receiver.validate_logout_token(app, token)
                except (jwt.InvalidTokenError, StopIteration) as e:
                    receiver.refused.append((app, str(e)))
                    return self.answer(400)
                # §2.7: end the app's session named by sid (of this sub).
                mine = receiver.sessions.get(app, {})
                if mine.get(claims["sid"]) == claims["sub"]:
                    del mine[claims["sid"]]
                receiver.notices.append((app, claims, header))
                receiver.raw.append(token)
                self.answer(200)

            def answer(self, status, headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Cache-Control", "no-store")  # §2.8
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def notices_for(self, app, sid=None):
        """The valid notices app-`app` got (about the session `sid` only, if given: the shared server
        may still be sending notices about sessions of earlier tests)."""
        return [claims for key, claims, _ in self.notices if key == app and sid in (None, claims["sid"])]


def wait_for(condition, timeout=20, what="the condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audit(server, event):
    """The audit log's `event` records of the running server, as dicts."""
    lines = [line.split("idp.audit: ", 1)[1] for line in server.output().splitlines() if "idp.audit: {" in line]
    return [record for record in map(json.loads, lines) if record["event"] == event]


def add_alice(server):
    result = server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                          input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr


def sign_in_to(server, receiver, browser, app, scope="openid profile offline_access"):
    """The browser signs in to app-`app` (through the login page, or straight through when signed in
    already); the app exchanges its code and starts its own session. Returns the token response."""
    verifier, challenge = pkce_pair()
    nonce = f"n-{app}-{time.time()}"
    callback = browser_sign_in(browser, server.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": f"app-{app}", "redirect_uri": f"{receiver.url}/{app}/cb", "scope": scope,
        "state": "s", "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    tokens = requests.post(server.url + "/token", auth=(f"app-{app}", f"app-{app}-secret-0123456789"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": f"{receiver.url}/{app}/cb",
        "code_verifier": verifier}, timeout=10).json()
    if app in APPS:
        tokens["claims"] = receiver.accept_id_token(app, tokens["id_token"], nonce)
    return tokens


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    receiver = Receiver().start()
    server = LiveServer(tmp_path_factory.mktemp("bcl"), clients_text=clients_for(receiver.url), workers=2)
    add_alice(server)
    receiver.trust(server.url)
    yield server, receiver
    server.stop()
    receiver.stop()


@pytest.fixture
def rp(world):
    """A fresh start for each test: the receiver's records cleared."""
    server, receiver = world
    for record in (receiver.notices, receiver.refused, receiver.hits, receiver.sessions, receiver.raw):
        record.clear()
    return server, receiver


def test_two_apps_in_one_session_one_signs_out_and_the_other_is_signed_out_too(rp):
    server, receiver = rp
    browser = requests.Session()
    a = sign_in_to(server, receiver, browser, "a")
    b = sign_in_to(server, receiver, browser, "b")
    sid = a["claims"]["sid"]
    assert b["claims"]["sid"] == sid and receiver.sessions == {"a": {sid: "alice"}, "b": {sid: "alice"}}

    # App A's RP-initiated logout (with its ID token): the browser goes straight back to A ...
    back = browser.get(server.url + "/logout", allow_redirects=False, params={
        "id_token_hint": a["id_token"], "post_logout_redirect_uri": f"{receiver.url}/a/bye", "state": "x"})
    assert back.status_code == 302 and back.headers["Location"] == f"{receiver.url}/a/bye?state=x"
    # ... and B, which the person never left, hears of it by itself: its session is gone.
    wait_for(lambda: receiver.notices_for("b", sid) and receiver.notices_for("a", sid), what="both notices")
    assert receiver.sessions == {"a": {}, "b": {}} and receiver.refused == []


def test_the_logout_token_says_what_the_spec_asks_and_no_more(rp):
    server, receiver = rp
    browser = requests.Session()
    a = sign_in_to(server, receiver, browser, "a")
    page = browser.get(server.url + "/logout")
    browser.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
    sid = a["claims"]["sid"]
    app, claims, header = wait_for(lambda: [n for n in receiver.notices if n[1]["sid"] == sid])[0]
    assert app == "a" and header["typ"] == "logout+jwt" and header["alg"] == "RS256" and header["kid"] == "1"
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}  # no nonce (§2.4)
    assert claims["iss"] == server.url and claims["aud"] == "app-a" and claims["sub"] == "alice"
    assert claims["sid"] == a["claims"]["sid"] and claims["events"] == {EVENT: {}}
    assert 0 < claims["exp"] - claims["iat"] <= 120


def test_an_app_without_a_backchannel_logout_uri_is_sent_nothing(rp):
    server, receiver = rp
    browser = requests.Session()
    sign_in_to(server, receiver, browser, "c")
    sid = sign_in_to(server, receiver, browser, "a")["claims"]["sid"]
    page = browser.get(server.url + "/logout")
    browser.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
    wait_for(lambda: receiver.notices_for("a", sid))
    assert [q["client"] for q in audit(server, "backchannel_logout_queued") if q["sid"] == sid] == ["app-a"]


def test_the_apps_of_another_session_hear_nothing(rp):
    server, receiver = rp
    phone, laptop = requests.Session(), requests.Session()
    on_phone = sign_in_to(server, receiver, phone, "a")
    laptop_sid = sign_in_to(server, receiver, laptop, "b")["claims"]["sid"]
    page = phone.get(server.url + "/logout")
    phone.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
    wait_for(lambda: receiver.notices_for("a", on_phone["claims"]["sid"]))
    time.sleep(0.5)
    assert receiver.notices_for("b", laptop_sid) == [] and receiver.sessions["b"] == {laptop_sid: "alice"}
    assert [q for q in audit(server, "backchannel_logout_queued") if q["sid"] == laptop_sid] == []


def test_sign_out_everywhere_tells_the_apps_of_every_session(rp):
    server, receiver = rp
    phone, laptop = requests.Session(), requests.Session()
    on_phone = sign_in_to(server, receiver, phone, "a")
    on_laptop = sign_in_to(server, receiver, laptop, "b")
    account = laptop.get(server.url + "/account")
    done = laptop.post(server.url + "/account/sign-out-everywhere", data={"csrf_token": csrf_token(account.text)})
    assert "You are signed out" in done.text
    wait_for(lambda: receiver.notices_for("a", on_phone["claims"]["sid"])
             and receiver.notices_for("b", on_laptop["claims"]["sid"]))
    assert receiver.sessions == {"a": {}, "b": {}}


def test_ending_a_session_on_the_account_page_tells_its_apps(rp):
    server, receiver = rp
    phone, laptop = requests.Session(), requests.Session()
    phone.headers["User-Agent"] = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"
    on_phone = sign_in_to(server, receiver, phone, "a")
    laptop_sid = sign_in_to(server, receiver, laptop, "b")["claims"]["sid"]
    account = laptop.get(server.url + "/account")
    # The phone's session on the list: Firefox on Android, listed with the app it signed in to.
    entry = re.search(r'Firefox on Android.*?name="handle" value="([0-9a-f]+)"', account.text, re.S)
    assert "Apps: App A" in entry.group(0)
    laptop.post(server.url + "/account/sessions/end",
                data={"csrf_token": csrf_token(account.text), "handle": entry.group(1)})
    wait_for(lambda: receiver.notices_for("a", on_phone["claims"]["sid"]))
    time.sleep(0.5)
    assert receiver.notices_for("b", laptop_sid) == [] and laptop.get(server.url + "/account").status_code == 200


@pytest.mark.parametrize("command", [["user", "disable", "alice"], ["user", "passwd", "alice", "--password-stdin"]],
                         ids=["disable", "passwd"])
def test_the_admin_disabling_or_resetting_the_person_tells_their_apps(tmp_path, command):
    receiver = Receiver().start()
    server = LiveServer(tmp_path, clients_text=clients_for(receiver.url), workers=2)
    try:
        add_alice(server)
        receiver.trust(server.url)
        sign_in_to(server, receiver, requests.Session(), "a")
        result = server.flask(*command, input="another good password\n")
        assert result.returncode == 0, result.stderr
        # The command only queues the notice; the server's workers send it within seconds.
        wait_for(lambda: receiver.notices_for("a"), what="the notice queued by the command")
        assert receiver.sessions["a"] == {}
    finally:
        server.stop()
        receiver.stop()


def test_a_receiver_that_is_down_gets_the_notice_once_it_is_back(tmp_path):
    receiver = Receiver()  # not listening yet: connections are refused
    server = LiveServer(tmp_path, clients_text=clients_for(receiver.url), workers=2)
    try:
        add_alice(server)
        receiver.start()
        receiver.trust(server.url)
        browser = requests.Session()
        sign_in_to(server, receiver, browser, "a")
        receiver.stop()
        page = browser.get(server.url + "/logout")
        started = time.time()
        assert "You are signed out" in browser.post(server.url + "/logout",
                                                    data={"csrf_token": csrf_token(page.text)}).text
        assert time.time() - started < 2  # the person's request never waited for the app
        failed = wait_for(lambda: audit(server, "backchannel_logout_failed"), what="the failed attempt")
        assert failed[0]["attempt"] == 1 and failed[0]["retry_in"] == 5 and failed[0]["client"] == "app-a"
        receiver.start()
        wait_for(lambda: receiver.notices_for("a"), what="the retry")
        sent = wait_for(lambda: audit(server, "backchannel_logout_sent"), what="the audit record")
        assert [(s["client"], s["attempt"]) for s in sent] == [("app-a", 2)]
        assert receiver.sessions["a"] == {}
    finally:
        server.stop()
        receiver.stop()


def test_a_pending_notice_survives_a_restart(tmp_path):
    receiver = Receiver()
    first = LiveServer(tmp_path, clients_text=clients_for(receiver.url), workers=2)
    second = None
    try:
        add_alice(first)
        receiver.start()
        receiver.trust(first.url)
        browser = requests.Session()
        a = sign_in_to(first, receiver, browser, "a")
        receiver.stop()
        page = browser.get(first.url + "/logout")
        browser.post(first.url + "/logout", data={"csrf_token": csrf_token(page.text)})
        wait_for(lambda: audit(first, "backchannel_logout_failed"), what="the failed attempt")
        first.stop()
        receiver.start()
        # The same Latchkey (instance, issuer) started again, as after a reboot; no request is needed.
        second = LiveServer(tmp_path, clients_text=clients_for(receiver.url), workers=2,
                            settings={"ISSUER": first.url})
        notice = wait_for(lambda: receiver.notices_for("a"), what="the notice after the restart")[0]
        assert notice["sid"] == a["claims"]["sid"] and notice["iss"] == first.url
    finally:
        for server in (second, first):
            if server is not None and server.process.poll() is None:
                server.stop()
        receiver.stop()


def test_a_redirect_from_the_receiver_is_not_followed(rp):
    server, receiver = rp
    browser = requests.Session()
    sign_in_to(server, receiver, browser, "r")
    page = browser.get(server.url + "/logout")
    browser.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
    failed = wait_for(lambda: [f for f in audit(server, "backchannel_logout_failed") if f["client"] == "app-r"])
    assert "redirect not followed" in failed[0]["error"] and failed[0]["retry_in"] == 5
    time.sleep(0.5)
    assert "/stolen" not in receiver.hits and receiver.hits == ["/r/backchannel"]


def test_a_logout_token_is_never_taken_for_an_id_token(rp):
    server, receiver = rp
    browser = requests.Session()
    a = sign_in_to(server, receiver, browser, "a")
    page = browser.get(server.url + "/logout")
    browser.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
    wait_for(lambda: receiver.notices_for("a"))
    # An RP that checks its ID tokens (nonce, typ) refuses a Logout Token, and so does Latchkey as an
    # id_token_hint (it is signed with the same key, for the same person).
    logout_token = receiver.raw[-1]
    with pytest.raises(jwt.InvalidTokenError):
        receiver.accept_id_token("a", logout_token, a["claims"]["nonce"])
    browser2 = requests.Session()
    sign_in_to(server, receiver, browser2, "a")
    hinted = browser2.get(server.url + "/logout", allow_redirects=False, params={
        "id_token_hint": logout_token, "post_logout_redirect_uri": f"{receiver.url}/a/bye"})
    assert hinted.status_code == 200 and "could not be verified" in hinted.text
    refused = browser2.get(server.url + "/authorize", allow_redirects=False, params={
        "response_type": "code", "client_id": "app-a", "redirect_uri": f"{receiver.url}/a/cb", "scope": "openid",
        "prompt": "none", "id_token_hint": logout_token, "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256"})
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["error"] == ["invalid_request"]


# clients.toml: where a notice may go (the rules of redirect URIs, and http(s) only).

BASE = """\
[[clients]]
client_id = "a"
redirect_uris = ["https://a.example/cb"]
token_endpoint_auth_method = "none"
"""


def parse_with(tmp_path, extra):
    from idp.clients import parse
    from idp.settings import DEFAULTS

    path = tmp_path / "clients.toml"
    path.write_text(BASE + extra)
    return path, lambda: parse(str(path), DEFAULTS)


@pytest.mark.parametrize("uri, expected", [
    ("http://rp.example/bc", "http is only allowed on a loopback host"),
    ("https://user:pw@rp.example/bc", "no user name"),
    ("https://rp.example/bc#frag", "a fragment is not allowed"),
    ("https://rp.example\\\\@evil.example/bc", "backslashes"),
    ("https://*.example/bc", "wildcards are not allowed"),
    ("http://127.0.0.1.evil.example/bc", "http is only allowed on a loopback host"),
    ("com.example.app:/bc", "must be an https URL"),
    ("file:///etc/passwd", "must be https"),
    ("", "must be a non-empty string"),
])
def test_backchannel_logout_uri_follows_the_redirect_uri_rules(tmp_path, uri, expected):
    from idp.clients import ClientsFileError

    path, load = parse_with(tmp_path, f'backchannel_logout_uri = "{uri}"\n')
    with pytest.raises(ClientsFileError) as e:
        load()
    assert any(p.startswith(f"{path}:5: backchannel_logout_uri") and expected in p for p in e.value.problems), \
        e.value.problems


@pytest.mark.parametrize("uri", ["https://rp.example/bc?tenant=1", "http://localhost:8008/bc", "http://[::1]/bc"])
def test_a_backchannel_logout_uri_may_be_on_another_host_than_the_redirect_uris(tmp_path, uri):
    _, load = parse_with(tmp_path, f'backchannel_logout_uri = "{uri}"\nbackchannel_logout_session_required = true\n')
    client = load()["a"]
    assert client.backchannel_logout_uri == uri and client.backchannel_logout_session_required is True


@pytest.mark.parametrize("extra, expected", [
    ("backchannel_logout_session_required = true\n", "5: backchannel_logout_session_required needs backchannel_logout_uri"),
    ('backchannel_logout_session_required = "yes"\n', "5: backchannel_logout_session_required must be a bool"),
    ("backchannel_logout_uri = 1\n", "5: backchannel_logout_uri must be a str"),
    ('backchannel_logout_url = "https://rp.example/bc"\n', "5: unknown key 'backchannel_logout_url' (did you mean"),
])
def test_mistakes_in_the_logout_keys_are_named_with_file_and_line(tmp_path, extra, expected):
    from idp.clients import ClientsFileError

    path, load = parse_with(tmp_path, extra)
    with pytest.raises(ClientsFileError) as e:
        load()
    assert any(p.startswith(f"{path}:{expected}") for p in e.value.problems), e.value.problems


def test_flask_client_check_reports_the_logout_keys(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from idp.cli import client_cli

    path, _ = parse_with(tmp_path, 'backchannel_logout_uri = "http://rp.example/bc"\n')
    monkeypatch.setenv("IDP_CLIENTS_FILE", str(path))
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(client_cli, ["check"])
    assert result.exit_code == 1 and f"{path}:5: backchannel_logout_uri: 'http://rp.example/bc'" in result.output
    path.write_text(BASE + 'backchannel_logout_uri = "https://rp.example/bc"\n'
                    'frontchannel_logout_uri = "https://a.example/fc"\nrefresh_token_lifetime = "session"\n')
    result = CliRunner().invoke(client_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert ("a (a): public, scope 'openid profile email', back-channel logout, front-channel logout, "
            "refresh tokens end with the session") in result.output


def test_discovery_says_both_logouts_are_supported_with_sessions(client):
    data = client.get("/.well-known/openid-configuration").json
    assert data["backchannel_logout_supported"] is True and data["backchannel_logout_session_supported"] is True
    assert data["frontchannel_logout_supported"] is True and data["frontchannel_logout_session_supported"] is True
    assert "sid" in data["claims_supported"]


# The queue: claimed by one worker at a time, retried with back-off, given up after a day.

def queued_notice(app, next_attempt_at, created_at=None):
    from idp.db import get_db

    with app.app_context():
        return get_db().execute(
            "INSERT INTO logout_notices (client_id, username, sid, jti, reason, created_at, next_attempt_at)"
            " VALUES ('web', 'alice', 'sid-1', ?, 'test', ?, ?)",
            (f"jti-{next_attempt_at}", created_at or int(time.time()), next_attempt_at)).lastrowid


def test_a_notice_is_claimed_by_one_worker_until_its_lease_lapses(app):
    from idp import backchannel_logout

    later = int(time.time()) + 10_000  # out of reach of this app's own sender thread
    notice = queued_notice(app, later)
    with app.app_context():
        assert backchannel_logout._claim(later - 1) is None  # not due yet
        assert backchannel_logout._claim(later)["id"] == notice
        assert backchannel_logout._claim(later + 1) is None  # claimed: nobody else sends it now
        # A worker that died while sending leaves its claim to lapse; then another sends it again
        # (at least once, Back-Channel Logout §2.6 lets the receiver tell by the jti).
        again = backchannel_logout._claim(later + backchannel_logout.LEASE)
        assert again["id"] == notice and again["attempts"] == 1


def test_the_back_off_grows_and_stays_within_a_day():
    from idp.backchannel_logout import GIVE_UP_AFTER, retry_in

    pauses = [retry_in(n) for n in range(1, 12)]
    assert pauses[:4] == [5, 30, 120, 600] and pauses == sorted(pauses) and max(pauses) < GIVE_UP_AFTER


def test_a_notice_still_failing_after_a_day_is_given_up_and_audited(app, clients_file, caplog):
    from idp import backchannel_logout
    from idp.db import get_db

    clients_file.write_text(clients_file.read_text().replace(
        'post_logout_redirect_uris = ["https://web.example/"]',
        f'post_logout_redirect_uris = ["https://web.example/"]\nbackchannel_logout_uri = "http://127.0.0.1:{free_port()}/bc"'))
    caplog.set_level("INFO", logger="idp.audit")
    later = int(time.time()) + 10_000
    queued_notice(app, later, created_at=int(time.time()) - backchannel_logout.GIVE_UP_AFTER + 2)
    with app.app_context():
        app.extensions["latchkey_clients"]._next_check = 0  # see the edit at once
        backchannel_logout._attempt(backchannel_logout._claim(later))
        assert get_db().execute("SELECT COUNT(*) FROM logout_notices").fetchone()[0] == 0
    gave_up = [json.loads(r.getMessage()) for r in caplog.records if "backchannel_logout_failed" in r.getMessage()]
    assert gave_up[0]["given_up"] is True and gave_up[0]["attempt"] == 1 and "refused" in gave_up[0]["error"].lower()
