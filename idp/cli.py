"""The `flask user …`, `flask group …` and `flask client …` commands.

User and group commands load the app as `flask run` would (so an embedding site's own settings
count) but need no valid clients.toml: a broken one does not stop them (FOR_ADMIN_COMMAND). They
never create an instance: without one they stop with exit status 1, naming the folder."""

import datetime
import functools
import sys
import time

import click
from flask.cli import ScriptInfo

from . import FOR_ADMIN_COMMAND, StartupError, audit, links, mail, password_rules, session_list, settings, tokens
from .clients import ClientsFileError, parse
from .db import get_db, transaction
from .passwords import new_client_secret
from .signin import recovery_codes, steps, totp
from .users import (UserError, add_user, edit_user, get_user, list_groups, list_users, remove_user,
                    set_disabled, set_password)


def with_latchkey(command):
    """Run `command` inside the app's context, loading the app for an admin command."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        ctx = click.get_current_context()
        mark = FOR_ADMIN_COMMAND.set(True)
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except StartupError as e:  # no instance there yet, or one that cannot start (app.py says it itself)
            raise click.ClickException(f"Latchkey cannot start: {e}") from None
        finally:
            FOR_ADMIN_COMMAND.reset(mark)
        with app.app_context():
            try:
                return command(*args, **kwargs)
            except (UserError, ValueError, mail.MailError) as e:
                raise click.ClickException(str(e)) from None

    return run


user_cli = click.Group("user", help="Add, invite and manage the people who can sign in.")
group_cli = click.Group("group", help="The groups people are in.")


def _read_password(from_stdin, username="", email=""):
    """The new password: from standard input (one line), or asked twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if problem := password_rules.problem(password, username, email, settings.current()["SITE_NAME"]):
        raise click.ClickException(problem)
    return password


def _when(timestamp):
    if not timestamp:
        return "never"
    return datetime.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _state(user):
    return "invited" if user.invited else "disabled" if user.disabled else "active"


def profile_options(command):
    """The profile options shared by add, invite and edit."""
    for option in reversed([
        click.option("--name", help="Full name."),
        click.option("--given-name", help="Given (first) name."),
        click.option("--family-name", help="Family (last) name."),
        click.option("--locale", help="e.g. de-DE; the DEFAULT_LOCALE setting applies when left out."),
        click.option("--picture", help="URL of a profile picture."),
    ]):
        command = option(command)
    return command


