"""Latchkey's settings: defaults, then instance/config.toml, then IDP_* environment variables."""

import difflib
import os
import re
import tomllib
from urllib.parse import urlsplit

from flask import current_app

DAY = 24 * 3600

#: Every setting, with its default. The type of the default is the type of the setting.
DEFAULTS = {
    # localhost, not 127.0.0.1: browsers refuse passkeys (WebAuthn) on an IP-address host, and
    # http://localhost is a secure context; `flask run` listens on 127.0.0.1:5000, which it reaches.
    "ISSUER": "http://localhost:5000",
    "CLIENTS_FILE": "clients.toml",
    "INSTANCE_PATH": "instance",
    "DATABASE": "",  # empty: <INSTANCE_PATH>/idp.sqlite3
    "ACCESS_TOKEN_TTL": 900,
    "ID_TOKEN_TTL": 900,
    "REFRESH_TOKEN_TTL": 30 * DAY,
    "AUTH_CODE_TTL": 60,
    "SESSION_TTL": 14 * DAY,
    # A client that retries a refresh within this many seconds, before using the refresh token it
    # got, gets a new pair instead of having the grant revoked (lost responses on bad networks).
    "REFRESH_REUSE_GRACE": 10,
    "DEFAULT_LOCALE": "en-US",
    # argon2id cost for user passwords: one of OWASP's equivalent choices (m=9 MiB, t=4, p=1; the
    # same CPU as m=19 MiB, t=2, with half the memory per sign-in in flight, which a small box
    # and a worker's resident size feel). RFC 9106 §4's second recommendation is m=64 MiB, t=3, p=4.
    "ARGON2_MEMORY_KIB": 9216,
    "ARGON2_TIME_COST": 4,
    "ARGON2_PARALLELISM": 1,
    # Password guessing: after this many failed sign-ins for one username, or from one address,
    # every further attempt waits 1, 2, 4, … seconds, at most LOGIN_MAX_DELAY.
    "LOGIN_USER_LIMIT": 5,
    "LOGIN_ADDRESS_LIMIT": 20,
    "LOGIN_MAX_DELAY": 900,
    # How many reverse proxies in front set X-Forwarded-* (0: trust none of those headers).
    "PROXY_HOPS": 0,
    # --- Branding of the pages people see (checked in _check_branding) ---
    # The name on every page and in its <title>.
    "SITE_NAME": "Latchkey",
    # A plain file name inside INSTANCE_PATH ("logo.svg", "logo.png"), shown on every page; "" for none.
    "LOGO": "",
    # Buttons, links and focus rings: "#rgb" or "#rrggbb".
    "ACCENT_COLOR": "#2b6cb0",
    # --- end of branding ---
    # Every sign-in to every app needs a second step (an authenticator-app code); per app, set
    # require_mfa = true in clients.toml instead.
    "REQUIRE_MFA": False,
    # After a password sign-in, a person without a passkey is offered to add one before going on.
    "OFFER_PASSKEY": False,
    # Device authorization (RFC 8628): how long a device code and its user code live (s), and the
    # poll interval a device is told to keep (s); polling faster answers slow_down.
    "DEVICE_CODE_TTL": 600,
    "DEVICE_POLL_INTERVAL": 5,
    # Mail, optional (mail.py): with SMTP_HOST set, invitation and recovery links can be mailed and
    # the login page offers "Forgot your password?". SMTP_SECURITY: starttls, tls or none.
    # SMTP_PASSWORD is read from the environment only (IDP_SMTP_PASSWORD), never from a file.
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_SECURITY": "starttls",
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "",
}


class SettingsError(Exception):
    """A setting cannot be read; the message says which and why."""


