"""The person's sessions on the account page ("Where you are signed in"): which browser, from which
address, signed in how, when and last seen; ending one of them (only one's own, by its handle); and
a stepped-up session keeping its strength until it ends."""

import json
import os
import re
import secrets
import sqlite3
import time

import jwt as pyjwt
import pytest
from helpers import PASSWORD, add_user, csrf_token, login
from test_second_step import code_step, enroll, next_code

from idp import browsers, create_app
from idp import settings as idp_settings
from idp.db import MIGRATIONS, _read, connect, get_db, secret_hash
from idp.sessions import LAST_SEEN_EVERY

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
                 " Version/17.5 Mobile/15E148 Safari/604.1")


def browser(app, user_agent, address):
    """A browser of its own (cookie jar, User-Agent, address)."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def handles(page):
    return re.findall(r'name="handle" value="([^"]+)"', page)


def end(client, handle, page=None):
    page = page or client.get("/account").text
    return client.post("/account/sessions/end", data={"handle": handle, "csrf_token": csrf_token(page)})


def rows(app):
    return connect(app.config["DATABASE"]).execute(
        "SELECT username, handle, id_hash, user_agent, address, last_seen_at, amr FROM sessions ORDER BY rowid").fetchall()


@pytest.fixture
def two_browsers(app, alice):
    """Alice signed in with Firefox on her laptop and with Safari on her phone."""
    laptop, phone = browser(app, FIREFOX_LINUX, "192.0.2.10"), browser(app, SAFARI_IPHONE, "198.51.100.7")
    assert login(laptop).status_code == 303 and login(phone).status_code == 303
    return laptop, phone


def test_the_account_page_lists_each_session_with_browser_address_and_method(two_browsers):
    laptop, _ = two_browsers
    page = laptop.get("/account").text
    section = page.split('id="sessions-heading"')[1].split("</section>")[0]
    assert "Where you are signed in" in page
    assert "Firefox on Linux" in section and "192.0.2.10 · password" in section
    assert "Safari on iPhone" in section and "198.51.100.7 · password" in section
    assert section.count("This browser") == 1 and section.count("(this browser)") == 1  # badge, button label
    assert section.index("Firefox on Linux") < section.index("This browser") < section.index("Safari on iPhone")
    assert "Signed in <time" in section and "just now" in section
    assert len(handles(section)) == 2
    # The page's other sections are still there.
    for text in ("Apps that can act for you", "Change your password", "Sign out everywhere"):
        assert text in page


def test_a_session_that_gave_a_code_says_password_and_code(app, two_browsers):
    laptop, _ = two_browsers
    totp, _ = enroll(laptop)
    tablet = browser(app, "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
                          " CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "203.0.113.9")
    login(tablet)
    assert code_step(tablet, next_code(totp)).status_code == 303
    section = laptop.get("/account").text.split('id="sessions-heading"')[1]
    assert "Chrome on iPad" in section and "203.0.113.9 · password and code" in section


def test_ending_another_session_signs_that_browser_out(app, two_browsers, caplog):
    laptop, phone = two_browsers
    caplog.set_level("INFO", logger="idp.audit")
    phone_handle = next(r["handle"] for r in rows(app) if r["user_agent"] == "Safari on iPhone")
    response = end(laptop, phone_handle)
    assert response.status_code == 303 and response.location == "/account"
    page = laptop.get("/account").text
    assert "That session has ended" in page and "Safari on iPhone" not in page
    assert phone.get("/account").status_code == 302  # the phone has to sign in again
    assert laptop.get("/account").status_code == 200
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    assert {"event": "session_ended", "user": "alice", "handle": phone_handle} in events


def test_someone_elses_session_cannot_be_ended_by_guessing_or_reusing_a_handle(app, two_browsers):
    laptop, phone = two_browsers
    add_user(app, "bob")
    bob = browser(app, FIREFOX_LINUX, "192.0.2.99")
    login(bob, "bob")
    bobs = next(r["handle"] for r in rows(app) if r["username"] == "bob")
    assert bobs not in handles(laptop.get("/account").text)  # nobody sees another person's sessions
    page = laptop.get("/account").text
    for handle in (bobs, secrets.token_hex(16), "", "x" * 65):
        assert end(laptop, handle, page).status_code == 303
    assert laptop.get("/account").text.count("That session had already ended.") == 2
    assert bob.get("/account").status_code == 200 and phone.get("/account").status_code == 200
    # A handle is good once: the phone signs in again and gets a new one; the old one ends nothing.
    old = next(r["handle"] for r in rows(app) if r["user_agent"] == "Safari on iPhone")
    end(laptop, old)
    login(phone)
    new = next(r["handle"] for r in rows(app) if r["user_agent"] == "Safari on iPhone")
    assert new != old
    end(laptop, old)
    assert phone.get("/account").status_code == 200
    assert len(rows(app)) == 3


def test_ending_this_browsers_session_signs_out_here_only(app, two_browsers):
    laptop, phone = two_browsers
    page = laptop.get("/account").text
    mine = re.search(r'name="handle" value="([^"]+)">\s*<button[^>]*\(this browser\)', page).group(1)
    response = end(laptop, mine, page)
    assert response.status_code == 200 and "You are signed out" in response.text
    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 200
    assert [r["user_agent"] for r in rows(app)] == ["Safari on iPhone"]


def test_ending_a_session_needs_the_csrf_token_and_a_signed_in_person(app, two_browsers):
    laptop, _ = two_browsers
    handle = rows(app)[1]["handle"]
    assert "This form has expired" in laptop.post("/account/sessions/end", data={"handle": handle}).text
    assert app.test_client().post("/account/sessions/end", data={"handle": handle}).status_code in (302, 400)
    assert len(rows(app)) == 2


def test_last_seen_is_written_at_most_every_five_minutes(app, two_browsers):
    laptop, _ = two_browsers
    db = connect(app.config["DATABASE"])
    with app.app_context():
        writes = []
        get_db().set_trace_callback(lambda sql: writes.append(sql) if "last_seen_at =" in sql else None)
    for _ in range(3):
        assert laptop.get("/account").status_code == 200
    assert writes == []  # signed in just now: no write per request
    now = int(time.time())
    db.execute("UPDATE sessions SET last_seen_at = ?", (now - LAST_SEEN_EVERY + 30,))
    laptop.get("/account")
    assert writes == [] and rows(app)[0]["last_seen_at"] == now - LAST_SEEN_EVERY + 30
    db.execute("UPDATE sessions SET last_seen_at = ?", (now - LAST_SEEN_EVERY - 1,))
    laptop.get("/account"), laptop.get("/account")
    assert len(writes) == 1
    laptop_row, phone_row = rows(app)
    assert laptop_row["last_seen_at"] >= now and phone_row["last_seen_at"] == now - LAST_SEEN_EVERY - 1
    db.execute("UPDATE sessions SET last_seen_at = ? WHERE rowid = 2", (now - 3 * 3600,))
    assert "last seen <time" in laptop.get("/account").text and "3 hours ago" in laptop.get("/account").text
    with app.app_context():
        get_db().set_trace_callback(None)


def test_the_handle_is_neither_the_session_id_nor_its_hash(app, two_browsers):
    laptop, _ = two_browsers
    cookie = laptop.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    sid = app.session_interface.get_signing_serializer(app).loads(cookie)["_user_id"]
    page = laptop.get("/account").text
    for row in rows(app):
        assert re.fullmatch(r"[0-9a-f]{32}", row["handle"])  # 128 random bits
        assert row["handle"] not in (sid, row["id_hash"]) and row["id_hash"] not in page
    assert secret_hash(sid) in {r["id_hash"] for r in rows(app)}
    assert sid not in page and secret_hash(sid) not in page


def test_a_password_change_leaves_only_this_browser_in_the_list(app, two_browsers):
    laptop, phone = two_browsers
    page = laptop.get("/account").text
    laptop.post("/account/password", data={"current": PASSWORD, "new": "a brand new password",
                                           "confirm": "a brand new password", "csrf_token": csrf_token(page)})
    assert phone.get("/account").status_code == 302
    section = laptop.get("/account").text.split('id="sessions-heading"')[1].split("</section>")[0]
    assert len(handles(section)) == 1 and "This browser" in section


def test_a_stepped_up_session_keeps_mfa_until_it_ends(app, flow):
    enroll(flow.client)  # the code typed to set up the app steps this password session up
    db = connect(app.config["DATABASE"])
    with app.app_context():
        ttl = idp_settings.current()["SESSION_TTL"]
    for _ in range(3):
        db.execute("UPDATE sessions SET last_seen_at = 0")  # each request writes last_seen too
        assert "password and code" in flow.client.get("/account").text
        tokens = flow.tokens(acr_values="mfa")  # acr_values=mfa gets a code without a second step
        claims = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert "mfa" in claims["amr"] and "otp" in claims["amr"] and claims["acr"] == "mfa"
    row = db.execute("SELECT amr, auth_time, expires_at FROM sessions").fetchone()
    assert "mfa" in row["amr"].split() and row["expires_at"] - row["auth_time"] == ttl
    db.execute("UPDATE sessions SET expires_at = ?", (int(time.time()) - 1,))  # SESSION_TTL is over
    assert flow.client.get("/account").status_code == 302
    login(flow.client)  # a new session starts without the old one's strength: the code is asked again
    assert flow.client.get("/account").status_code == 302


def test_sessions_from_before_the_upgrade_get_a_handle_and_are_listed(settings):
    """A database of schema 3 with live sessions: each gets its own handle, so it can be ended."""
    os.makedirs(settings["INSTANCE_PATH"])
    path = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    old = sqlite3.connect(path)
    old.executescript("".join(_read(name) for name in MIGRATIONS[:3]) + "PRAGMA user_version = 3;")
    old.execute("INSERT INTO users (username, password_hash, email, created_at, updated_at)"
                " VALUES ('alice', 'x', 'alice@example.org', 0, 0)")
    old.executemany("INSERT INTO sessions (id_hash, username, auth_time, expires_at) VALUES (?, 'alice', 1, ?)",
                    [(secret_hash(str(i)), int(time.time()) + 600) for i in range(3)])
    old.commit()
    old.close()
    create_app(settings)
    found = [row[0] for row in sqlite3.connect(path).execute("SELECT handle FROM sessions")]
    assert len(set(found)) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", h) for h in found)


@pytest.mark.parametrize("header, summary", [
    (FIREFOX_LINUX, "Firefox on Linux"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    (("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
     " Mobile Safari/537.36"), "Chrome on Android"),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
     " Safari/537.36 Edg/131.0.0.0"), "Edge on Windows"),
    (("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"
     " Safari/605.1.15"), "Safari on macOS"),
    (("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0"
     " Chrome/121.0.0.0 Mobile Safari/537.36"), "Samsung Internet on Android"),
    (("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " FxiOS/131.0 Mobile/15E148 Safari/605.1.15"), "Firefox on iPhone"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown browser"),
    (None, "Unknown browser"),
    ("Mozilla/5.0 (X11; Linux x86_64) Something/1.0", "A browser on Linux"),
    ("<script>" * 200, "Unknown browser"),
    ("a" * 5000 + "/1.0", "Unknown browser"),
])
def test_the_browser_is_a_short_readable_summary(header, summary):
    assert browsers.describe(header) == summary
    assert len(browsers.describe(header)) <= browsers.MAX_LENGTH
