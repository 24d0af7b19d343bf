"""clients.toml: load and validate the whitelist of apps, and keep it current while running."""

import hashlib
import hmac
import logging
import os
import re
import threading
import time
import tomllib

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list
from flask import request as flask_request

from . import apis, audit, private_key_jwt, throttle
from .passwords import FAST_PREFIX, is_slow_hash, verify_secret
from .redirect_uris import matches_any, registration_problem
from .toml_tables import check_keys, header_lines, key_line

log = logging.getLogger(__name__)

SUPPORTED_SCOPES = ("openid", "profile", "email", "groups", "offline_access")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")
GRANT_TYPES = ("authorization_code", "refresh_token")  # the default of grant_types
#: Grants for machines and devices (RFC 6749 §4.4, RFC 8628 §3.4): an app lists them in grant_types.
MACHINE_GRANT_TYPES = ("client_credentials", "urn:ietf:params:oauth:grant-type:device_code")
TTL_KEYS = ("access_token_ttl", "id_token_ttl", "refresh_token_ttl")
# OpenID Connect Registration §2: "web" (the default) or "native" (an app on the person's device).
APPLICATION_TYPES = ("web", "native")

#: Every key a [[clients]] table may hold, with the type it must have.
KEYS = {
    "client_id": str,
    "client_name": str,
    "client_secret": str,
    "client_secret_hash": str,
    "redirect_uris": list,
    "post_logout_redirect_uris": list,
    "token_endpoint_auth_method": str,
    "scope": str,
    "grant_types": list,
    "require_pkce": bool,
    "allowed_groups": list,
    "id_token_claims": bool,
    "application_type": str,
    "require_mfa": bool,
    # RFC 7591 §2: the app's logo (shown on Latchkey's pages) and home page (where its error pages lead back to).
    "logo_uri": str,
    "client_uri": str,
    **{k: int for k in TTL_KEYS},
    # OpenID Connect Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2 (their RFC 7591 names).
    "backchannel_logout_uri": str,
    "backchannel_logout_session_required": bool,
    "frontchannel_logout_uri": str,
    "frontchannel_logout_session_required": bool,
    "refresh_token_lifetime": str,
    # RFC 7591 §2: a private_key_jwt app's public keys, inline or at its URL (private_key_jwt.py).
    "jwks": dict,
    "jwks_uri": str,
}
#: The keys holding an app's logout addresses (signout.py tells the apps of an ended session there).
LOGOUT_URI_KEYS = ("backchannel_logout_uri", "frontchannel_logout_uri")
#: refresh_token_lifetime: "offline" (the default) outlives the browser session; "session" ends with it.
REFRESH_TOKEN_LIFETIMES = ("offline", "session")
#: The keys holding a web address a page shows or links to (RFC 7591 §2).
PAGE_URL_KEYS = ("logo_uri", "client_uri")
# https://host[:port][/…], or http on a loopback host; the host is plain letters, digits, dots and
# dashes, so the origin can be put into a page's Content-Security-Policy as it stands.
PAGE_URL = re.compile(r"(?P<origin>(?:https://[A-Za-z0-9.-]+|http://(?:127\.0\.0\.1|\[::1\]|localhost))"
                      r"(?::[1-9][0-9]{0,4})?)(?:[/?][!#-;=?-\[\]_a-z~]*)?")


def page_url_problem(key, uri):
    """Why `uri` cannot be the app's logo_uri or client_uri, or None."""
    if PAGE_URL.fullmatch(uri) is None:
        return (f"{key} must be an https URL (http only on 127.0.0.1, [::1] or localhost) without spaces, "
                f"quotes or backslashes, not {uri!r}")
    return None


