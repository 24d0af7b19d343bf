"""Test helpers and fixtures: a fresh Latchkey per test (temp instance folder, its own clients.toml,
cheap argon2), a signed-in browser, PKCE, and the real server under granian (or gunicorn)."""

import base64
import hashlib
import re
import secrets
import textwrap
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from argon2 import PasswordHasher, Type

from idp import create_app
from idp.passwords import new_client_secret
from idp.serve import server_command

ISSUER = "http://localhost"
PASSWORD = "correct horse battery"
WEB_SECRET = "web-secret-0123456789"
# (secret, stored form), made once per test run: "hashed" keeps the argon2 form that `flask client
# secret` wrote before (still accepted); "fast" has today's "$sha256$" form.
_HASHED = (lambda s: (s, PasswordHasher(type=Type.ID).hash(s)))(secrets.token_urlsafe(32))
_FAST = new_client_secret()

# Cheap argon2 for speed; the production defaults are tested in test_users.py.
FAST_ARGON2 = {"ARGON2_MEMORY_KIB": 64, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1}

CLIENTS = textwrap.dedent(
    f"""\
    [[clients]]
    client_id = "web"
    client_name = "Web App"
    client_secret = "{WEB_SECRET}"
    redirect_uris = ["https://web.example/cb", "https://web.example/other"]
    post_logout_redirect_uris = ["https://web.example/"]
    token_endpoint_auth_method = "client_secret_basic"
    scope = "openid profile email groups offline_access"

    [[clients]]
    client_id = "hashed"
    client_secret_hash = "{_HASHED[1]}"
    redirect_uris = ["https://hashed.example/cb"]
    token_endpoint_auth_method = "client_secret_post"
    scope = "openid profile email offline_access"

    [[clients]]
    client_id = "fast"
    client_secret_hash = "{_FAST[1]}"
    redirect_uris = ["https://fast.example/cb"]
    scope = "openid offline_access"

    [[clients]]
    client_id = "spa"
    client_name = "Single Page"
    redirect_uris = ["http://127.0.0.1:5173/cb", "com.example.app:/cb"]
    token_endpoint_auth_method = "none"
    scope = "openid profile offline_access"

    [[clients]]
    client_id = "cli"
    client_name = "Command Line"
    application_type = "native"
    redirect_uris = ["http://127.0.0.1:9999/cb", "http://[::1]/cb", "http://localhost:8000/cb?x=1", "com.example.cli:/cb"]
    post_logout_redirect_uris = ["http://127.0.0.1:9999/bye"]
    token_endpoint_auth_method = "none"
    scope = "openid offline_access"

    [[clients]]
    client_id = "legacy"
    client_secret = "legacy-secret-0123456789"
    redirect_uris = ["https://legacy.example/cb"]
    require_pkce = false
    scope = "openid email offline_access"
    id_token_claims = false
    access_token_ttl = 60
    id_token_ttl = 120
    refresh_token_ttl = 3600

    [[clients]]
    client_id = "staff"
    client_name = "Staff Wiki"
    client_secret = "staff-secret-0123456789"
    redirect_uris = ["https://staff.example/cb"]
    allowed_groups = ["staff"]
    scope = "openid groups"
    grant_types = ["authorization_code"]
    """
)


@pytest.fixture
def clients_file(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(CLIENTS)
    return path


@pytest.fixture
def settings(tmp_path, clients_file):
    return {
        "ISSUER": ISSUER,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CLIENTS_FILE": str(clients_file),
        **FAST_ARGON2,
    }


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def add_user(app, username="alice", password=PASSWORD, *extra):
    """Add a user through the real CLI command."""
    args = ["user", "add", username, "--email", f"{username}@example.org", "--password-stdin", *extra]
    result = app.test_cli_runner().invoke(args=args, input=password + "\n")
    assert result.exit_code == 0, result.output
    return username


def add_legacy_user(app, username, password=PASSWORD):
    """Add a user straight into SQLite, as a database from before the username profile may hold
    (`flask user add` would refuse names like 'jürgen' or 'Bob' today)."""
    import time

    import idp.db
    import idp.users

    with app.app_context():
        now = int(time.time())
        idp.db.get_db().execute(
            "INSERT INTO users (username, password_hash, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (username, idp.users._hasher().hash(password), f"{username}@example.org", now, now),
        )
    return username


@pytest.fixture
def alice(app):
    return add_user(
        app, "alice", PASSWORD, "--name", "Alice Liddell", "--given-name", "Alice",
        "--family-name", "Liddell", "--group", "staff", "--group", "family", "--locale", "en-GB",
    )


def csrf_token(html):
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, html
    return match.group(1)


def login(client, username="alice", password=PASSWORD, next_url=None):
    """Sign in through the login form; return the POST response."""
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    page = client.get("/login" + query)
    data = {"username": username, "password": password, "csrf_token": csrf_token(page.text)}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data=data)


def sign_in_over_https(settings, username="alice", password=PASSWORD):
    """A Latchkey whose issuer is https, and a browser that signed in there: (client, response)."""
    client = create_app({**settings, "ISSUER": "https://id.example.org"}).test_client()
    page = client.get("/login", base_url="https://id.example.org")
    response = client.post("/login", base_url="https://id.example.org",
                           data={"username": username, "password": password, "csrf_token": csrf_token(page.text)})
    return client, response


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def auth_params(client_id="web", redirect_uri="https://web.example/cb", scope="openid profile email",
                challenge=None, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": "st-123"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def redirect_params(response):
    """The query parameters of a redirect to the app."""
    assert response.status_code == 302, (response.status_code, response.text)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.location).query).items()}


