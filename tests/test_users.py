"""`flask user …` and the rules for disabled and removed users."""

import pytest
from helpers import PASSWORD, Flow, add_legacy_user, add_user, login

from idp.db import connect


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_add_and_list(app):
    add_user(app, "carol", PASSWORD, "--group", "family", "--name", "Carol C")
    result = run(app, "user", "list")
    assert result.exit_code == 0
    assert result.output.splitlines() == ["USERNAME\tNAME\tEMAIL\tGROUPS\tSTATE", "carol\tCarol C\tcarol@example.org\tfamily\tactive"]


def test_password_is_stored_as_argon2id(app):
    add_user(app, "carol")
    row = connect(app.config["DATABASE"]).execute("SELECT password_hash FROM users").fetchone()
    assert row[0].startswith("$argon2id$") and PASSWORD not in row[0]


def test_password_prompt_asks_twice(app):
    result = run(app, "user", "add", "dave", "--email", "d@example.org", input="abcdefgh1\nabcdefgh1\n")
    assert result.exit_code == 0, result.output
    mismatch = run(app, "user", "add", "erin", "--email", "e@example.org", input="abcdefgh1\nother1234\nabcdefgh2\nabcdefgh2\n")
    assert "do not match" in mismatch.output


def test_duplicate_username_is_refused(app):
    add_user(app, "carol")
    result = run(app, "user", "add", "carol", "--email", "x@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "already exists" in result.output


def test_short_password_is_refused(app):
    result = run(app, "user", "add", "carol", "--email", "x@example.org", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "at least 8 characters" in result.output


def test_unknown_user_commands_say_so(app):
    for command in ("disable", "enable", "remove"):
        result = run(app, "user", command, "nobody")
        assert result.exit_code == 1 and "no user called 'nobody'" in result.output


def test_passwd_changes_the_password_and_ends_sessions(app, client):
    add_user(app, "carol")
    assert login(client, "carol").status_code == 303
    result = run(app, "user", "passwd", "carol", "--password-stdin", input="a new password\n")
    assert result.exit_code == 0
    assert client.get("/account").status_code == 302  # the session ended
    assert "Wrong username or password" in login(client, "carol").text
    assert login(client, "carol", "a new password").status_code == 303


def test_disabled_user_cannot_sign_in_and_loses_sessions_and_tokens(app, flow):
    tokens = flow.tokens()
    assert run(app, "user", "disable", "alice").exit_code == 0
    assert flow.client.get("/account").status_code == 302
    assert flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).status_code == 400
    assert "Wrong username or password" in login(flow.client).text
    assert run(app, "user", "enable", "alice").exit_code == 0
    assert login(flow.client).status_code == 303
    # enabling does not bring old tokens back
    assert flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401


def test_removed_user_loses_everything(app, flow):
    tokens = flow.tokens()
    assert run(app, "user", "remove", "alice", "--yes").exit_code == 0
    assert flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_password_is_rehashed_on_sign_in_when_parameters_change(settings, client):
    from idp import create_app

    app = create_app(settings)
    add_user(app, "carol")
    stronger = create_app({**settings, "ARGON2_TIME_COST": 2})
    login(stronger.test_client(), "carol")
    row = connect(app.config["DATABASE"]).execute("SELECT password_hash FROM users").fetchone()
    assert ",t=2," in row[0]


def test_passwords_are_hashed_with_owasps_9_mib_4_pass_argon2id_by_default(settings):
    from idp import create_app

    defaults = {k: v for k, v in settings.items() if not k.startswith("ARGON2_")}
    app = create_app(defaults)
    add_user(app, "carol")
    row = connect(app.config["DATABASE"]).execute("SELECT password_hash FROM users").fetchone()
    assert row[0].startswith("$argon2id$v=19$m=9216,t=4,p=1$")


def test_a_removed_username_is_never_given_to_someone_else(app):
    add_user(app, "carol")
    assert app.test_cli_runner().invoke(args=["user", "remove", "carol", "--yes"]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["user", "add", "carol", "--email", "c2@example.org",
                                                "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 1 and "never given to anyone else" in result.output


# Usernames that look alike: one profile (lower-case ASCII), case-insensitive uniqueness and sign-in.

LOOK_ALIKES = ["alice", "Alice", "alice\u200b", "\u0430lice", "\uff41\uff4c\uff49\uff43\uff45"]
RULE = "a username is 1 to 64 characters from lower-case a-z, digits 0-9, '.', '_' and '-'"


def add(app, username):
    return run(app, "user", "add", username, "--email", "x@example.org", "--password-stdin", input=PASSWORD + "\n")


def usernames(app):
    return [r[0] for r in connect(app.config["DATABASE"]).execute("SELECT username FROM users ORDER BY username")]


def sub_of(client):
    tokens = Flow(client).tokens()
    return client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json["sub"]


def test_five_look_alikes_of_alice_end_as_one_person(app):
    first, upper, zero_width, cyrillic, fullwidth = [add(app, name) for name in LOOK_ALIKES]
    assert first.exit_code == 0
    assert upper.exit_code == 1 and "usernames are lower case: use 'alice'" in upper.output
    assert zero_width.exit_code == 1 and "invisible or non-ASCII characters (U+200B)" in zero_width.output
    assert cyrillic.exit_code == 1 and "invisible or non-ASCII characters (U+0430)" in cyrillic.output
    assert fullwidth.exit_code == 1 and "invisible or non-ASCII characters (U+FF41," in fullwidth.output
    assert all(RULE in r.output for r in (zero_width, cyrillic, fullwidth))
    assert usernames(app) == ["alice"]


@pytest.mark.parametrize("name, says", [
    ("", "the username is empty"),
    ("bob smith", "not allowed (' ')"),
    (".alice", "does not start with a letter or digit"),
    ("a" * 65, "65 characters, more than 64"),
    ("bob\tsmith", "U+0009"),
    ("bob\nsmith", "U+000A"),
    ("bob@example.org", "not allowed ('@')"),
    ("bob/smith", "not allowed ('/')"),
    ("bob\\smith", "not allowed ('\\\\')"),
    ("\u00e9", "U+00E9"),
    ("alice\u202eevil", "U+202E"),
    ("al\u00adice", "U+00AD"),
    ("\ufeffalice", "U+FEFF"),
], ids=["empty", "space", "leading-dot", "65-chars", "tab", "newline", "at", "slash", "backslash", "e-acute",
        "rtl-override", "soft-hyphen", "bom"])
def test_a_username_outside_the_profile_is_refused_saying_what_is_allowed(app, name, says):
    result = add(app, name)
    assert result.exit_code == 1 and says in result.output and RULE in result.output, result.output
    assert usernames(app) == []


@pytest.mark.parametrize("name", ["alice", "a", "bob.smith", "x_y-z", "0day", "a" * 64])
def test_a_username_inside_the_profile_is_accepted(app, name):
    assert add(app, name).exit_code == 0
    assert usernames(app) == [name]


@pytest.mark.parametrize("typed", ["ALICE", "Alice"])
def test_sign_in_ignores_case_and_the_sub_is_the_stored_username(client, alice, typed):
    assert login(client, typed).status_code == 303
    assert sub_of(client) == "alice"


def test_a_look_alike_typed_at_sign_in_does_not_sign_in(client, alice):
    for typed in LOOK_ALIKES[2:]:
        assert "Wrong username or password" in login(client, typed).text


def test_a_legacy_mixed_case_username_signs_in_in_any_case_and_keeps_its_sub(app, client):
    add_legacy_user(app, "Bob")
    assert login(client, "bob").status_code == 303
    assert sub_of(client) == "Bob"
    assert run(app, "user", "disable", "Bob").exit_code == 0  # commands take the stored name
    assert "Wrong username or password" in login(app.test_client(), "Bob").text


def test_legacy_names_differing_only_in_case_sign_in_only_when_typed_exactly(app, client):
    add_legacy_user(app, "Bob")
    add_legacy_user(app, "BOB", "another password")
    assert "Wrong username or password" in login(client, "bob").text
    assert login(client, "BOB", "another password").status_code == 303
    assert sub_of(client) == "BOB"


def test_a_password_typed_with_another_case_of_the_username_is_rehashed_on_the_stored_name(settings):
    from idp import create_app

    app = create_app(settings)
    add_user(app, "carol")
    login(create_app({**settings, "ARGON2_TIME_COST": 2}).test_client(), "CAROL")
    row = connect(app.config["DATABASE"]).execute("SELECT password_hash FROM users").fetchone()
    assert ",t=2," in row[0]


def test_a_username_differing_only_in_case_from_a_legacy_user_is_refused(app):
    add_legacy_user(app, "Alice")
    result = add(app, "alice")
    assert result.exit_code == 1 and "user 'Alice' already exists" in result.output
    assert usernames(app) == ["Alice"]


def test_a_username_differing_only_in_case_from_a_removed_username_is_refused(app):
    add_legacy_user(app, "Alice")
    assert run(app, "user", "remove", "Alice", "--yes").exit_code == 0
    result = add(app, "alice")
    assert result.exit_code == 1 and "never given to anyone else" in result.output
    assert usernames(app) == []