def origin(uri):
    """scheme://host[:port] of an http(s) URI, read as strings (the part before the path)."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{re.split(r'[/?#]', rest, maxsplit=1)[0]}"


def logout_uri_problem(key, uri, redirect_uris):
    """Why `uri` cannot be the app's backchannel_logout_uri or frontchannel_logout_uri, or None. The
    rules of redirect URIs hold (redirect_uris.py: no fragment, no user name, no backslash, http
    only on a loopback host), and only http(s): Latchkey sends a notice there (Back-Channel Logout
    §2.2), or a browser loads it in a frame whose origin the page's frame-src names (Front-Channel
    Logout §2: the scheme, host and port of a registered redirect URI)."""
    if problem := registration_problem(uri):
        return f"{key}: {problem}"
    if not uri.startswith(("https://", "http://")):
        return f"{key} must be an https URL (http only on 127.0.0.1, [::1] or localhost), not {uri!r}"
    if key == "frontchannel_logout_uri":
        if PAGE_URL.fullmatch(uri) is None:
            return (f"{key}: the host of {uri!r} may hold only letters, digits, dots and dashes "
                    "(it goes into the page's Content-Security-Policy)")
        if origin(uri) not in {origin(r) for r in redirect_uris if r.startswith(("https://", "http://"))}:
            return (f"{key}: {uri!r} must be on the scheme, host and port of one of the app's redirect_uris "
                    "(Front-Channel Logout 1.0 §2)")
    return None


class ClientsFileError(Exception):
    """clients.toml cannot be used; `problems` lists each as 'file:line: what is wrong'."""

    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


class Client(ClientMixin):
    """One whitelisted app, as Authlib sees it."""

    def __init__(self, data, defaults, known_apis=None):
        self.client_id = data["client_id"]
        self.client_name = data.get("client_name", self.client_id)
        self.client_secret = data.get("client_secret")
        self.client_secret_hash = data.get("client_secret_hash")
        self.redirect_uris = list(data.get("redirect_uris", []))
        self.post_logout_redirect_uris = list(data.get("post_logout_redirect_uris", []))
        self.token_endpoint_auth_method = data.get("token_endpoint_auth_method", "client_secret_basic")
        self.scope = data.get("scope", "openid profile email")
        self.grant_types = list(data.get("grant_types", GRANT_TYPES))
        # {scope: Api} of the [[apis]] scopes this app may ask for (apis.py); empty for most apps.
        self.api_scopes = apis.for_client(self.scope, known_apis or {})
        self.jwks, self.jwks_uri = data.get("jwks"), data.get("jwks_uri")  # private_key_jwt.py
        self.is_public = self.token_endpoint_auth_method == "none"
        self.require_pkce = data.get("require_pkce", True) or self.is_public
        self.allowed_groups = list(data.get("allowed_groups", []))
        self.id_token_claims = data.get("id_token_claims", True)
        self.application_type = data.get("application_type", "web")
        # A code from this app needs a session with a second factor (signin/steps.py).
        self.require_mfa = data.get("require_mfa", False)
        self.logo_uri = data.get("logo_uri")  # RFC 7591 §2, shown on the pages that name the app
        self.client_uri = data.get("client_uri")  # RFC 7591 §2, the way back from an error page
        self.access_token_ttl = data.get("access_token_ttl", defaults["ACCESS_TOKEN_TTL"])
        self.id_token_ttl = data.get("id_token_ttl", defaults["ID_TOKEN_TTL"])
        self.refresh_token_ttl = data.get("refresh_token_ttl", defaults["REFRESH_TOKEN_TTL"])
        # "session": this app's refresh tokens end with the browser session they came from (signout.py).
        self.refresh_token_lifetime = data.get("refresh_token_lifetime", "offline")
        # Where the apps of an ended session are told (backchannel_logout.py, frontchannel_logout.py).
        self.backchannel_logout_uri = data.get("backchannel_logout_uri")
        self.backchannel_logout_session_required = data.get("backchannel_logout_session_required", False)
        self.frontchannel_logout_uri = data.get("frontchannel_logout_uri")
        self.frontchannel_logout_session_required = data.get("frontchannel_logout_session_required", False)
        self.client_metadata = {"post_logout_redirect_uris": self.post_logout_redirect_uris}
        self._verified_secret_digest = None

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # RFC 6749 §3.1.2.3: redirect_uri may be left out only when exactly one is registered.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope):
        """The requested scopes this client may have; others are ignored (OIDC Core §3.1.2.1)."""
        allowed = scope_to_list(self.scope)
        return list_to_scope([s for s in scope_to_list(scope or "") if s in allowed])

    def check_redirect_uri(self, redirect_uri):
        """String for string (RFC 9700 §4.1.3); a native app's loopback port may differ (RFC 8252
        §7.3). The rule itself lives in redirect_uris.py."""
        return matches_any(self.redirect_uris, redirect_uri, self.application_type == "native")

    def check_post_logout_redirect_uri(self, uri):
        """RP-Initiated Logout §3: the same rule as for redirect URIs."""
        return matches_any(self.post_logout_redirect_uris, uri, self.application_type == "native")

    def check_client_secret(self, client_secret):
        """Check a presented secret. A secret already verified against an argon2 hash is
        remembered as a SHA-256 digest, so repeated token requests cost no argon2 run; failures
        are counted per client, and while they must wait no argon2 run is spent on them
        (throttle.py), so wrong secrets cannot buy a server's CPU."""
        digest = hashlib.sha256(client_secret.encode("utf-8")).digest()
        if self._verified_secret_digest is not None:
            ok = hmac.compare_digest(digest, self._verified_secret_digest)
        elif self.client_secret is not None:
            ok = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        elif self.client_secret_hash is not None and not is_slow_hash(self.client_secret_hash):
            ok = verify_secret(self.client_secret_hash, client_secret)
        elif self.client_secret_hash is not None:
            return self._check_slowly(client_secret, digest)
        else:
            return False
        return ok

    def _check_slowly(self, client_secret, digest):
        """An argon2 check, unless this app has failed too often from this address lately. Failures
        are counted after the check (not before, as for passwords): several workers checking the
        right secret at once must not hold each other up, and guessing a random secret is hopeless
        anyway; what is limited here is the CPU that wrong secrets cost."""
        keys = throttle.client_keys(self.client_id, flask_request.remote_addr or "unknown")
        if wait := throttle.wait_seconds(keys):
            audit.event("client_auth_throttled", client=self.client_id, wait=wait)
            return False
        if not verify_secret(self.client_secret_hash, client_secret):
            throttle.count_failure(keys)
            return False
        throttle.record_success(keys)
        self._verified_secret_digest = digest
        return True

    def check_endpoint_auth_method(self, method, endpoint):
        """Each client authenticates only by its registered method."""
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types

    def may_sign_in(self, groups):
        """allowed_groups: when set, only members of one of them may sign in to this app."""
        return not self.allowed_groups or bool(set(self.allowed_groups) & set(groups))