class Flow:
    """A signed-in browser (the Flask test client) and an app doing code + PKCE."""

    def __init__(self, client):
        self.client = client

    def code(self, **params):
        verifier, challenge = pkce_pair()
        params.setdefault("challenge", challenge)
        response = self.client.get("/authorize", query_string=auth_params(**params))
        values = redirect_params(response)
        assert "code" in values, values
        return values["code"], verifier

    def exchange(self, code, verifier, client_id="web", redirect_uri="https://web.example/cb", auth=None):
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier}
        return self.token(data, client_id, auth)

    def token(self, data, client_id="web", auth=None):
        headers = {}
        secrets_ = {"web": WEB_SECRET, "fast": _FAST[0], "legacy": "legacy-secret-0123456789", "staff": "staff-secret-0123456789"}
        if auth is None:
            auth = "basic" if client_id in secrets_ else ("post" if client_id == "hashed" else "none")
        if auth == "basic":
            raw = f"{client_id}:{secrets_[client_id]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif auth == "post":
            data = {**data, "client_id": client_id, "client_secret": _HASHED[0]}
        elif auth == "none":
            data = {**data, "client_id": client_id}
        return self.client.post("/token", data=data, headers=headers)

    def tokens(self, scope="openid profile email offline_access", client_id="web",
               redirect_uri="https://web.example/cb", **extra):
        code, verifier = self.code(client_id=client_id, redirect_uri=redirect_uri, scope=scope, **extra)
        response = self.exchange(code, verifier, client_id=client_id, redirect_uri=redirect_uri)
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture
def flow(client, alice):
    assert login(client).status_code == 303
    return Flow(client)


HASHED_CLIENT_SECRET = _HASHED[0]
FAST_CLIENT_SECRET = _FAST[0]


ROOT = __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__)))


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """Latchkey under granian (or `server="gunicorn"`) in a subprocess, on a free loopback port, with
    its own instance. It listens on 127.0.0.1; `host="localhost"` makes the issuer (and `url`) say
    localhost, which reaches it too and, unlike an IP address, may have passkeys."""

    def __init__(self, tmp_path, clients_text=CLIENTS, workers=4, app="app:app", chdir=ROOT, prefix="", settings=None,
                 host="127.0.0.1", server="granian"):
        import os
        import subprocess

        self.port = free_port()
        self.url = f"http://{host}:{self.port}{prefix}"
        clients = tmp_path / "live-clients.toml"
        clients.write_text(clients_text)
        self.env = {**os.environ, "IDP_ISSUER": self.url, "IDP_INSTANCE_PATH": str(tmp_path / "live-instance"),
                    "IDP_CLIENTS_FILE": str(clients),
                    **{f"IDP_{k}": str(v) for k, v in {**FAST_ARGON2, **(settings or {})}.items()}}
        self.log = open(tmp_path / "server.log", "w+")
        self.process = subprocess.Popen(
            server_command(server, "127.0.0.1", self.port, workers, app),
            cwd=chdir, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait()
        except BaseException:
            self.process.kill()
            self.process.wait(timeout=10)
            self.log.close()
            raise

    def _wait(self):
        import time

        import requests

        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + self.output())
            try:
                requests.get(self.url + "/.well-known/openid-configuration", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or workers still starting
                time.sleep(0.1)
        raise RuntimeError("server did not start:\n" + self.output())

    def flask(self, *args, input=None):
        """Run a `flask …` command against this server's instance."""
        import subprocess
        import sys

        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=self.env, input=input,
                              capture_output=True, text=True, timeout=60)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        """As a service manager stops it: SIGTERM, then time for granian to kill a worker that missed
        it (WORKERS_KILL_TIMEOUT) on a busy machine; a server still running after that is killed."""
        import subprocess

        from idp.serve import WORKERS_KILL_TIMEOUT

        self.process.terminate()
        try:
            self.process.wait(timeout=WORKERS_KILL_TIMEOUT + 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        finally:
            self.log.close()


@pytest.fixture
def live_server(request, tmp_path):
    """A LiveServer with alice in it; under granian, or the server named by indirect parametrization."""
    server = LiveServer(tmp_path, server=getattr(request, "param", "granian"))
    result = server.flask("user", "add", "alice", "--email", "alice@example.org", "--name", "Alice Liddell",
                          "--group", "staff", "--password-stdin", input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    yield server
    server.stop()


def browser_sign_in(session, authorize_url, username="alice", password=PASSWORD):
    """Follow an authorization request through the HTML login form like a browser, and return
    the final redirect to the app (which is not followed: no app listens there)."""
    from urllib.parse import urljoin

    url = authorize_url
    for _ in range(10):
        response = session.get(url, allow_redirects=False)
        if response.status_code == 200 and 'name="password"' in response.text:
            next_url = re.search(r'name="next" value="([^"]+)"', response.text).group(1).replace("&amp;", "&")
            action = re.search(r'<form method="post" action="([^"]+)"', response.text).group(1)
            response = session.post(urljoin(url, action), allow_redirects=False, data={
                "username": username, "password": password, "next": next_url,
                "csrf_token": csrf_token(response.text)})
            assert response.status_code == 303, response.text
        assert response.status_code in (302, 303), (response.status_code, response.text)
        location = urljoin(url, response.headers["Location"])
        if not location.startswith(urljoin(url, "/")):
            return location
        url = location
    raise AssertionError("too many redirects")
