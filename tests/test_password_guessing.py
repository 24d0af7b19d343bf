"""Slowing down password guessing, per username and per address, stored in SQLite."""

import threading
import time

import requests
from helpers import PASSWORD, LiveServer, csrf_token

from idp.db import connect


def attempt(client, username, password, address="10.0.0.1"):
    env = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=env)
    return client.post("/login", environ_base=env, data={
        "username": username, "password": password, "csrf_token": csrf_token(page.text)})


def unblock(app):
    connect(app.config["DATABASE"]).execute("UPDATE login_failures SET blocked_until = ?", (int(time.time()) - 1,))


def test_five_failures_for_a_username_slow_down_the_next_attempt(client, alice, app):
    for _ in range(5):
        assert "Wrong username or password." in attempt(client, "alice", "wrong").text
    blocked = attempt(client, "alice", PASSWORD, address="10.9.9.9")  # even the right password, elsewhere
    assert blocked.status_code == 429 and "Too many failed sign-ins. Try again in 1 second." in blocked.text
    unblock(app)
    assert attempt(client, "alice", PASSWORD, address="10.9.9.9").status_code == 303


def test_delays_grow_with_each_further_failure(client, alice, app):
    for _ in range(5):
        attempt(client, "alice", "wrong")
    waits = []
    for _ in range(3):
        unblock(app)
        attempt(client, "alice", "wrong")
        row = connect(app.config["DATABASE"]).execute(
            "SELECT CAST(ROUND(blocked_until - last_failure_at) AS INTEGER) FROM login_failures WHERE key = 'user:alice'").fetchone()
        waits.append(row[0])
    assert waits == [2, 4, 8]


def test_a_correct_password_clears_the_username_count(client, alice, app):
    for _ in range(4):
        attempt(client, "alice", "wrong")
    assert attempt(client, "alice", PASSWORD).status_code == 303
    assert attempt(client, "alice", "wrong").status_code == 200
    assert "Wrong username" in attempt(client, "alice", "wrong").text  # only 2 since the success


def test_twenty_failures_from_one_address_slow_that_address(client, alice):
    for n in range(20):
        attempt(client, f"user{n}", "wrong", address="10.0.0.7")
    assert attempt(client, "alice", PASSWORD, address="10.0.0.7").status_code == 429
    assert attempt(client, "alice", PASSWORD, address="10.0.0.8").status_code == 303


def test_the_login_page_says_minutes_for_long_waits(client, alice, app):
    for _ in range(5):
        attempt(client, "alice", "wrong")
    connect(app.config["DATABASE"]).execute("UPDATE login_failures SET blocked_until = ?", (int(time.time()) + 125,))
    assert "Try again in 3 minutes." in attempt(client, "alice", PASSWORD).text


def test_the_throttle_holds_across_workers_and_restarts(tmp_path):
    server = LiveServer(tmp_path, workers=4)
    try:
        server.flask("user", "add", "alice", "--email", "a@example.org", "--password-stdin", input=PASSWORD + "\n")

        def try_login(password):
            browser = requests.Session()
            page = browser.get(server.url + "/login")
            return browser.post(server.url + "/login", allow_redirects=False, data={
                "username": "alice", "password": password, "csrf_token": csrf_token(page.text)})

        for _ in range(3):  # separate connections, spread over the workers
            assert try_login("wrong").status_code == 200
        server.stop()
        server = LiveServer(tmp_path, workers=4)  # a restart on the same instance folder
        for _ in range(2):  # failures 4 and 5: the count survived the restart
            assert try_login("wrong").status_code == 200
        blocked = try_login(PASSWORD)
        assert blocked.status_code == 429 and "Try again in 1 second." in blocked.text
        time.sleep(1.1)
        assert try_login(PASSWORD).status_code == 303
    finally:
        server.stop()


def test_parallel_guesses_cannot_slip_past_the_limit(client, alice, app):
    statuses = []
    barrier = threading.Barrier(12)

    def guess():
        with app.test_client() as c:
            page = c.get("/login")
            barrier.wait()
            statuses.append(c.post("/login", data={"username": "alice", "password": "wrong",
                                                   "csrf_token": csrf_token(page.text)}).status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) <= 5 and statuses.count(429) >= 7