def _check_client(data, problems_at, api_scopes=()):
    """Validate one [[clients]] table; `problems_at(key, message)` records a problem. `api_scopes`:
    the scopes of the file's [[apis]]."""
    if not check_keys(data, KEYS, problems_at):
        return
    grants = data.get("grant_types", GRANT_TYPES)
    for key in ("client_id", "redirect_uris") if "authorization_code" in grants else ("client_id",):
        if not data.get(key):
            problems_at(None, f"missing {key}")
    for key in ("redirect_uris", "post_logout_redirect_uris"):
        for uri in data.get(key, []):
            if problem := registration_problem(uri):
                problems_at(key, problem)
    for key in PAGE_URL_KEYS:
        if isinstance(data.get(key), str) and (problem := page_url_problem(key, data[key])):
            problems_at(key, problem)
    for key in LOGOUT_URI_KEYS:
        redirect_uris = [u for u in data.get("redirect_uris", []) if isinstance(u, str)]
        if isinstance(data.get(key), str) and (problem := logout_uri_problem(key, data[key], redirect_uris)):
            problems_at(key, problem)
        if f"{key[:-4]}_session_required" in data and key not in data:
            problems_at(f"{key[:-4]}_session_required", f"{key[:-4]}_session_required needs {key}")
    if data.get("refresh_token_lifetime", "offline") not in REFRESH_TOKEN_LIFETIMES:
        problems_at("refresh_token_lifetime", "refresh_token_lifetime must be \"offline\" (the default: refresh "
                                              "tokens outlive the browser session) or \"session\" (they end with it)")
    if data.get("application_type", "web") not in APPLICATION_TYPES:
        problems_at("application_type", f"application_type must be one of {', '.join(APPLICATION_TYPES)}")
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    has_secret = "client_secret" in data or "client_secret_hash" in data
    if method not in AUTH_METHODS:
        problems_at("token_endpoint_auth_method", f"unknown token_endpoint_auth_method {method!r}; use one of {', '.join(AUTH_METHODS)}")
    elif method == "none" and has_secret:
        problems_at("token_endpoint_auth_method", "a public client (token_endpoint_auth_method = \"none\") must not have a secret")
    elif method not in ("none", private_key_jwt.METHOD) and not has_secret:
        problems_at("token_endpoint_auth_method", f"a confidential client ({method}) needs client_secret_hash; make one with `flask client secret`")
    if method == "none" and data.get("require_pkce") is False:
        problems_at("require_pkce", "a public client cannot turn PKCE off (RFC 9700 §2.1.1)")
    if "client_secret" in data and "client_secret_hash" in data:
        problems_at("client_secret", "give client_secret_hash or client_secret, not both")
    secret_hash = data.get("client_secret_hash", "$argon2id$")
    if not (secret_hash.startswith("$argon2") or re.fullmatch(re.escape(FAST_PREFIX) + "[0-9a-f]{64}", secret_hash)):
        problems_at("client_secret_hash", "client_secret_hash must be the line `flask client secret` prints "
                                          "($sha256$… or an older $argon2id$…)")
    for scope in scope_to_list(data.get("scope", "openid")):
        if scope not in SUPPORTED_SCOPES and scope not in api_scopes:
            problems_at("scope", f"unknown scope {scope!r}; supported: {' '.join(SUPPORTED_SCOPES)}, "
                                 "and the scopes of the [[apis]] tables")
    for grant in grants:
        if grant not in GRANT_TYPES + MACHINE_GRANT_TYPES:
            problems_at("grant_types", f"unknown grant type {grant!r}; supported: "
                                       f"{', '.join(GRANT_TYPES + MACHINE_GRANT_TYPES)}")
    api_scope_listed = set(scope_to_list(data.get("scope", ""))) & set(api_scopes)
    if "client_credentials" in grants and (method == "none" or not api_scope_listed):
        problems_at("grant_types", "client_credentials is for a confidential app (RFC 6749 §4.4) whose scope "
                                   "lists scopes of an [[apis]] table")
    for key, message in private_key_jwt.registration_problems(data):
        problems_at(key, message)
    for key in TTL_KEYS:
        if key in data and data[key] <= 0:
            problems_at(key, f"{key} must be greater than 0")
    for key in ("allowed_groups", "redirect_uris", "post_logout_redirect_uris", "grant_types"):
        if not all(isinstance(v, str) for v in data.get(key, [])):
            problems_at(key, f"{key} must be a list of strings")