def _coerce(name, value, source):
    """Convert a value to the type of the setting's default, or explain why not."""
    kind = type(DEFAULTS[name])
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise SettingsError(f"{source}: {name} must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise SettingsError(f"{source}: {name} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{source}: {name} must be a whole number, not {value!r}") from None
        minimum = 0 if name in ("PROXY_HOPS", "REFRESH_REUSE_GRACE") else 1
        if number < minimum:
            raise SettingsError(f"{source}: {name} must be at least {minimum}, not {number}")
        return number
    if not isinstance(value, str):
        raise SettingsError(f"{source}: {name} must be a string, not {value!r}")
    return value


def _unknown(name, source):
    hint = difflib.get_close_matches(name, DEFAULTS, n=1)
    tip = f" (did you mean {hint[0]}?)" if hint else ""
    return SettingsError(f"{source}: unknown setting {name}{tip}")


def load(environ=None, overrides=None):
    """Return the settings dict: defaults < instance/config.toml < IDP_* env < overrides."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    env = {k[4:]: v for k, v in environ.items() if k.startswith("IDP_")}
    for name in env:
        if name not in DEFAULTS:
            raise _unknown(name, "environment variable IDP_" + name)
    settings = dict(DEFAULTS)
    instance = overrides.get("INSTANCE_PATH") or env.get("INSTANCE_PATH") or DEFAULTS["INSTANCE_PATH"]
    config_file = os.path.join(instance, "config.toml")
    if os.path.exists(config_file):
        try:
            with open(config_file, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{config_file}: {e}") from None
        for name, value in data.items():
            if name not in DEFAULTS:
                raise _unknown(name, config_file)
            settings[name] = _coerce(name, value, config_file)
        # A file named in config.toml is found beside it, whatever the working folder: server and
        # CLI agree with nothing more than IDP_INSTANCE_PATH (README, Running it for real).
        for name in ("CLIENTS_FILE", "DATABASE"):
            if name in data and settings[name]:
                settings[name] = os.path.join(os.path.dirname(os.path.abspath(config_file)), settings[name])
    for name, value in env.items():
        settings[name] = _coerce(name, value, "environment variable IDP_" + name)
    _check_mail(settings, config_file, env)
    for name, value in overrides.items():
        if name in DEFAULTS:
            settings[name] = _coerce(name, value, "test settings")
    settings["INSTANCE_PATH"] = os.path.abspath(settings["INSTANCE_PATH"])
    settings["ISSUER"] = settings["ISSUER"].rstrip("/")
    _check_issuer(settings["ISSUER"])
    _check_branding(settings)
    if not settings["DATABASE"]:
        settings["DATABASE"] = os.path.join(settings["INSTANCE_PATH"], "idp.sqlite3")
    return settings


def _check_mail(settings, config_file, env):
    """The SMTP_* settings make sense together; the password never sits in a file."""
    if settings["SMTP_PASSWORD"] and "SMTP_PASSWORD" not in env:
        raise SettingsError(f"{config_file}: SMTP_PASSWORD is read from the environment only (IDP_SMTP_PASSWORD)")
    if settings["SMTP_SECURITY"] not in ("starttls", "tls", "none"):
        raise SettingsError(f"SMTP_SECURITY must be starttls, tls or none, not {settings['SMTP_SECURITY']!r}")
    if (settings["SMTP_SECURITY"] == "none" and settings["SMTP_USER"]
            and settings["SMTP_HOST"] not in ("127.0.0.1", "::1", "localhost")):
        raise SettingsError("SMTP_SECURITY = none would send SMTP_PASSWORD unencrypted to "
                            f"{settings['SMTP_HOST']}: use starttls or tls (none only for a server on this machine)")
    if settings["SMTP_HOST"] and "@" not in settings["SMTP_FROM"]:
        raise SettingsError("SMTP_FROM must be the address mail comes from (e.g. Latchkey <id@example.org>) "
                            "when SMTP_HOST is set")


def current():
    """The settings of the Latchkey serving the current request."""
    return current_app.extensions["latchkey_settings"]


def _check_issuer(issuer):
    """OIDC Discovery §3: the issuer is an https URL with no query or fragment (plain http is
    allowed on a loopback host, for local testing)."""
    try:
        parts = urlsplit(issuer)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if not parts or not parts.hostname or parts.query or parts.fragment or "#" in issuer or "?" in issuer:
        raise SettingsError(f"ISSUER must be a URL such as https://id.example.org, not {issuer!r}")
    if parts.scheme != "https" and not is_local_http(issuer):
        raise SettingsError(f"ISSUER must use https (plain http only on 127.0.0.1, [::1] or localhost), not {issuer!r}")


#: The image types LOGO may be (by file name ending), with their content types.
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp", ".gif": "image/gif", ".ico": "image/x-icon"}


def logo_problem(name):
    """Why LOGO cannot be `name`, or None: a plain image file name, never a path (so no setting
    can make Latchkey serve its signing key, its database or anything outside the instance folder)."""
    if name != os.path.basename(name) or "\\" in name or name in (".", "..") or name.startswith(".") \
            or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        return f"LOGO must be a plain file name inside the instance folder, such as logo.png, not {name!r}"
    if os.path.splitext(name)[1].lower() not in LOGO_TYPES:
        return f"LOGO must be an image ({', '.join(LOGO_TYPES)}), not {name!r}"
    return None


def _check_branding(settings):
    """SITE_NAME, LOGO and ACCENT_COLOR, read once at start so a page never meets a bad one."""
    name = settings["SITE_NAME"].strip()
    # One line for every reader: mail headers also break at U+0085, U+2028 and U+2029.
    if not name or len(name) > 80 or not name.isprintable() or len(name.splitlines()) != 1:
        raise SettingsError(f"SITE_NAME must be a name of 1 to 80 characters on one line, not {settings['SITE_NAME']!r}")
    settings["SITE_NAME"] = name
    if settings["LOGO"] and (problem := logo_problem(settings["LOGO"])):
        raise SettingsError(problem)
    color = settings["ACCENT_COLOR"].strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", color):
        raise SettingsError(f"ACCENT_COLOR must be a colour written #rgb or #rrggbb, such as #2b6cb0, not {color!r}")
    if len(color) == 4:
        color = "#" + "".join(c * 2 for c in color[1:])
    settings["ACCENT_COLOR"] = color.lower()


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_local_http(url):
    """True for an http URL on a loopback host (RFC 8252 §7.3): local, so TLS is not required."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