def test_parallel_sign_ins_from_one_address_are_not_held_up(app):
    from idp import throttle

    with app.test_request_context():
        # Monday morning behind one NAT address: an attempt whose clock read came a moment before
        # another's count is still let through, and each correct password takes its count back.
        keys = [throttle.password_keys(f"member{i}", "192.0.2.1") for i in range(4)]
        for i, now in enumerate((100.5, 100.0, 100.2, 99.9)):
            assert throttle.begin_attempt(keys[i], now=now) == 0
        for i in range(4):
            throttle.record_success(keys[i])
        assert throttle.wait_seconds(keys[0], now=100.0) == 0


def test_failures_from_elsewhere_do_not_hold_up_a_browser_the_person_signed_in_with(app, alice):
    """OWASP device cookies: someone typing wrong passwords for alice from anywhere cannot lock
    her out of the browser she uses."""
    hers, attacker = app.test_client(), app.test_client()
    assert attempt(hers, "alice", PASSWORD, address="10.0.0.5").status_code == 303  # gets a device cookie
    hers.post("/logout", data={"csrf_token": csrf_token(hers.get("/logout").text)})
    for address in ("10.1.1.1", "10.2.2.2", "10.3.3.3", "10.4.4.4", "10.5.5.5", "10.6.6.6"):
        attempt(attacker, "alice", "wrong", address=address)
    assert attempt(attacker, "alice", PASSWORD, address="10.7.7.7").status_code == 429  # unknown browser
    assert attempt(hers, "alice", PASSWORD, address="10.0.0.5").status_code == 303
    assert attempt(hers, "ALICE", PASSWORD, address="10.0.0.5").status_code == 303  # any case of the name


def test_wrong_passwords_from_a_known_browser_slow_that_browser_down(app, alice):
    hers = app.test_client()
    assert attempt(hers, "alice", PASSWORD).status_code == 303
    for _ in range(5):
        assert attempt(hers, "alice", "wrong").status_code == 200
    assert attempt(hers, "alice", PASSWORD).status_code == 429
    assert attempt(app.test_client(), "alice", PASSWORD, address="10.8.8.8").status_code == 303  # not the name


def test_a_device_cookie_is_for_its_own_person_and_cannot_be_forged(app, alice):
    from helpers import add_user

    add_user(app, "dave")
    browser = app.test_client()
    assert attempt(browser, "alice", PASSWORD).status_code == 303
    cookie = browser.get_cookie("latchkey_device")
    assert cookie and cookie.http_only and cookie.same_site == "Lax"
    for _ in range(5):
        attempt(app.test_client(), "dave", "wrong", address="10.1.1.1")
    assert attempt(browser, "dave", PASSWORD).status_code == 429  # alice's cookie does not vouch for dave
    forged = app.test_client()
    forged.set_cookie("latchkey_device", cookie.value[:-4] + "AAAA")
    assert attempt(forged, "dave", PASSWORD).status_code == 429
    unsigned = app.test_client()
    unsigned.set_cookie("latchkey_device", '[["dave", "x"]]')
    assert attempt(unsigned, "dave", PASSWORD).status_code == 429


def test_the_device_cookie_is_host_prefixed_and_secure_over_https(settings, alice):
    from helpers import sign_in_over_https

    _, response = sign_in_over_https(settings)
    device = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-latchkey_device=")]
    assert device and "Secure" in device[0] and "Path=/" in device[0] and "Domain" not in device[0]


def test_failures_that_block_an_address_do_not_hold_up_a_known_browser_there(app, alice):
    """Behind a proxy that hides addresses (PROXY_HOPS unset), everyone shares one address: 20
    failures from others there must not keep alice's own browser out."""
    hers = app.test_client()
    assert attempt(hers, "alice", PASSWORD, address="10.0.0.1").status_code == 303
    for i in range(25):
        attempt(app.test_client(), f"someone{i}", "wrong", address="10.0.0.1")
    assert attempt(app.test_client(), "alice", PASSWORD, address="10.0.0.1").status_code == 429  # unknown browser
    assert attempt(hers, "alice", PASSWORD, address="10.0.0.1").status_code == 303