def parse(path, defaults):
    """Read and validate clients.toml; return {client_id: Client} or raise ClientsFileError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ClientsFileError([f"{path}: cannot read the clients file: {e.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ClientsFileError([f"{path}:1: the file is not UTF-8"]) from None
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        raise ClientsFileError([f"{path}:{line.group(1) if line else 1}: TOML syntax error: {e}"]) from None
    problems = []
    for key in data:
        if key not in ("clients", "apis"):
            problems.append(f"{path}:1: unknown top-level key {key!r}; each app is a [[clients]] table, "
                            "each API an [[apis]] table")
    known_apis, api_problems = apis.parse(data.get("apis", []), text, path)
    problems += api_problems
    api_scopes = {s for api in known_apis.values() for s in api.scopes}
    tables = data.get("clients", [])
    if not isinstance(tables, list):
        raise ClientsFileError(problems + [f"{path}:1: write each app as a [[clients]] table"])
    headers = header_lines(text, "clients")
    clients = {}
    for index, table in enumerate(tables):
        start = headers[index] if index < len(headers) else 1

        def problems_at(key, message, start=start):
            line = key_line(text, start, key) if key else start
            problems.append(f"{path}:{line}: {message}")

        _check_client(table, problems_at, api_scopes)
        client_id = table.get("client_id")
        if isinstance(client_id, str) and client_id in clients:
            problems_at("client_id", f"duplicate client_id {client_id!r}")
        if not problems:
            clients[client_id] = Client(table, defaults, known_apis)
    if problems:
        raise ClientsFileError(problems)
    return clients


class ClientRegistry:
    """The whitelist in use. Re-reads clients.toml when it changes (checked at most once a
    second); an invalid edit is logged and the last good whitelist stays in force."""

    CHECK_INTERVAL = 1.0

    def __init__(self, path, defaults, for_admin_command=False):
        """`for_admin_command`: the app serves a `flask user …` command, which needs no clients;
        a broken file then leaves the whitelist empty, and nothing is warned about."""
        self.path = path
        self.defaults = defaults
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._next_check = time.monotonic() + self.CHECK_INTERVAL
        try:
            self.clients = parse(path, defaults)
        except ClientsFileError:
            if not for_admin_command:
                raise
            self.clients = {}
        for client in self.clients.values() if not for_admin_command else ():
            if client.client_secret is not None:
                log.warning(
                    "client %r has a plaintext client_secret in %s: fine for local testing, "
                    "use client_secret_hash in production",
                    client.client_id,
                    path,
                )

    def _file_stamp(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return None

    def refresh(self):
        """Reload the file if it changed since the last look."""
        now = time.monotonic()
        if now < self._next_check:
            return
        with self._lock:
            self._next_check = now + self.CHECK_INTERVAL
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self.clients = parse(self.path, self.defaults)
            except ClientsFileError as e:
                log.error("clients file changed but is invalid; keeping the last good whitelist:\n%s", e)
                return
            log.info("reloaded %s: %d clients", self.path, len(self.clients))

    def get(self, client_id):
        self.refresh()
        if not isinstance(client_id, str):
            return None
        return self.clients.get(client_id)
