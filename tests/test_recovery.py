"""Recovery: `flask user reset` prints a one-time link; with a mail server (SMTP_*), `--send` mails
links and "Forgot your password?" mails one to the address on file. Mail goes to a real SMTP server
on loopback (aiosmtpd)."""

import email
import json
import re
import time

import pytest
from aiosmtpd.controller import Controller
from helpers import PASSWORD, Flow, csrf_token, free_port, login

from idp import create_app
from idp.db import connect


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def reset_link(app, username="alice", *extra):
    result = run(app, "user", "reset", username, *extra)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1].removeprefix("http://localhost")


def choose(client, path, password="a brand new passphrase"):
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"new": password, "confirm": password, "csrf_token": csrf_token(page.text)})


class Inbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self):
        self.messages = []

        inbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                inbox.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, count, timeout=10):
        deadline = time.time() + timeout
        while len(self.messages) < count and time.time() < deadline:
            time.sleep(0.05)
        return self.messages

    def link_in(self, message):
        return re.search(r"https?://[^/\s]+(/reset/\S+|/join/\S+)", message.get_payload(decode=True).decode()).group(1)


@pytest.fixture
def inbox():
    box = Inbox()
    yield box
    box.controller.stop()


@pytest.fixture
def mail_app(settings, inbox):
    return create_app({**settings, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": inbox.port, "SMTP_SECURITY": "none",
                       "SMTP_FROM": "Latchkey <id@example.org>"})


def test_a_reset_link_sets_a_new_password_and_ends_every_session_and_token(app, flow, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    tokens = flow.tokens()
    elsewhere = app.test_client()
    assert choose(elsewhere, reset_link(app)).status_code == 303
    assert flow.client.get("/account").status_code == 302  # the old session ended
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert flow.client.get("/userinfo", headers=bearer).status_code == 401
    assert Flow(flow.client).token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).status_code == 400
    assert login(app.test_client(), "alice", "a brand new passphrase").status_code == 303
    assert "Wrong username or password." in login(app.test_client(), "alice", PASSWORD).text
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    assert any(e["event"] == "password_reset" and e["sessions_and_tokens_ended"] for e in events)


def test_a_new_reset_link_voids_the_older_ones(app, alice, client):
    first = reset_link(app)
    second = reset_link(app)
    assert client.get(first).status_code == 410
    assert choose(client, second).status_code == 303


def test_a_reset_link_works_once_and_expires(app, alice):
    path = reset_link(app, "alice", "--expires", "30m")
    assert choose(app.test_client(), path).status_code == 303
    assert app.test_client().get(path).status_code == 410
    late = reset_link(app)
    connect(app.config["DATABASE"]).execute("UPDATE links SET expires_at = ? WHERE used_at IS NULL", (int(time.time()) - 1,))
    page = app.test_client().get(late)
    assert page.status_code == 410 and "expired" in page.text


def test_a_reset_link_of_a_disabled_person_does_not_work(app, alice, client):
    path = reset_link(app)
    assert run(app, "user", "disable", "alice").exit_code == 0
    assert client.get(path).status_code == 410
    assert run(app, "user", "reset", "alice").exit_code == 1


def test_reset_of_an_unknown_or_invited_person_is_a_clear_error(app):
    assert "no user called 'nobody'" in run(app, "user", "reset", "nobody").output
    run(app, "user", "invite", "dora", "--email", "dora@example.org")
    result = run(app, "user", "reset", "dora")
    assert result.exit_code == 1 and "has not joined yet" in result.output


def test_send_without_a_mail_server_is_a_clear_error(app, alice):
    result = run(app, "user", "reset", "alice", "--send")
    assert result.exit_code == 1 and "--send needs a mail server" in result.output


def test_invite_send_mails_the_join_link_through_a_real_smtp_server(mail_app, inbox):
    result = run(mail_app, "user", "invite", "dora", "--email", "dora@example.org", "--name", "Dora", "--send")
    assert result.exit_code == 0, result.output
    (recipients, message), = inbox.wait_for(1)
    assert recipients == ["dora@example.org"] and message["Subject"] == "You are invited to Latchkey"
    assert message["From"] == "Latchkey <id@example.org>"
    path = inbox.link_in(message)
    assert result.output.strip().endswith(path)  # the same link is the last line
    assert choose(mail_app.test_client(), path).status_code == 303


def test_reset_send_mails_the_link(mail_app, inbox):
    from helpers import add_user

    add_user(mail_app, "alice")
    assert run(mail_app, "user", "reset", "alice", "--send").exit_code == 0
    (recipients, message), = inbox.wait_for(1)
    assert recipients == ["alice@example.org"] and "new password" in message["Subject"]
    assert choose(mail_app.test_client(), inbox.link_in(message)).status_code == 303


