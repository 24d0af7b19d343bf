"""`flask user …` and the rules for disabled and removed users."""

from helpers import PASSWORD, add_user, login

from idp.db import connect


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_add_and_list(app):
    add_user(app, "carol", PASSWORD, "--group", "family", "--name", "Carol C")
    result = run(app, "user", "list")
    assert result.exit_code == 0 and "carol\tcarol@example.org\tfamily\tactive" in result.output


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
    assert run(app, "user", "remove", "alice").exit_code == 0
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
    assert app.test_cli_runner().invoke(args=["user", "remove", "carol"]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["user", "add", "carol", "--email", "c2@example.org",
                                                "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 1 and "never given to anyone else" in result.output
