"""Latchkey: a small OpenID Connect identity provider for a household or a club.

Standalone: `create_app()` (what `app.py` serves). Embedded in an existing Flask website:
`Latchkey(app, url_prefix="/id", settings={...})` mounts the provider under that prefix.
"""

import contextvars
import logging
import os

from flask import Flask

from . import db, errors, keys, proxies, sessions
from .clients import ClientRegistry, ClientsFileError
from .settings import SettingsError, is_local_http, load
from .static_answers import StaticAnswers

log = logging.getLogger("idp")


#: Set while a `flask user …` or `flask group …` command loads the app: those commands need no
#: clients.toml, so a broken one must not stop them, and its warnings are for the server's start.
#: They also never create an instance: only a server's start does (_require_instance).
FOR_ADMIN_COMMAND = contextvars.ContextVar("latchkey_for_admin_command", default=False)

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
#: templates/latchkey/*.html. The repository keeps them at its top (the design card); an installed
#: Latchkey has them in idp/templates/ (pyproject.toml maps the package idp.templates to templates/).
TEMPLATE_FOLDER = os.path.join(_PACKAGE, "templates")
if not os.path.isdir(TEMPLATE_FOLDER):  # a checkout: `flask run` in the repo root, `pip install -e .`
    TEMPLATE_FOLDER = os.path.join(os.path.dirname(_PACKAGE), "templates")


class StartupError(Exception):
    """Latchkey cannot start; the message says what to fix."""


def _prepare_instance(path):
    """Create the instance folder (private to this user) if it is missing."""
    if os.path.isdir(path):
        return
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:  # the server's workers start together: another one made it first
        if os.path.isdir(path):
            return
        raise StartupError(f"cannot create the instance folder {path}: a file of that name is in the way") from None
    except OSError as e:
        raise StartupError(f"cannot create the instance folder {path}: {e.strerror}") from None
    log.info("created instance folder %s", path)


def _require_instance(config):
    """An admin command works on the instance a server created, and never creates one: run from
    another folder, it would otherwise make a second instance there, with new keys and nobody in it."""
    if not os.path.isdir(config["INSTANCE_PATH"]):
        missing = "that folder does not exist"
    elif not os.path.isfile(config["DATABASE"]):
        missing = f"it has no database {config['DATABASE']}"
    else:
        return
    raise StartupError(f"no Latchkey instance at {config['INSTANCE_PATH']} ({missing}): set IDP_INSTANCE_PATH to "
                       "the instance folder the server uses; only starting the server creates an instance")


def _check_data_key(config):
    """Seeds of authenticator apps are sealed with instance/data_key: a database that holds some
    without that key (restored alone, or the key lost) must not start with a new key, which would
    lock every such person out with a wrong-code message."""
    if os.path.exists(os.path.join(config["INSTANCE_PATH"], keys.DATA_KEY_FILE)):
        return
    conn = db.connect(config["DATABASE"])
    try:
        sealed = conn.execute("SELECT COUNT(*) FROM authenticators WHERE kind = 'totp'").fetchone()[0]
    finally:
        conn.close()
    if sealed:
        raise StartupError(f"{config['INSTANCE_PATH']}/{keys.DATA_KEY_FILE} is missing, but {sealed} authenticator "
                           "app(s) are set up in the database: restore the file from the same backup as the "
                           "database, or run `flask user mfa reset USERNAME` for each person")


def load_settings(overrides=None):
    """Defaults < instance/config.toml < IDP_* environment < `overrides`."""
    try:
        return load(overrides=overrides)
    except SettingsError as e:
        raise StartupError(str(e)) from None


class Latchkey:
    """Latchkey as a Flask extension: its settings, instance folder, database, keys and clients,
    and its pages and endpoints mounted on `app` under `url_prefix`. Its settings stay apart from
    the app's config; the app's secret key signs the session if it has one."""

    def __init__(self, app=None, url_prefix="", settings=None):
        if app is not None:
            self.init_app(app, url_prefix, settings)

    def init_app(self, app, url_prefix="", settings=None):
        # Authlib's debug messages print issued tokens ("Issue token {...}"); never let them out.
        logging.getLogger("authlib").setLevel(logging.INFO)
        config = load_settings(settings)
        if FOR_ADMIN_COMMAND.get():
            _require_instance(config)
        else:
            _prepare_instance(config["INSTANCE_PATH"])
        try:
            applied = db.migrate(config["DATABASE"])
        except Exception as e:  # sqlite3 errors, permissions: say which file
            raise StartupError(f"cannot open the database {config['DATABASE']}: {e}") from None
        if applied:
            log.info("database %s at schema version %d", config["DATABASE"], applied[-1])
        _check_data_key(config)
        try:
            app.extensions["latchkey_key"] = keys.load_signing_key(config["INSTANCE_PATH"])
            if not app.secret_key:
                app.secret_key = keys.load_session_secret(config["INSTANCE_PATH"])
        except OSError as e:
            raise StartupError(f"cannot read or create the keys in {config['INSTANCE_PATH']}: {e}") from None
        try:
            app.extensions["latchkey_clients"] = ClientRegistry(config["CLIENTS_FILE"], config,
                                                                for_admin_command=FOR_ADMIN_COMMAND.get())
        except ClientsFileError as e:
            raise StartupError(f"clients file is invalid:\n{e}") from None
        app.extensions["latchkey_settings"] = config
        if is_local_http(config["ISSUER"]):
            # Local testing over plain http on loopback; never set for any other issuer.
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

        from . import cli
        from .oauth import create_server
        from .views import bp

        bp.template_folder = TEMPLATE_FOLDER  # in a checkout or installed: see TEMPLATE_FOLDER
        db.init_app(app)
        sessions.init_app(app)
        app.extensions["latchkey_server"] = create_server(app)
        app.register_blueprint(bp, url_prefix=url_prefix or None)
        cli.init_app(app)


class LatchkeyFlask(Flask):
    """Flask for Latchkey on its own. Every view and hook of Latchkey is a plain function, so Flask
    need not inspect each one for a coroutine on every request (ensure_sync: a tenth of a userinfo
    call; README, Performance)."""

    def ensure_sync(self, func):
        return func


def configure_logging():
    """Latchkey's log lines (the server's and `latchkey serve`'s): time, level, logger, message."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(test_config=None):
    """Latchkey on its own: the app `flask run`, granian and gunicorn serve."""
    configure_logging()
    config = load_settings(test_config)
    app = LatchkeyFlask(__name__, instance_path=config["INSTANCE_PATH"], static_folder=None)
    app.config.update(config)
    https = config["ISSUER"].startswith("https://")
    app.config.update(
        # RFC 6265bis §4.1.3.2: a `__Host-` cookie is Secure, Path=/ and has no Domain, so no
        # sibling site on the same parent domain can plant or overwrite it.
        SESSION_COOKIE_NAME="__Host-latchkey_session" if https else "latchkey_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=config["SESSION_TTL"],
    )
    app.wsgi_app = StaticAnswers(proxies.wrap(app.wsgi_app, config))
    Latchkey(app, settings=test_config)
    errors.init_standalone(app)
    return app