def forgot(client, who, address="10.0.0.9"):
    page = client.get("/forgot", environ_base={"REMOTE_ADDR": address})
    return client.post("/forgot", data={"who": who, "csrf_token": csrf_token(page.text)},
                       environ_base={"REMOTE_ADDR": address})


def test_forgot_password_mails_a_link_to_the_address_on_file(mail_app, inbox):
    from helpers import add_user

    add_user(mail_app, "alice")
    client = mail_app.test_client()
    assert "Forgot your password?" in client.get("/login").text
    for who in ("alice", "ALICE", "alice@example.org"):
        response = forgot(client, who)
        assert response.status_code == 200 and "If an account matches" in response.text
    messages = inbox.wait_for(3)
    assert [m[0] for m in messages] == [["alice@example.org"]] * 3
    # Each request voids the links before it: exactly one of the three works (mail order may vary).
    results = sorted(choose(mail_app.test_client(), inbox.link_in(m)).status_code for _, m in messages)
    assert results == [303, 410, 410]


def test_forgot_password_never_tells_whether_an_account_exists(mail_app, inbox):
    from helpers import add_user

    add_user(mail_app, "alice")
    client = mail_app.test_client()
    known, unknown = forgot(client, "alice", "10.0.0.1"), forgot(client, "mallory", "10.0.0.2")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    assert len(inbox.wait_for(1)) == 1 and inbox.messages[0][0] == ["alice@example.org"]


def test_forgot_password_is_throttled_per_account_and_per_address(mail_app, inbox):
    """At most 3 mails an hour to one account, however it is named (username or email), and the
    answer does not change when the account's limit is reached (it would tell the account exists)."""
    from helpers import add_user

    add_user(mail_app, "alice")
    client = mail_app.test_client()
    for i, who in enumerate(("alice", "alice@example.org", "ALICE", "alice@example.org", "alice")):
        response = forgot(client, who, f"10.1.0.{i}")
        assert response.status_code == 200 and "If an account matches" in response.text
    time.sleep(1)
    assert len(inbox.wait_for(3)) == 3
    time.sleep(0.5)
    assert len(inbox.messages) == 3  # the 4th and 5th were not sent
    for i in range(10):
        forgot(client, f"nobody{i}", "10.2.0.1")
    throttled = forgot(client, "someone-else", "10.2.0.1")
    assert throttled.status_code == 429 and "Too many requests" in throttled.text  # per address


def test_without_a_mail_server_there_is_no_forgot_page(client):
    assert "Forgot your password?" not in client.get("/login").text
    assert client.get("/forgot").status_code == 404


def test_a_failing_mail_server_is_logged_and_the_answer_is_the_same(settings, caplog):
    from helpers import add_user

    app = create_app({**settings, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_SECURITY": "none",
                      "SMTP_FROM": "id@example.org"})
    add_user(app, "alice")
    assert "If an account matches" in forgot(app.test_client(), "alice").text
    deadline = time.time() + 10
    while time.time() < deadline and not any("could not send mail" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    assert any("could not send mail" in r.getMessage() for r in caplog.records)
    cli = run(app, "user", "reset", "alice", "--send")
    assert cli.exit_code == 1 and "could not send mail" in cli.output


@pytest.mark.parametrize("action", [["passwd", "alice", "--password-stdin"], ["disable", "alice"]])
def test_a_reset_link_dies_with_a_password_change_or_a_disabling(app, alice, client, action):
    path = reset_link(app)
    assert run(app, "user", *action, input="an admin's new password\n").exit_code == 0
    run(app, "user", "enable", "alice")
    assert client.get(path).status_code == 410


@pytest.mark.parametrize("name", ["Hill\u2028Family", "Hill\u0085Family", "Hill\nFamily", "Hill\u2029Family"])
def test_a_site_name_that_would_break_mail_headers_is_refused(settings, name):
    from idp import StartupError

    with pytest.raises(StartupError, match="SITE_NAME must be a name of 1 to 80 characters on one line"):
        create_app({**settings, "SITE_NAME": name})


def test_smtp_without_encryption_to_another_host_with_a_password_is_refused(tmp_path, monkeypatch):
    from idp.settings import SettingsError, load

    monkeypatch.setenv("IDP_SMTP_PASSWORD", "pw")
    env = {"IDP_INSTANCE_PATH": str(tmp_path), "IDP_SMTP_HOST": "mail.example.org", "IDP_SMTP_SECURITY": "none",
           "IDP_SMTP_USER": "id", "IDP_SMTP_PASSWORD": "pw", "IDP_SMTP_FROM": "id@example.org"}
    with pytest.raises(SettingsError, match="unencrypted"):
        load(environ=env)
    assert load(environ={**env, "IDP_SMTP_HOST": "127.0.0.1"})["SMTP_HOST"] == "127.0.0.1"
