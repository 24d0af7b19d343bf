"""The `latchkey` command of an installed Latchkey, from any working folder and without FLASK_APP.

`latchkey serve` runs it under granian, the production server. Every other command is the `flask`
one (the `flask.commands` entry points: `latchkey user add …`, `latchkey client check`, `latchkey db
backup …`), plus `shell` and `routes`. Server and commands find the same instance through
IDP_INSTANCE_PATH, and the clients file through CLIENTS_FILE in its config.toml (README, Running it
for real). Only `serve` creates an instance; every other command refuses when there is none."""

import logging
import os
import shlex
import sys
from importlib.metadata import entry_points
from importlib.util import find_spec

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from . import FOR_ADMIN_COMMAND, StartupError, configure_logging, create_app, load_settings
from .clients import ClientsFileError, parse

log = logging.getLogger("idp")


def _cores():
    """The cores this process may run on (a container's or `taskset`'s limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; behind a reverse proxy on this machine, keep a loopback one.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1), help="Worker processes.  [default: one per core]")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1),
              help="Threads per worker that run requests (granian's --blocking-threads).")
def serve(host, port, workers, threads):
    """Run Latchkey under granian, the production server."""
    if find_spec("granian") is None:
        raise click.ClickException("granian is not installed: pip install 'latchkey[server]'")
    # The settings and the clients file are checked here, once: a mistake in either stops the start
    # with one message instead of one per worker. The instance (database, keys) is the workers' to
    # create on a first start; they agree on one (README, Running it for real). Building the whole
    # app here as well would add half a second to every start (README, Performance).
    configure_logging()
    try:
        config = load_settings()
        parse(config["CLIENTS_FILE"], config)
    except StartupError as e:
        raise click.ClickException(f"Latchkey cannot start: {e}") from None
    except ClientsFileError as e:
        raise click.ClickException(f"Latchkey cannot start: clients file is invalid:\n{e}") from None
    # Workers: one per core, each a process with its own GIL. Threads: one per worker. A request is
    # CPU-bound Python (Flask, Authlib, signing, argon2) plus a short SQLite write, so a second thread
    # in a worker would mostly wait for that worker's GIL (and argon2, which releases it, already keeps
    # its core busy); requests beyond one per worker wait in granian's queue, not in Python threads.
    args = granian_command(host, port, workers or _cores(), threads)
    log.info("starting granian: %s", shlex.join(args))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)  # granian takes this process over: signals reach it directly


#: Seconds granian gives a worker to stop before killing it (see granian_command).
WORKERS_KILL_TIMEOUT = 10


def granian_command(host, port, workers, threads=1, target="idp.wsgi:app"):
    """The production server's command line (also what the tests and the benchmark start)."""
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--no-ws",
            # A worker told to stop while it is still starting can miss the signal and wait forever
            # (granian 2.x), and granian's main process then waits for it: kill a worker that has
            # not stopped 10 s after being asked. Requests here take milliseconds, so no graceful
            # stop or restart (SIGHUP) cuts one off.
            "--workers-kill-timeout", str(WORKERS_KILL_TIMEOUT), target]


def server_command(server, host, port, workers, target="idp.wsgi:app"):
    """`target` under `server`: granian as `latchkey serve` runs it, or gunicorn, the documented
    alternative (the tests and the benchmark start both)."""
    if server == "granian":
        return granian_command(host, port, workers, target=target)
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{host}:{port}", target]


def _app_for_commands():
    """The app behind every command but `serve`, loaded as for an admin command: it never creates an
    instance, and without one the command stops with exit status 1, naming the folder."""
    mark = FOR_ADMIN_COMMAND.set(True)
    try:
        return create_app()
    except StartupError as e:
        raise click.ClickException(f"Latchkey cannot start: {e}") from None
    finally:
        FOR_ADMIN_COMMAND.reset(mark)


class _Commands(FlaskGroup):
    """Flask's command group (app loading, --env-file, --debug) without looking up commands in the
    app: all of Latchkey's are known without it, so help and a mistyped name need no instance."""

    get_command = click.Group.get_command
    list_commands = click.Group.list_commands


cli = _Commands(name="latchkey", create_app=_app_for_commands, add_default_commands=False, load_dotenv=False,
                help="Latchkey: `serve` runs the production server (granian); the other commands are the `flask` "
                     "ones, for the instance at IDP_INSTANCE_PATH (default: ./instance).")
cli.params = [p for p in cli.params if p.name != "app"]  # always this Latchkey: no --app
for entry_point in entry_points(group="flask.commands"):  # user, group, client, db: what `flask` has
    cli.add_command(entry_point.load(), entry_point.name)
cli.add_command(serve)
cli.add_command(shell_command)
cli.add_command(routes_command)


def main():
    cli.main(prog_name="latchkey")


if __name__ == "__main__":  # `python -m idp.serve serve …`: the same as the `latchkey` command
    main()
