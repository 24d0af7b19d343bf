"""What a broken or hostile app, or a slip of the admin, tries against signing out everywhere: an app
that answers its logout notices a byte at a time must not hold up every other app's; a `flask user …`
command that cannot read clients.toml must still tell the apps; and an ID token from another of the
person's sessions must not sign this browser out unasked."""

import contextlib
import socket
import subprocess
import sys
import threading
import time

import requests
from helpers import ROOT, LiveServer, csrf_token, free_port
from test_backchannel_logout import Receiver, add_alice, audit, clients_for, sign_in_to, wait_for

from idp import backchannel_logout


class Trickler:
    """An app's back-channel address that reads the request and then answers one byte a second,
    forever: no single read ever times out."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/backchannel"
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.connections = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000:
                if self.stopped.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # Latchkey cut the attempt
                    return
                time.sleep(1)

    def stop(self):
        self.stopped.set()
        self.listener.close()


@contextlib.contextmanager
def apps_and_latchkey(tmp_path, extra_clients=lambda receiver: ""):
    """The receiving apps and Latchkey (2 workers) with alice in it, trusted by the apps."""
    receiver = Receiver().start()
    server = LiveServer(tmp_path, clients_text=clients_for(receiver.url) + extra_clients(receiver), workers=2)
    try:
        add_alice(server)
        receiver.trust(server.url)
        yield server, receiver
    finally:
        server.stop()
        receiver.stop()


def test_an_app_that_answers_a_byte_at_a_time_holds_up_no_other_app(tmp_path):
    slow = Trickler()
    app_0 = f"""
[[clients]]
client_id = "app-0"
client_secret = "app-0-secret-0123456789"
redirect_uris = ["{{url}}/0/cb"]
backchannel_logout_uri = "{slow.url}"
scope = "openid"
"""
    try:
        with apps_and_latchkey(tmp_path, lambda receiver: app_0.format(url=receiver.url)) as (server, receiver):
            browser = requests.Session()
            sign_in_to(server, receiver, browser, "0")  # app-0 is first in the queue
            sid = sign_in_to(server, receiver, browser, "a")["claims"]["sid"]
            page = browser.get(server.url + "/logout")
            signed_out = time.monotonic()
            browser.post(server.url + "/logout", data={"csrf_token": csrf_token(page.text)})
            # App A hears of it while the slow app still holds one worker's sender: the other one sends.
            wait_for(lambda: receiver.notices_for("a", sid), timeout=backchannel_logout.DEADLINE - 1,
                     what="app A's notice")
            # The slow app's attempt is cut at the deadline and retried later, not sent twice at once.
            failed = wait_for(lambda: [r for r in audit(server, "backchannel_logout_failed") if r["client"] == "app-0"],
                              timeout=backchannel_logout.DEADLINE + 10, what="the slow attempt to be cut")
            assert time.monotonic() - signed_out < backchannel_logout.DEADLINE + backchannel_logout.TIMEOUT + 5
            assert failed[0]["retry_in"] == backchannel_logout.BACKOFF[0] and slow.connections == 1
    finally:
        slow.stop()


def test_a_command_that_cannot_read_clients_toml_still_tells_the_apps(tmp_path):
    with apps_and_latchkey(tmp_path) as (server, receiver):
        sid = sign_in_to(server, receiver, requests.Session(), "a")["claims"]["sid"]
        # The admin runs the command from another folder, where clients.toml is not.
        env = {**server.env, "IDP_CLIENTS_FILE": str(tmp_path / "not-here" / "clients.toml")}
        result = subprocess.run([sys.executable, "-m", "flask", "user", "disable", "alice"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: receiver.notices_for("a", sid), timeout=15, what="app A's notice")


def test_an_id_token_of_another_session_asks_before_signing_out(tmp_path):
    with apps_and_latchkey(tmp_path) as (server, receiver):
        phone, laptop = requests.Session(), requests.Session()
        old = sign_in_to(server, receiver, phone, "a")
        mine = sign_in_to(server, receiver, laptop, "a")
        assert old["claims"]["sid"] != mine["claims"]["sid"]
        params = {"post_logout_redirect_uri": f"{receiver.url}/a/bye", "state": "x"}
        asked = laptop.get(server.url + "/logout", params={**params, "id_token_hint": old["id_token"]},
                           allow_redirects=False)
        assert asked.status_code == 200 and 'name="csrf_token"' in asked.text  # a question, not a sign-out
        assert laptop.get(server.url + "/account", allow_redirects=False).status_code == 200  # still signed in
        # The laptop's own ID token signs it out at once (RP-Initiated Logout §2).
        back = laptop.get(server.url + "/logout", params={**params, "id_token_hint": mine["id_token"]},
                          allow_redirects=False)
        assert back.status_code == 302 and back.headers["Location"] == f"{receiver.url}/a/bye?state=x"
