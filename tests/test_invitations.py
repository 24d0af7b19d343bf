"""Invitations: `flask user invite` makes an invited person and a one-time join link; at the link
they choose a password (NIST SP 800-63B rules) and are signed in."""

import json
import re
import time

import pytest
from helpers import Flow, auth_params, csrf_token, login, pkce_pair, redirect_params

from idp.db import connect


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def invite(app, username="dora", *extra):
    result = run(app, "user", "invite", username, "--email", f"{username}@example.org", "--name", "Dora Explorer",
                 "--group", "family", *extra)
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"http://localhost/join/[A-Za-z0-9_-]{43}", link), result.output
    return link.removeprefix("http://localhost")


def join(client, path, password="a trip to the river", confirm=None):
    page = client.get(path)
    return client.post(path, data={"new": password, "confirm": confirm or password, "csrf_token": csrf_token(page.text)})


def test_an_invited_person_is_listed_and_cannot_sign_in_yet(app, client):
    invite(app)
    assert "dora\tDora Explorer\tdora@example.org\tfamily\tinvited" in run(app, "user", "list").output
    assert "Wrong username or password." in login(client, "dora", "").text + login(client, "dora", "anything at all").text


def test_the_join_page_says_who_is_invited_to_what(app, client):
    page = client.get(invite(app))
    assert page.status_code == 200
    assert "Dora Explorer" in page.text and "dora" in page.text and "dora@example.org" in page.text


def test_joining_sets_the_password_signs_in_and_lands_on_the_account_page(app, client):
    response = join(client, invite(app))
    assert response.status_code == 303 and response.location == "/account"
    assert "Dora Explorer" in client.get("/account").text
    assert "dora\tDora Explorer\tdora@example.org\tfamily\tactive" in run(app, "user", "list").output
    other = app.test_client()
    assert login(other, "dora", "a trip to the river").status_code == 303


def test_a_joined_person_signs_in_to_an_app(app, client):
    join(client, invite(app))
    tokens = Flow(client).tokens(scope="openid profile")
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json["sub"] == "dora"


def test_a_join_link_works_once(app, client):
    path = invite(app)
    assert join(client, path).status_code == 303
    again = app.test_client().get(path)
    assert again.status_code == 410 and "This link was already used" in again.text and "Ask" in again.text


def test_two_tabs_posting_one_link_make_one_winner(app, client):
    path = invite(app)
    first, second = app.test_client(), app.test_client()
    pages = [first.get(path), second.get(path)]
    a = first.post(path, data={"new": "a trip to the river", "confirm": "a trip to the river", "csrf_token": csrf_token(pages[0].text)})
    b = second.post(path, data={"new": "another long phrase", "confirm": "another long phrase", "csrf_token": csrf_token(pages[1].text)})
    assert sorted([a.status_code, b.status_code]) == [303, 410]
    assert login(app.test_client(), "dora", "another long phrase").status_code != 303


def test_an_expired_join_link_says_to_ask_for_a_new_one(app, client):
    path = invite(app)
    connect(app.config["DATABASE"]).execute("UPDATE links SET expires_at = ?", (int(time.time()) - 1,))
    page = client.get(path)
    assert page.status_code == 410 and "This link has expired" in page.text and "Ask the person who runs" in page.text


@pytest.mark.parametrize("path", ["/join/nope", "/join/" + "A" * 43, "/join/%00", "/join/" + "x" * 500, "/reset/" + "A" * 43])
def test_an_unknown_link_gets_a_clear_page(client, path):
    page = client.get(path)
    assert page.status_code == 404 and "This link does not work" in page.text


@pytest.mark.parametrize("password, message", [
    ("short", "at least 8 characters"),
    ("password1", "most common"),
    ("iloveyou", "most common"),
    ("dorothea@example.org", "must not be your username"),
    ("DOROTHEA", "must not be your username"),
    ("Latchkey", "must not be your username, your email or the site"),
    ("zzzzzzzzzz", "one character repeated"),
])
def test_the_chosen_password_follows_nist_rules(app, client, password, message):
    path = invite(app, "dorothea")
    response = join(client, path, password)
    assert response.status_code == 400 and message in response.text
    assert join(client, path, "long enough and mine").status_code == 303  # the link still works


def test_mismatched_passwords_are_refused_and_the_link_still_works(app, client):
    path = invite(app)
    assert "do not match" in join(client, path, "a trip to the river", "a trip to the sea").text
    assert join(client, path).status_code == 303


def test_inviting_an_existing_username_is_a_clear_error(app, alice):
    result = run(app, "user", "invite", "alice", "--email", "a2@example.org")
    assert result.exit_code == 1 and "already exists" in result.output


def test_invite_list_and_revoke(app, client):
    path = invite(app)
    listing = run(app, "user", "invite", "--list").output
    assert listing.startswith("USERNAME\tEMAIL\tINVITED\tLINK EXPIRES") and "dora\tdora@example.org" in listing
    assert run(app, "user", "invite", "--revoke", "dora").exit_code == 0
    assert client.get(path).status_code == 404
    assert "dora" not in run(app, "user", "list").output
    assert run(app, "user", "invite", "dora", "--email", "dora@example.org").exit_code == 0  # never joined: name free


def test_revoking_a_joined_person_is_refused(app, client):
    join(client, invite(app))
    result = run(app, "user", "invite", "--revoke", "dora")
    assert result.exit_code == 1 and "no pending invitation" in result.output


def test_invite_expiry_is_configurable_and_checked(app):
    invite(app, "dora", "--expires", "2h")
    expires = connect(app.config["DATABASE"]).execute("SELECT expires_at - created_at FROM links").fetchone()[0]
    assert expires == 7200
    bad = run(app, "user", "invite", "eve", "--email", "eve@example.org", "--expires", "soon")
    assert bad.exit_code == 2 and "is not a duration" in bad.output


def test_a_join_link_is_stored_only_as_a_hash(app):
    token = invite(app).rsplit("/", 1)[1]
    db = connect(app.config["DATABASE"])
    dump = "\n".join(db.iterdump())
    assert token not in dump


def test_an_invited_persons_sign_in_attempt_is_audited_with_its_reason(app, client, caplog):
    caplog.set_level("INFO", logger="idp.audit")
    invite(app)
    login(client, "dora", "whatever it is")
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit"]
    assert any(e["event"] == "sign_in_failed" and e["reason"] == "invited_user" for e in events)


def test_a_join_link_can_be_opened_while_someone_else_is_signed_in(app, flow):
    """The family computer: alice is signed in; dora's join signs dora in instead."""
    response = join(flow.client, invite(app))
    assert response.status_code == 303
    assert "Dora Explorer" in flow.client.get("/account").text
    params = auth_params(challenge=pkce_pair()[1], scope="openid")
    assert "code" in redirect_params(flow.client.get("/authorize", query_string=params))


def test_correcting_the_email_voids_the_link_mailed_to_the_old_one(app, client):
    path = invite(app)
    assert run(app, "user", "edit", "dora", "--email", "dora@example.com").exit_code == 0
    assert client.get(path).status_code == 410


def test_a_disabled_invited_person_cannot_join(app, client):
    path = invite(app)
    assert run(app, "user", "disable", "dora").exit_code == 0
    assert client.get(path).status_code == 410
    assert run(app, "user", "enable", "dora").exit_code == 0
    assert client.get(path).status_code == 410  # the link died with the disabling
