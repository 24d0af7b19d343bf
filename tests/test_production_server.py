"""Latchkey under granian, as `latchkey serve` runs it in production: what the server must not change.
The forwarded address believed from PROXY_HOPS proxies only, a graceful restart (SIGHUP) that refuses
no request, and a stop that never hangs, even right after the start."""

import os
import signal
import threading
import time

import pytest
import requests
from helpers import PASSWORD, LiveServer, csrf_token


def failed_sign_in(server, forwarded):
    session = requests.Session()
    page = session.get(server.url + "/login")
    session.post(server.url + "/login", headers={"X-Forwarded-For": forwarded}, data={
        "username": "alice", "password": "wrong", "csrf_token": csrf_token(page.text)})


def workers(server):
    """The PIDs of the server's worker processes (children of granian's main process)."""
    with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as f:
        return set(f.read().split())


@pytest.mark.parametrize(("hops", "believed"), [(0, "127.0.0.1"), (1, "198.51.100.4")])
def test_the_forwarded_address_is_believed_only_from_proxy_hops_proxies(tmp_path, hops, believed):
    server = LiveServer(tmp_path, workers=2, settings={"PROXY_HOPS": hops})
    try:
        server.flask("user", "add", "alice", "--email", "alice@example.org", "--password-stdin",
                     input=PASSWORD + "\n")
        failed_sign_in(server, "198.51.100.4")
        time.sleep(0.2)
        audit = [line for line in server.output().splitlines() if '"event": "sign_in_failed"' in line]
        assert audit and f'"address": "{believed}"' in audit[-1]
        # Bound to 127.0.0.1 and reached from loopback: no warning that the header could be forged.
        assert "can forge the address" not in server.output()
    finally:
        server.stop()


def test_a_graceful_restart_answers_every_request(live_server):
    """SIGHUP: granian replaces its workers one by one on the same socket. A connection an old worker
    had just accepted as it stopped can be closed unanswered (granian 2.8, about one in three reloads
    under this load), so the client here retries such a GET once, as a reverse proxy set to retry
    does (README, "As a systemd service"); every request is then answered, and with 200."""
    before = workers(live_server)
    stop, answers, errors, retried = threading.Event(), [], [], []

    def get():
        return requests.get(live_server.url + "/.well-known/jwks.json?x=1", timeout=10).status_code

    def keep_asking():
        while not stop.is_set():
            try:
                answers.append(get())
            except requests.ConnectionError as e:  # closed without an answer: once more, as a proxy would
                retried.append(repr(e))
                try:
                    answers.append(get())
                except requests.RequestException as again:
                    errors.append(repr(again))

    threads = [threading.Thread(target=keep_asking) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        os.kill(live_server.process.pid, signal.SIGHUP)
        deadline = time.time() + 60
        while time.time() < deadline and (workers(live_server) & before or len(workers(live_server)) < len(before)):
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not workers(live_server) & before, "granian did not replace its workers"
    assert errors == [] and answers and set(answers) == {200}
    assert len(retried) <= len(before), retried  # at most one dropped connection per replaced worker


@pytest.mark.parametrize("attempt", range(3))
def test_a_stop_right_after_the_start_never_hangs(tmp_path, attempt):
    # A granian worker told to stop while still starting can miss the signal; granian then waits for
    # it until --workers-kill-timeout (idp/serve.py) ends it.
    server = LiveServer(tmp_path, workers=4)
    started = time.monotonic()
    server.process.terminate()
    server.process.wait(timeout=30)
    server.log.close()
    assert time.monotonic() - started < 30
