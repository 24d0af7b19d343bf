"""The `flask user …` and `flask client …` commands."""

import sys

import click
from flask.cli import AppGroup

from . import settings
from .clients import ClientsFileError, parse
from .passwords import new_client_secret
from .users import (UserError, add_user, list_users, remove_user, set_disabled, set_password,
                    username_problem)

user_cli = AppGroup("user", help="Add and manage the people who can sign in.")


def _read_password(from_stdin):
    """The new password: from standard input (one line), or asked twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    return password


def _run(action, *args, **kwargs):
    try:
        return action(*args, **kwargs)
    except UserError as e:
        raise click.ClickException(str(e)) from None


@user_cli.command("add")
@click.argument("username")
@click.option("--email", required=True, help="The email address (released with the email scope).")
@click.option("--name", help="Full name.")
@click.option("--given-name", help="Given (first) name.")
@click.option("--family-name", help="Family (last) name.")
@click.option("--group", "groups", multiple=True, help="A group; repeat for several.")
@click.option("--locale", help="e.g. de-DE; the DEFAULT_LOCALE setting applies when left out.")
@click.option("--picture", help="URL of a profile picture.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(username, email, name, given_name, family_name, groups, locale, picture, password_stdin):
    """Add a user. Usernames are the `sub` claim: they are permanent and never reassigned.
    Allowed: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit."""
    if problem := username_problem(username):  # before asking for a password
        raise click.ClickException(problem)
    password = _read_password(password_stdin)
    _run(add_user, username, password, email, groups, name=name, given_name=given_name,
         family_name=family_name, locale=locale, picture=picture)
    click.echo(f"added user {username}")


@user_cli.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(username, password_stdin):
    """Set a new password; the user's sessions and refresh tokens end."""
    _run(set_password, username, _read_password(password_stdin))
    click.echo(f"changed the password of {username}; their sessions and tokens have ended")


@user_cli.command("list")
def user_list():
    """List users with their email, groups and state."""
    for user in list_users():
        state = "disabled" if user.disabled else "active"
        groups = ",".join(user.groups) or "-"
        click.echo(f"{user.username}\t{user.email}\t{groups}\t{state}")


@user_cli.command("disable")
@click.argument("username")
def user_disable(username):
    """Stop a user from signing in; their sessions and tokens end at once."""
    _run(set_disabled, username, True)
    click.echo(f"disabled {username}; their sessions and tokens have ended")


@user_cli.command("enable")
@click.argument("username")
def user_enable(username):
    """Let a disabled user sign in again."""
    _run(set_disabled, username, False)
    click.echo(f"enabled {username}")


@user_cli.command("remove")
@click.argument("username")
def user_remove(username):
    """Delete a user with their sessions and tokens."""
    _run(remove_user, username)
    click.echo(f"removed {username}")


@click.group("client", help="Whitelist apps in clients.toml.")
def client_cli():
    pass


@client_cli.command("secret")
def client_secret():
    """Print a new random client secret once, and the line for clients.toml."""
    secret, hashed = new_client_secret()
    click.echo(f"client secret (give it to the app; it is not stored anywhere): {secret}")
    click.echo("add this line to the client's [[clients]] table in clients.toml:")
    click.echo(f'client_secret_hash = "{hashed}"')


@client_cli.command("check")
def client_check():
    """Validate clients.toml; exit status 1 on any problem."""
    try:
        config = settings.load()
    except settings.SettingsError as e:
        raise click.ClickException(str(e)) from None
    try:
        clients = parse(config["CLIENTS_FILE"], config)
    except ClientsFileError as e:
        for problem in e.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    click.echo(f"{config['CLIENTS_FILE']}: {len(clients)} clients, all valid")
    for client in clients.values():
        kind = "public" if client.is_public else client.token_endpoint_auth_method
        click.echo(f"  {client.client_id} ({client.client_name}): {kind}, scope {client.scope!r}")


def init_app(app):
    app.cli.add_command(user_cli)