@user_cli.command("add")
@click.argument("username")
@click.option("--email", required=True, help="The email address (released with the email scope).")
@profile_options
@click.option("--group", "groups", multiple=True, help="A group; repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_latchkey
def user_add(username, email, groups, password_stdin, **profile):
    """Add a user with a password you choose (or invite them: `flask user invite`)."""
    password = _read_password(password_stdin, username, email)
    add_user(username, password, email, groups, **profile)
    click.echo(f"added user {username}")


def _expires(ctx, param, value):
    try:
        return links.parse_duration(value) if value else None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _hand_out(kind, user, url, ttl, send):
    """Mail the link when asked to; the link itself is always the last line of output."""
    config = settings.current()
    if send:
        if not mail.configured(config):
            raise click.ClickException("--send needs a mail server: set SMTP_HOST and SMTP_FROM (README, Mail)")
        mail.send_link(config, kind, user, url, ttl)
        click.echo(f"mailed the link to {user.email}")
    click.echo(f"the link works once, until {_when(int(time.time()) + ttl)}:")
    click.echo(url)


@user_cli.command("invite")
@click.argument("username", required=False)
@click.option("--email", help="The email address (released with the email scope).")
@profile_options
@click.option("--group", "groups", multiple=True, help="A group; repeat for several.")
@click.option("--expires", callback=_expires, help="How long the link works: 7d (default), 12h, 30m.")
@click.option("--send", is_flag=True, help="Mail the link to the person (needs SMTP_* settings).")
@click.option("--list", "show_list", is_flag=True, help="List pending invitations.")
@click.option("--revoke", "revoke", is_flag=True, help="Cancel USERNAME's invitation (they never joined).")
@with_latchkey
def user_invite(username, email, groups, expires, send, show_list, revoke, **profile):
    """Invite someone: they choose their own password at the one-time link printed last."""
    if show_list:
        click.echo("USERNAME\tEMAIL\tINVITED\tLINK EXPIRES")
        for user in list_users():
            if user.invited:
                link = links.pending("join", user.username)
                click.echo(f"{user.username}\t{user.email}\t{_when(user.created_at)}\t"
                           f"{_when(link[-1]['expires_at']) if link else 'expired: invite again with --revoke first'}")
        return
    if not username:
        raise click.UsageError("give the USERNAME to invite (or --list)")
    if revoke:
        user = get_user(username)
        if user is None or not user.invited:
            raise click.ClickException(f"{username!r} has no pending invitation")
        remove_user(username)
        audit.event("invitation_revoked", user=username)
        click.echo(f"revoked the invitation of {username}")
        return
    if not email:
        raise click.UsageError("--email is required to invite someone")
    ttl = expires or links.DEFAULT_TTL["join"]
    add_user(username, None, email, groups, invited=True, **profile)
    with transaction() as db:
        url = links.create("join", username, ttl, db=db)
    click.echo(f"invited {username}")
    _hand_out("join", get_user(username), url, ttl, send)


@user_cli.command("reset")
@click.argument("username")
@click.option("--expires", callback=_expires, help="How long the link works: 1h (default), 30m, 1d.")
@click.option("--send", is_flag=True, help="Mail the link to the person (needs SMTP_* settings).")
@with_latchkey
def user_reset(username, expires, send):
    """A one-time link at which USERNAME sets a new password; older links stop working."""
    user = get_user(username)
    if user is None:
        raise click.ClickException(f"no user called {username!r}")
    if user.invited:
        raise click.ClickException(f"{username} has not joined yet: `flask user invite --revoke {username}`, then invite again")
    if user.disabled:
        raise click.ClickException(f"{username} is disabled: `flask user enable {username}` first")
    ttl = expires or links.DEFAULT_TTL["reset"]
    with transaction() as db:
        url = links.create("reset", username, ttl, db=db)
    _hand_out("reset", user, url, ttl, send)


@user_cli.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_latchkey
def user_passwd(username, password_stdin):
    """Set a new password; the user's sessions and refresh tokens end."""
    user = get_user(username)
    if user is None:
        raise click.ClickException(f"no user called {username!r}")
    set_password(username, _read_password(password_stdin, username, user.email))
    audit.event("password_set_by_admin", user=username)
    click.echo(f"changed the password of {username}; their sessions and tokens have ended")


@user_cli.command("edit")
@click.argument("username")
@click.option("--email", help="A new email address.")
@profile_options
@click.option("--add-group", "add_groups", multiple=True, help="Add to a group; repeat for several.")
@click.option("--remove-group", "remove_groups", multiple=True, help="Take out of a group; repeat for several.")
@with_latchkey
def user_edit(username, add_groups, remove_groups, **changes):
    """Change a person's details or groups (an empty value clears an optional field). Apps see it
    in the next token or userinfo answer."""
    if not any(v is not None for v in changes.values()) and not add_groups and not remove_groups:
        raise click.UsageError("say what to change, e.g. --email or --add-group")
    edit_user(username, add_groups, remove_groups, **changes)
    audit.event("user_edited", user=username, fields=sorted(k for k, v in changes.items() if v is not None),
                added_groups=list(add_groups), removed_groups=list(remove_groups))
    click.echo(f"changed {username}")


@user_cli.command("show")
@click.argument("username")
@with_latchkey
def user_show(username):
    """Everything about one person: details, groups, state, sessions, apps, pending links."""
    user = get_user(username)
    if user is None:
        raise click.ClickException(f"no user called {username!r}")
    now = int(time.time())
    sessions = get_db().execute("SELECT auth_time FROM sessions WHERE username = ? AND expires_at > ?"
                                " ORDER BY auth_time DESC", (username, now)).fetchall()
    rows = [("username", user.username), ("state", _state(user)), ("email", user.email)]
    rows += [(f, getattr(user, f)) for f in ("name", "given_name", "family_name", "locale", "picture") if getattr(user, f)]
    rows += [("groups", ", ".join(user.groups) or "-"), ("added", _when(user.created_at)),
             ("updated", _when(user.updated_at)), ("last sign-in", _when(user.last_sign_in_at)),
             ("live sessions", f"{len(sessions)}" + (f" (newest signed in {_when(sessions[0][0])})" if sessions else ""))]
    # One line per session, as the person's account page lists them (session_list.py).
    rows += [("", f"{s['browser']}, {s['address']}, {s['method']}, signed in {s['signed_in']}, last seen {s['last_seen']}"
                  + (f", apps: {', '.join(s['apps'])}" if s["apps"] else "")) for s in session_list.listed_for(username)]
    apps = tokens.apps_holding_tokens(username)
    rows.append(("apps holding tokens", ", ".join(f"{a['client_id']} (last {_when(a['last_issued'])})" for a in apps) or "-"))
    pending = [f"{kind} until {_when(link['expires_at'])}" for kind in links.KINDS for link in links.pending(kind, username)]
    rows.append(("pending links", ", ".join(pending) or "-"))
    rows.append(("second step", f"authenticator app, {recovery_codes.left(username)} recovery codes left"
                 if totp.enrolled(username) else "none"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


@user_cli.command("list")
@with_latchkey
def user_list():
    """List people with their name, email, groups and state."""
    click.echo("USERNAME\tNAME\tEMAIL\tGROUPS\tSTATE")
    for user in list_users():
        click.echo(f"{user.username}\t{user.name or '-'}\t{user.email}\t{','.join(user.groups) or '-'}\t{_state(user)}")


@user_cli.command("disable")
@click.argument("username")
@with_latchkey
def user_disable(username):
    """Stop a user from signing in; their sessions and tokens end at once."""
    set_disabled(username, True)
    audit.event("user_disabled", user=username)
    click.echo(f"disabled {username}; their sessions and tokens have ended")


@user_cli.command("enable")
@click.argument("username")
@with_latchkey
def user_enable(username):
    """Let a disabled user sign in again."""
    set_disabled(username, False)
    audit.event("user_enabled", user=username)
    click.echo(f"enabled {username}")


@user_cli.command("remove")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_latchkey
def user_remove(username, yes):
    """Delete a user with their sessions and tokens. Their username is never given to anyone else."""
    if get_user(username) is None:
        raise click.ClickException(f"no user called {username!r}")
    if not yes:
        click.confirm(f"Remove {username} for good? Their username can never be used again", abort=True)
    remove_user(username)
    audit.event("user_removed", user=username)
    click.echo(f"removed {username}")


mfa_cli = click.Group("mfa", help="Second sign-in steps (authenticator apps, recovery codes).")
user_cli.add_command(mfa_cli)


@mfa_cli.command("reset")
@click.argument("username")
@with_latchkey
def user_mfa_reset(username):
    """Clear USERNAME's authenticator app and recovery codes (a lost phone); their sessions end."""
    if get_user(username) is None:
        raise click.ClickException(f"no user called {username!r}")
    with transaction() as db:
        steps.remove_second_factors(db, username)
    audit.event("mfa_reset_by_admin", user=username)
    click.echo(f"cleared the second sign-in step of {username}; their sessions have ended. At their next sign-in "
               "the password is enough, until they set up an app again")


@group_cli.command("list")
@with_latchkey
def group_list():
    """Every group with its members."""
    click.echo("GROUP\tMEMBERS")
    for group, members in list_groups().items():
        click.echo(f"{group}\t{', '.join(members)}")


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
        logout = [name for name, on in (("back-channel logout", client.backchannel_logout_uri),
                                        ("front-channel logout", client.frontchannel_logout_uri),
                                        ("refresh tokens end with the session",
                                         client.refresh_token_lifetime == "session")) if on]
        click.echo(f"  {client.client_id} ({client.client_name}): {kind}, scope {client.scope!r}"
                   + "".join(f", {item}" for item in logout))


db_cli = click.Group("db", help="The database: backups.")


@db_cli.command("backup")
@click.argument("path")
@click.option("--force", is_flag=True, help="Replace PATH (and its key copies) if they exist.")
@click.option("--with-keys", is_flag=True,
              help="Also copy the signing key, session secret and data key, as PATH.signing_key.pem and so on.")
@with_latchkey
def db_backup(path, force, with_keys):
    """Copy the database to PATH while Latchkey keeps serving (SQLite's online backup), mode 0600,
    and check the copy. The keys are files beside the database: back them up too (or --with-keys)."""
    from . import backup

    try:
        done = backup.backup(settings.current(), path, force=force, with_keys=with_keys)
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    people = f"{done.people} {'person' if done.people == 1 else 'people'}"
    click.echo(f"wrote {done.path}: {done.size} bytes, schema version {done.version}, {people}, integrity check ok")
    for copy in done.keys_written:
        click.echo(f"wrote {copy}")
    if done.keys_not_copied:
        click.echo("not in this backup: " + ", ".join(done.keys_not_copied) + ". Back these files up too (or use"
                   " --with-keys): a restore needs the same ones, or every app's sign-ins end (README, Backups)")


def init_app(app):
    """The app's own `flask` group has them too (tests and embedding sites invoke them there)."""
    app.cli.add_command(user_cli)
    app.cli.add_command(group_cli)
    app.cli.add_command(db_cli)
