"""The interop suite's world: Latchkey under granian with its own clients.toml, two people, a tiny
web server standing in for the apps' hosts, and Debian's Chromium driven by Playwright."""

import functools
import http.server
import os
import shutil
import textwrap
import threading
from pathlib import Path

import pytest
from helpers import PASSWORD, LiveServer, free_port

HERE = Path(__file__).parent
SCREENSHOTS = Path(os.environ.get("LATCHKEY_SCREENSHOTS", HERE.parent.parent / "build" / "screenshots"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NODE_MODULES = HERE / "node_modules"


class AppHost:
    """A loopback web server for the apps' side: serves a folder and records every request."""

    def __init__(self, folder=None, routes=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = []
        host = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                host.requests.append(self.path)
                path = self.path.split("?")[0]
                if routes and path in routes:
                    body = routes[path]().encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8" if path.endswith(".html") or path == "/cb" else "application/javascript")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder or HERE))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def clients_for(spa, web):
    """The interop whitelist: one app per relying party, on the ports of this run."""
    return textwrap.dedent(f"""\
        [[clients]]
        client_id = "spa"
        client_name = "Browser SPA"
        redirect_uris = ["{spa}/callback.html"]
        post_logout_redirect_uris = ["{spa}/index.html"]
        token_endpoint_auth_method = "none"
        scope = "openid profile email offline_access"

        [[clients]]
        client_id = "node-web"
        client_name = "Node web app"
        client_secret = "node-web-secret-0123456789"
        redirect_uris = ["{web}/cb"]
        post_logout_redirect_uris = ["{web}/bye"]
        token_endpoint_auth_method = "client_secret_basic"
        scope = "openid profile email groups offline_access"

        [[clients]]
        client_id = "flask-rp"
        client_name = "Club Wiki"
        client_secret = "flask-rp-secret-0123456789"
        redirect_uris = ["{web}/auth/callback"]
        token_endpoint_auth_method = "client_secret_post"
        require_pkce = false
        scope = "openid profile email groups"

        [[clients]]
        client_id = "browser-app"
        client_name = "Family Photos"
        client_secret = "browser-app-secret-0123456789"
        redirect_uris = ["{web}/cb", "app.immich:///oauth-callback"]
        post_logout_redirect_uris = ["{web}/bye"]
        scope = "openid profile email"

        [[clients]]
        client_id = "cli-app"
        client_name = "Command-line tool"
        application_type = "native"
        redirect_uris = ["{web}/cb"]
        token_endpoint_auth_method = "none"
        scope = "openid"

        [[clients]]
        client_id = "staff-only"
        client_name = "Staff Wiki"
        client_secret = "staff-only-secret-0123456789"
        redirect_uris = ["{web}/cb"]
        allowed_groups = ["staff"]
        scope = "openid groups"
        """)


class World:
    def __init__(self, tmp, spa_folder):
        self.web = AppHost(routes={"/cb": lambda: "<h1>The app got its answer</h1>",
                                   "/bye": lambda: "<h1>Signed out of the app</h1>"})
        self.spa = AppHost(spa_folder, routes={"/config.js": lambda: f"window.IDP = {self.idp.url!r};"})
        self.idp = LiveServer(tmp, clients_text=clients_for(self.spa.url, self.web.url))
        for args in (["alice", "--email", "alice@example.org", "--name", "Alice Liddell", "--group", "staff"],
                     ["bob", "--email", "bob@example.org", "--name", "Bob Builder"]):
            result = self.idp.flask("user", "add", *args, "--password-stdin", input=PASSWORD + "\n")
            assert result.returncode == 0, result.stderr

    def stop(self):
        self.idp.stop()
        self.web.stop()
        self.spa.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    spa_folder = tmp_path_factory.mktemp("spa")
    for name in ("index.html", "spa.js"):
        shutil.copy(HERE / "spa" / name, spa_folder / name)
    shutil.copy(HERE / "spa" / "index.html", spa_folder / "callback.html")  # spa.js tells them apart
    shutil.copy(NODE_MODULES / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js", spa_folder)
    world = World(tmp_path_factory.mktemp("idp"), spa_folder)
    yield world
    world.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def new_page(chromium):
    """Open pages in browser contexts of their own: new_page(color_scheme="dark", width=360,
    height=780) is a phone in dark mode. Every context is closed after the test."""
    contexts = []

    def make(color_scheme="light", width=1280, height=800, **options):
        context = chromium.new_context(color_scheme=color_scheme, viewport={"width": width, "height": height},
                                       **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name):
    """Keep a picture of what the person sees (build/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, username="alice", password=PASSWORD):
    """Fill in Latchkey's login page and press the button."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
