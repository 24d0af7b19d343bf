"""The admin's commands: edit, show, list, remove (with confirmation), group list; and user and
group commands working while clients.toml is broken."""

import os
import subprocess
import sys

import jwt as pyjwt
import pytest
from helpers import CLIENTS, FAST_ARGON2, PASSWORD, ROOT, Flow, add_user, login


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_edit_changes_claims_at_userinfo_and_in_the_next_id_token(app, flow):
    before = flow.tokens(scope="openid profile email groups")
    bearer = {"Authorization": "Bearer " + before["access_token"]}
    old = flow.client.get("/userinfo", headers=bearer).json
    result = run(app, "user", "edit", "alice", "--email", "alice@new.example", "--name", "Alice L.",
                 "--add-group", "rowers", "--remove-group", "staff", "--locale", "de-DE")
    assert result.exit_code == 0, result.output
    new = flow.client.get("/userinfo", headers=bearer).json
    assert new["email"] == "alice@new.example" and new["name"] == "Alice L." and new["locale"] == "de-DE"
    assert new["groups"] == ["family", "rowers"] and new["updated_at"] >= old["updated_at"]
    after = flow.tokens(scope="openid profile email groups")
    claims = pyjwt.decode(after["id_token"], options={"verify_signature": False})
    assert claims["email"] == "alice@new.example" and claims["groups"] == ["family", "rowers"]


def test_edit_can_clear_an_optional_field_and_refuses_a_bad_email(app, alice):
    assert run(app, "user", "edit", "alice", "--picture", "https://pics.example/a.png").exit_code == 0
    assert run(app, "user", "edit", "alice", "--picture", "").exit_code == 0
    assert "picture" not in run(app, "user", "show", "alice").output
    for bad in ("alice", "alice@", "@example.org", "a b@example.org", "alice@example", "alice@exa mple.org", ""):
        result = run(app, "user", "edit", "alice", "--email", bad)
        assert result.exit_code == 1 and "is not an email address" in result.output, bad


def test_add_and_invite_refuse_a_bad_email(app):
    result = run(app, "user", "add", "carol", "--email", "carol", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "is not an email address" in result.output
    assert "is not an email address" in run(app, "user", "invite", "dora", "--email", "dora@@x.org").output


def test_edit_needs_something_to_change_and_a_known_user(app, alice):
    assert run(app, "user", "edit", "alice").exit_code == 2
    assert "no user called 'nobody'" in run(app, "user", "edit", "nobody", "--name", "X").output


def test_show_tells_everything_an_admin_needs(app, flow):
    flow.tokens(scope="openid offline_access")
    run(app, "user", "reset", "alice")
    output = run(app, "user", "show", "alice").output
    for expected in ("username", "alice", "state", "active", "email", "alice@example.org", "groups",
                     "family, staff", "last sign-in", "live sessions        1 (newest", "apps holding tokens", "web (last ",
                     "pending links", "reset until"):
        assert expected in output, (expected, output)


def test_list_has_a_header_and_one_line_per_person(app, alice):
    add_user(app, "bob")
    run(app, "user", "disable", "bob")
    lines = run(app, "user", "list").output.splitlines()
    assert lines[0] == "USERNAME\tNAME\tEMAIL\tGROUPS\tSTATE"
    assert lines[1:] == ["alice\tAlice Liddell\talice@example.org\tfamily,staff\tactive",
                         "bob\t-\tbob@example.org\t-\tdisabled"]


def test_remove_asks_for_confirmation_unless_yes(app, alice):
    refused = run(app, "user", "remove", "alice", input="n\n")
    assert refused.exit_code == 1 and "Remove alice for good?" in refused.output
    assert "alice" in run(app, "user", "list").output
    assert run(app, "user", "remove", "alice", input="y\n").exit_code == 0
    assert "alice" not in run(app, "user", "list").output


def test_group_list_shows_groups_and_members(app, alice):
    add_user(app, "bob", PASSWORD, "--group", "family")
    assert run(app, "group", "list").output.splitlines() == ["GROUP\tMEMBERS", "family\talice, bob", "staff\talice"]


def _flask(tmp_path, clients_text, *args, input=None):
    if not (tmp_path / "instance").exists():  # a server's first start makes it; the commands refuse to
        from idp import create_app

        (tmp_path / "first-start-clients.toml").write_text(CLIENTS)
        create_app({"ISSUER": "http://localhost", "INSTANCE_PATH": str(tmp_path / "instance"),
                    "CLIENTS_FILE": str(tmp_path / "first-start-clients.toml")})
    clients = tmp_path / "clients.toml"
    clients.write_text(clients_text)
    env = {**os.environ, "IDP_ISSUER": "http://localhost", "IDP_INSTANCE_PATH": str(tmp_path / "instance"),
           "IDP_CLIENTS_FILE": str(clients), **{f"IDP_{k}": str(v) for k, v in FAST_ARGON2.items()}}
    env.pop("FLASK_APP", None)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, input=input,
                          capture_output=True, text=True, timeout=60)


def test_user_and_group_commands_work_while_clients_toml_is_broken(tmp_path):
    broken = "[[clients]\nclient_id = 'oops'\n"
    added = _flask(tmp_path, broken, "user", "add", "carol", "--email", "carol@example.org", "--group", "g",
                   "--password-stdin", input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    listed = _flask(tmp_path, broken, "user", "list")
    assert listed.returncode == 0 and "carol\t-\tcarol@example.org\tg\tactive" in listed.stdout
    assert _flask(tmp_path, broken, "group", "list").stdout.splitlines()[1] == "g\tcarol"
    invited = _flask(tmp_path, broken, "user", "invite", "dora", "--email", "dora@example.org")
    assert invited.returncode == 0 and invited.stdout.strip().splitlines()[-1].startswith("http://localhost/join/")
    # The server itself still refuses to start on it, naming the problem.
    check = _flask(tmp_path, broken, "client", "check")
    assert check.returncode == 1 and "TOML syntax error" in check.stderr


def test_cli_commands_do_not_repeat_the_plaintext_secret_warning(tmp_path):
    result = _flask(tmp_path, CLIENTS, "user", "list")
    assert result.returncode == 0 and "plaintext client_secret" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["user", "show", "nobody"], ["user", "reset", "nobody"], ["user", "passwd", "nobody", "--password-stdin"]])
def test_unknown_people_get_a_clear_error(app, command):
    result = run(app, *command, input="a long password here\n")
    assert result.exit_code == 1 and "no user called 'nobody'" in result.output


def test_the_cli_password_follows_the_same_rules_as_the_join_page(app):
    result = run(app, "user", "add", "carol", "--email", "carol@example.org", "--password-stdin", input="password1\n")
    assert result.exit_code == 1 and "most common" in result.output


def test_a_signed_in_person_sees_the_change_on_the_account_page(app, client, alice):
    login(client)
    run(app, "user", "edit", "alice", "--name", "Alice Pleasance Liddell")
    assert "Alice Pleasance Liddell" in client.get("/account").text
    assert Flow(client).tokens(scope="openid")["access_token"]
