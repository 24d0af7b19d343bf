"""Latchkey: a small OpenID Connect identity provider for a household or a club."""

import logging
import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cors, db, errors, keys, sessions, settings
from .clients import ClientRegistry, ClientsFileError

log = logging.getLogger("idp")
csrf = CSRFProtect()


class StartupError(Exception):
    """Latchkey cannot start; the message says what to fix."""


def _prepare_instance(path):
    """Create the instance folder (private to this user) if it is missing."""
    if os.path.isdir(path):
        return
    try:
        os.makedirs(path, mode=0o700)
    except OSError as e:
        raise StartupError(f"cannot create the instance folder {path}: {e.strerror}") from None
    log.info("created instance folder %s", path)


def create_app(test_config=None):
    """Build the Latchkey app: settings, instance, database, keys, clients, views."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Authlib's debug messages print issued tokens ("Issue token {...}"); never let them out.
    logging.getLogger("authlib").setLevel(logging.INFO)
    try:
        config = settings.load(overrides=test_config)
    except settings.SettingsError as e:
        raise StartupError(str(e)) from None
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_path=config["INSTANCE_PATH"],
        template_folder=os.path.join(root, "templates"),
    )
    app.config.update(config)
    _prepare_instance(config["INSTANCE_PATH"])
    try:
        applied = db.migrate(config["DATABASE"])
    except Exception as e:  # sqlite3 errors, permissions: say which file
        raise StartupError(f"cannot open the database {config['DATABASE']}: {e}") from None
    if applied:
        log.info("database %s at schema version %d", config["DATABASE"], applied[-1])
    try:
        app.extensions["latchkey_key"] = keys.load_signing_key(config["INSTANCE_PATH"])
        app.secret_key = keys.load_session_secret(config["INSTANCE_PATH"])
    except OSError as e:
        raise StartupError(f"cannot read or create the keys in {config['INSTANCE_PATH']}: {e}") from None
    try:
        app.extensions["latchkey_clients"] = ClientRegistry(config["CLIENTS_FILE"], config)
    except ClientsFileError as e:
        raise StartupError(f"clients file is invalid:\n{e}") from None

    https = config["ISSUER"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="latchkey_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=config["SESSION_TTL"],
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        # Pages send Referrer-Policy: no-referrer, so an https POST has no Referer to check;
        # the CSRF token and the SameSite=Lax cookie protect the forms.
        WTF_CSRF_SSL_STRICT=False,
    )
    if settings.is_local_http(config["ISSUER"]):
        # Local testing over plain http on loopback; never set for any other issuer.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    if config["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=config["PROXY_HOPS"], x_proto=config["PROXY_HOPS"],
            x_host=config["PROXY_HOPS"], x_port=config["PROXY_HOPS"],
        )

    from .oauth import create_server
    from .views import account, authorize, pages, token, userinfo, wellknown

    db.init_app(app)
    sessions.init_app(app)
    csrf.init_app(app)
    app.extensions["latchkey_server"] = create_server(app)
    for module in (wellknown, authorize, token, userinfo, pages, account):
        app.register_blueprint(module.bp)
    # Apps call these directly (or, for /authorize, by a form on their own site); they carry
    # their own protection (client authentication, bearer tokens, state + PKCE).
    for module in (authorize, token, userinfo):
        csrf.exempt(module.bp)
    # Apps may POST their logout request; the confirmation form checks its own CSRF token.
    csrf.exempt(pages.logout)
    errors.init_app(app)
    cors.init_app(app)

    from . import cli

    cli.init_app(app)
    return app
